//! Reading the fields the operator owns outside the template, where the stack's outputs
//! say they live: both services, Open WebUI's autoscaling, LiteLLM's two config objects
//! (and Bedrock's model lists when a new config is due), the backup plan. The reads of
//! one pass run concurrently.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    LiveOwned, ModelCatalog, Selections, config_sha256, describe_backup_with, describe_scaling,
    describe_services, foundation_models, scaling_resource_id,
};
use crate::Result;
use crate::aws::Clients;
use crate::context::Context;
use crate::render::{LiteLlmDesired, Outputs, OwnedDesired};

/// An endpoint that answered it has no ListBackupSelections is not asked every pass.
const LIST_SELECTIONS: &str = "ListBackupSelections";

/// Bedrock's models in `region`, said once when the endpoint cannot list them.
async fn catalog(ctx: &Context, clients: &Clients, region: &str) -> Result<ModelCatalog> {
    let bedrock = if region == clients.region {
        clients.bedrock.clone()
    } else {
        ctx.clients(region, &clients.counter).bedrock
    };
    let catalog = foundation_models(&bedrock, region).await?;
    if let ModelCatalog::Unavailable { reason } = &catalog
        && ctx.first_time("bedrock-list-unavailable")
    {
        tracing::warn!(%reason, "cannot check model ids: the endpoint does not list Bedrock models; pushing unchecked (said once)");
    }
    Ok(catalog)
}

/// The config objects' sha256 (`None` when either is missing, `""` when they disagree),
/// and Bedrock's model list in each region the config calls when that config is about to
/// be pushed (the ids are checked then, in the plan).
pub async fn litellm_config(
    ctx: &Context,
    clients: &Clients,
    outputs: &Outputs,
    want: &LiteLlmDesired,
) -> Result<(Option<String>, BTreeMap<String, ModelCatalog>)> {
    // Both objects: LiteLLM's chat process and its image process each read their own at
    // start, and either may have gone missing on its own.
    let (chat, images) = tokio::join!(
        config_sha256(clients, &outputs.config_bucket, &outputs.config_key),
        config_sha256(clients, &outputs.config_bucket, &outputs.images_config_key),
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

/// Everything the owned concerns' planners compare with `want`. `verified_backup` is a
/// backup plan version found matching earlier, which need not be read again.
pub async fn owned(
    ctx: &Context,
    clients: &Clients,
    outputs: &Outputs,
    want: &OwnedDesired,
    verified_backup: Option<&str>,
) -> Result<LiveOwned> {
    let scaling_id = scaling_resource_id(&outputs.cluster, &outputs.openwebui_service);
    let selections_unimplemented = ctx.unimplemented(LIST_SELECTIONS);
    let (services, scaling, config, backup) = tokio::join!(
        describe_services(
            clients,
            &outputs.cluster,
            [&outputs.openwebui_service, &outputs.litellm_service]
        ),
        describe_scaling(
            clients,
            &scaling_id,
            want.services.openwebui_autoscaling.is_some()
        ),
        litellm_config(ctx, clients, outputs, &want.litellm),
        describe_backup_with(
            clients,
            &want.backup.plan.backup_plan_name,
            verified_backup,
            selections_unimplemented.as_deref(),
        ),
    );
    let [openwebui, litellm] = services?;
    let backup = backup?;
    if let Selections::Unavailable { reason } = &backup.selections
        && ctx.set_unimplemented(LIST_SELECTIONS, reason)
    {
        tracing::warn!(%reason, "backup selections cannot be read on this endpoint; they are not checked, nor asked for again (said once)");
    }
    let (config_sha256, models) = config?;
    Ok(LiveOwned {
        openwebui,
        litellm,
        scaling: scaling?,
        config_sha256,
        models,
        backup,
    })
}
