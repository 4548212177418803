//! The owned fields' part of a pass: where they live (the stack's outputs), what the
//! desired state wants of them, their live state, and the plan that closes the gap. Also
//! the guard before a stack update: LiteLLM's config must be in S3 when a task may start.

use std::collections::{BTreeMap, BTreeSet};

use super::Readiness;
use crate::aws::Clients;
use crate::context::Context;
use crate::desired::ImageChatStack;
use crate::observe::{self, LiveOwned, LiveService, LiveStack, ModelCatalog};
use crate::plan::{self, Action, Plan};
use crate::render::{self, Outputs, OwnedDesired, RenderedStack};
use crate::{Error, Result};

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
    let want =
        render::owned(doc, &desired.parameters, &outputs).map_err(|message| Error::Render {
            what: "owned fields",
            message,
        })?;
    Ok(Some((outputs, want)))
}

/// Bedrock's models in the config's region, said once when the endpoint cannot list them.
async fn catalog(ctx: &Context, clients: &Clients, region: &str) -> Result<ModelCatalog> {
    let bedrock = if region == clients.region {
        clients.bedrock.clone()
    } else {
        ctx.clients(region, &clients.counter).bedrock
    };
    let catalog = observe::foundation_models(&bedrock, region).await?;
    if let ModelCatalog::Unavailable { reason } = &catalog
        && ctx.first_time("bedrock-list-unavailable")
    {
        tracing::warn!(%reason, "cannot check model ids: the endpoint does not list Bedrock models; pushing unchecked (said once)");
    }
    Ok(catalog)
}

/// The config object's sha256, and Bedrock's model list in each region the config calls
/// when that config is about to be pushed (the ids are checked then, in the plan).
async fn config(
    ctx: &Context,
    clients: &Clients,
    outputs: &Outputs,
    want: &OwnedDesired,
) -> Result<(Option<String>, BTreeMap<String, ModelCatalog>)> {
    // Both objects: LiteLLM's chat process and its image process each read their own at
    // start, and either may have gone missing on its own.
    let (chat, images) = tokio::join!(
        observe::config_sha256(clients, &outputs.config_bucket, &outputs.config_key),
        observe::config_sha256(clients, &outputs.config_bucket, &outputs.images_config_key),
    );
    let sha = match (chat?, images?) {
        (Some(a), Some(b)) if a == b => Some(a),
        (Some(_), Some(_)) => Some(String::new()),
        _ => None,
    };
    let mut catalogs = BTreeMap::new();
    if sha.as_deref() != Some(want.config_sha256.as_str()) {
        let regions: BTreeSet<&str> = want
            .bedrock_models
            .iter()
            .map(|m| m.region.as_str())
            .collect();
        let read =
            futures::future::join_all(regions.iter().map(|r| catalog(ctx, clients, r))).await;
        for (region, listed) in regions.into_iter().zip(read) {
            catalogs.insert(region.to_string(), listed?);
        }
    }
    Ok((sha, catalogs))
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
    let (sha, models) = config(ctx, clients, &outputs, &want).await?;
    plan::restore_config(plan, &want, &outputs, sha.as_deref(), &models);
    Ok(())
}

/// Observes and plans the owned fields once the stack is settled and has its outputs;
/// returns the actions to execute and whether both services run as they should.
pub(super) async fn plan_owned(
    doc: &ImageChatStack,
    desired: &RenderedStack,
    stack: Option<&LiveStack>,
    ctx: &Context,
    clients: &Clients,
    key: &str,
    plan: &mut Plan,
) -> Result<(Vec<Action>, Option<Readiness>)> {
    let Some((outputs, want)) = target(doc, desired, stack, plan)? else {
        return Ok((Vec::new(), None));
    };
    // A backup plan version read before, for this same desired plan, need not be read again.
    let verified = ctx
        .history(key)
        .backup_verified
        .filter(|(_, sha)| *sha == want.backup_plan_sha256)
        .map(|(version, _)| version);
    let scaling_id = observe::scaling_resource_id(&outputs.cluster, &outputs.openwebui_service);
    // An endpoint that answered it has no ListBackupSelections is not asked every pass.
    const LIST_SELECTIONS: &str = "ListBackupSelections";
    let selections_unimplemented = ctx.unimplemented(LIST_SELECTIONS);
    let (services, scaling, config, backup) = tokio::join!(
        observe::describe_services(
            clients,
            &outputs.cluster,
            [&outputs.openwebui_service, &outputs.litellm_service]
        ),
        observe::describe_scaling(clients, &scaling_id, want.openwebui_autoscaling.is_some()),
        config(ctx, clients, &outputs, &want),
        observe::describe_backup_with(
            clients,
            &want.backup_plan.backup_plan_name,
            verified.as_deref(),
            selections_unimplemented.as_deref(),
        ),
    );
    let [openwebui, litellm] = services?;
    let backup = backup?;
    if let observe::Selections::Unavailable { reason } = &backup.selections
        && ctx.set_unimplemented(LIST_SELECTIONS, reason)
    {
        tracing::warn!(%reason, "backup selections cannot be read on this endpoint; they are not checked, nor asked for again (said once)");
    }
    let ready = readiness(&[("Open WebUI", &openwebui), ("LiteLLM", &litellm)]);
    let (config_sha256, models) = config?;
    let live = LiveOwned {
        openwebui,
        litellm,
        scaling: scaling?,
        config_sha256,
        models,
        backup,
    };
    // Planned apart from the stack's actions, which have run by now.
    let mut owned = plan.clone();
    owned.actions.clear();
    owned.problems.clear();
    owned.notes.clear();
    plan::plan_owned(&mut owned, &want, &outputs, &live);
    // A plan version read in full and found right is remembered for the next passes.
    let backup_in_sync = !owned
        .actions
        .iter()
        .any(|a| a.kind.concern() == plan::Concern::Backup);
    if let Some(p) = &live.backup.plan
        && backup_in_sync
        && p.details.as_ref().is_some_and(|d| d.managed)
    {
        let entry = (p.version_id.clone(), want.backup_plan_sha256.clone());
        ctx.update_history(key, |h| h.backup_verified = Some(entry));
    }
    plan.actions.extend(owned.actions.iter().cloned());
    plan.problems.extend(owned.problems);
    plan.notes.extend(owned.notes);
    Ok((owned.actions, Some(ready)))
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
