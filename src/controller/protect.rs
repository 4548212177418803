//! The data-protection part of a pass: the stack policy read when it is due (the drift
//! interval, or not yet seen as desired on this stack), and what a previewed update
//! would lose.

use crate::Result;
use crate::aws::Clients;
use crate::context::Context;
use crate::observe::{self, LiveStack, PolicyRead};
use crate::plan::changes::ResourceChanges;
use crate::plan::{ActionKind, Plan};
use crate::render::{sha256_hex, stack_policy};

/// Reads the stack policy when due, and remembers when it is the operator's: a steady
/// stack costs no read for it but on the drift interval.
pub(super) async fn read_stack_policy(
    stack: &LiveStack,
    ctx: &Context,
    clients: &Clients,
    key: &str,
    recheck: bool,
) -> Result<PolicyRead> {
    let want = stack_policy(&[]);
    let memo = format!("{}#{}", stack.id, sha256_hex(want.as_bytes()));
    if !recheck && ctx.history(key).stack_policy_verified.as_deref() == Some(memo.as_str()) {
        return Ok(PolicyRead::NotRead);
    }
    let body = observe::stack_policy(clients, &stack.id).await?;
    let same = crate::plan::is_operators_policy(body.as_deref());
    ctx.update_history(key, |h| {
        h.stack_policy_verified = same.then(|| memo.clone());
    });
    Ok(PolicyRead::Read(body))
}

/// A previewed update that would lose data the document does not allow is shown as
/// what `apply` would refuse.
pub(super) fn refuse_data_loss(plan: &mut Plan) {
    let Some(ResourceChanges::ChangeSet { changes, .. }) = &plan.resource_changes else {
        return;
    };
    let allow = plan.actions.iter().find_map(|a| match &a.kind {
        ActionKind::UpdateStack {
            allow_data_loss, ..
        } => Some(allow_data_loss.clone()),
        _ => None,
    });
    let (refused, allowed) = crate::plan::data_loss(changes, &allow.unwrap_or_default());
    if !refused.is_empty() {
        plan.problems.push(format!(
            "apply refuses this update: it would replace or delete what holds data: {}; change the document, or list the resource in spec.policy.allowDataLoss for this one change",
            refused.join(", ")
        ));
    }
    if !allowed.is_empty() {
        plan.notes.push(format!(
            "spec.policy.allowDataLoss allows this update to replace or delete: {}; the stack policy is opened for it during the update, then restored",
            allowed.join(", ")
        ));
    }
}
