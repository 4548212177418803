//! act: executes a plan's actions one at a time, in order, logging each; stops at the
//! first failure (later actions depend on earlier ones). One module per AWS concern.

mod stack;

use serde::Serialize;

use crate::Result;
use crate::aws::Clients;
use crate::context::Context;
use crate::plan::{Action, Plan};

/// How a pass treats its plan: passed down as a value rather than checked in many places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    /// Make AWS match the plan.
    Enforce,
    /// Report only (the `plan` command, `policy.mode: observe`, a non-leader daemon).
    DryRun,
}

/// What executing one action did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub action: String,
    /// `done`, or `no-op` when AWS found nothing to change.
    pub result: &'static str,
}

/// Executes `plan` under `strategy`; returns what was done, or the first error.
pub async fn execute(
    plan: &Plan,
    strategy: Strategy,
    ctx: &Context,
    clients: &Clients,
) -> Result<Vec<Applied>> {
    let mut applied = Vec::new();
    if strategy == Strategy::DryRun {
        return Ok(applied);
    }
    for action in &plan.actions {
        tracing::info!(
            stack = %plan.name,
            action = action_name(action),
            reason = %action.reason,
            "applying"
        );
        let result = stack::execute(action, plan, ctx, clients).await?;
        applied.push(Applied {
            action: action_name(action).to_string(),
            result,
        });
    }
    Ok(applied)
}

pub fn action_name(action: &Action) -> &'static str {
    use crate::plan::ActionKind::*;
    match action.kind {
        CreateStack { .. } => "CreateStack",
        UpdateStack { .. } => "UpdateStack",
        EnableTerminationProtection => "EnableTerminationProtection",
        ContinueUpdateRollback { .. } => "ContinueUpdateRollback",
        DeleteFailedStack { .. } => "DeleteFailedStack",
    }
}
