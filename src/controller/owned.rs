//! The owned fields' part of a pass: where they live (the stack's outputs), what the
//! desired state wants of them, their live state, and the plan that closes the gap. Also
//! the guard before a stack update: LiteLLM's config must be in S3 when a task may start.

use sha2::Digest;

use super::Readiness;
use crate::Result;
use crate::aws::Clients;
use crate::context::Context;
use crate::desired::ImageChatStack;
use crate::observe::health::{self, HealthDepth, HealthTarget};
use crate::observe::{self, LiveService, LiveStack};
use crate::plan::health::Health;
use crate::plan::{self, Action, Plan};
use crate::render::{self, Outputs, OwnedDesired, RenderedStack};

/// Where the owned fields live and what is wanted of them; `None` (with a note or a
/// problem on the plan) when the stack is missing, busy or lacks outputs.
fn target(
    doc: &ImageChatStack,
    desired: &RenderedStack,
    stack: Option<&LiveStack>,
    plan: &mut Plan,
) -> Result<Option<(Outputs, OwnedDesired)>> {
    let Some(stack) = stack.filter(|s| !s.status.ends_with("_IN_PROGRESS")) else {
        plan.notes.push(match stack {
            None => "counts, model config and backup plan follow once the stack exists".to_string(),
            Some(s) => format!(
                "counts, model config and backup plan wait for the stack ({})",
                s.status
            ),
        });
        return Ok(None);
    };
    let outputs = match Outputs::from_stack(&stack.outputs) {
        Ok(o) => o,
        Err(missing) => {
            plan.problems.push(format!(
                "the stack has no output {}; counts, model config and backup plan cannot be managed",
                missing.join(", ")
            ));
            return Ok(None);
        }
    };
    let want = render::owned(doc, &desired.parameters, &outputs)?;
    Ok(Some((outputs, want)))
}

/// Before a stack update (which may start LiteLLM tasks), a config object gone missing
/// is written back first: one HeadObject on passes that update the stack, none otherwise.
pub(super) async fn guard_config(
    doc: &ImageChatStack,
    desired: &RenderedStack,
    stack: Option<&LiveStack>,
    ctx: &Context,
    clients: &Clients,
    plan: &mut Plan,
) -> Result<()> {
    let updates = plan
        .actions
        .iter()
        .any(|a| matches!(a.kind, plan::ActionKind::UpdateStack { .. }));
    if !updates {
        return Ok(());
    }
    // The notes of an unreachable target belong to the owned step, which says them.
    let mut scratch = plan.clone();
    let Some((outputs, want)) = target(doc, desired, stack, &mut scratch)? else {
        return Ok(());
    };
    let (sha, models) = observe::litellm_config(ctx, clients, &outputs, &want.litellm).await?;
    plan::restore_config(plan, &want.litellm, &outputs, sha.as_deref(), &models);
    Ok(())
}

/// What the owned step found: the actions to execute, whether both services run as they
/// should, and the stack's health.
pub(super) struct OwnedStep {
    pub actions: Vec<Action>,
    pub ready: Option<Readiness>,
    pub health: Option<Health>,
}

/// Observes and plans the owned fields once the stack is settled and has its outputs,
/// and reads the stack's health to `depth`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn plan_owned(
    doc: &ImageChatStack,
    desired: &RenderedStack,
    stack: Option<&LiveStack>,
    ctx: &Context,
    clients: &Clients,
    key: &str,
    plan: &mut Plan,
    depth: HealthDepth,
) -> Result<OwnedStep> {
    let Some((outputs, want)) = target(doc, desired, stack, plan)? else {
        return Ok(OwnedStep {
            actions: Vec::new(),
            ready: None,
            health: None,
        });
    };
    // A backup plan version read before, for this same desired plan, need not be read again.
    let verified = ctx
        .history(key)
        .backup_verified
        .filter(|(_, sha)| *sha == want.backup.plan_sha256)
        .map(|(version, _)| version);
    let live = observe::owned(ctx, clients, &outputs, &want, verified.as_deref()).await?;
    let ready = readiness(&[("Open WebUI", &live.openwebui), ("LiteLLM", &live.litellm)]);
    let owned = plan::plan_owned(&want, &outputs, &live);
    // A plan version read in full and found right is remembered for the next passes.
    let backup_in_sync = !owned
        .actions
        .iter()
        .any(|a| a.kind.concern() == plan::Concern::Backup);
    if let Some(p) = &live.backup.plan
        && backup_in_sync
        && p.details.as_ref().is_some_and(|d| d.managed)
    {
        let entry = (p.version_id.clone(), want.backup.plan_sha256.clone());
        ctx.update_history(key, |h| h.backup_verified = Some(entry));
    }
    let actions = owned.actions.clone();
    plan.add(owned);
    let health = read_health(doc, desired, stack, &outputs, &live, ctx, clients, depth).await;
    Ok(OwnedStep {
        actions,
        ready: Some(ready),
        health: Some(health),
    })
}

/// The stack's health, judged: the services from this pass's read; with `Full`, every
/// other component too.
#[allow(clippy::too_many_arguments)]
async fn read_health(
    doc: &ImageChatStack,
    desired: &RenderedStack,
    stack: Option<&LiveStack>,
    outputs: &Outputs,
    live: &crate::observe::LiveOwned,
    ctx: &Context,
    clients: &Clients,
    depth: HealthDepth,
) -> Health {
    let bedrock_region = desired
        .parameters
        .get("BedrockRegion")
        .map_or(doc.spec.region.as_str(), String::as_str);
    let models = doc
        .spec
        .models
        .iter()
        .map(|m| {
            (
                m.model_id.clone(),
                m.region_or(bedrock_region).to_string(),
                m.kind == crate::desired::ModelType::Text,
            )
        })
        .collect();
    // What identifies the stack's state: its last change, and (should an endpoint not
    // move LastUpdatedTime) its parameters and tags, which every update of ours changes.
    let version = stack
        .map(|s| {
            let state = format!("{:?}{:?}", s.parameters, s.tags);
            let digest = hex::encode(&sha2::Sha256::digest(state.as_bytes())[..8]);
            format!("{}@{}#{digest}", s.id, s.last_changed)
        })
        .unwrap_or_default();
    let target = HealthTarget {
        region: &desired.region,
        stack_name: &desired.stack_name,
        stack_version: &version,
        cluster: &outputs.cluster,
        services: [
            (
                "openwebui",
                &outputs.openwebui_service,
                live.openwebui.clone(),
            ),
            ("litellm", &outputs.litellm_service, live.litellm.clone()),
        ],
        file_system_id: stack
            .and_then(|s| s.outputs.get("FileSystemId"))
            .map(String::as_str),
        models,
    };
    let facts = health::observe_health(ctx, clients, target, depth).await;
    let pull_through = desired
        .parameters
        .get("ImagePullMode")
        .is_some_and(|m| m == "pull-through");
    crate::plan::health::judge(&facts, pull_through)
}

/// Ready when every service is ACTIVE and runs as many tasks as it should.
fn readiness(services: &[(&str, &Option<LiveService>)]) -> Readiness {
    let mut ok = true;
    let parts: Vec<String> = services
        .iter()
        .map(|(what, svc)| match svc {
            Some(s) if s.status == "ACTIVE" => {
                ok &= s.running >= s.desired;
                format!("{what} {}/{} running", s.running, s.desired)
            }
            Some(s) => {
                ok = false;
                format!("{what} {}", s.status)
            }
            None => {
                ok = false;
                format!("{what} missing")
            }
        })
        .collect();
    (ok, parts.join(", "))
}
