//! LiteLLM's model config: check the model ids against Bedrock, upload the config, then
//! redeploy LiteLLM (it reads the config only at start) and record what it runs.

use std::collections::BTreeMap;

use aws_sdk_bedrock::types::FoundationModelLifecycleStatus;
use aws_sdk_ecs::types::Tag;
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::{self, Clients};
use crate::context::Context;
use crate::observe::SHA256_METADATA;
use crate::plan::{Action, ActionKind, CONFIG_TAG};
use crate::render::LITELLM_CONFIG_CONTENT_TYPE;
use crate::{Error, Result};

/// Cross-region inference profile prefixes: `us.anthropic.…` routes to the foundation
/// model `anthropic.…`, which is what ListFoundationModels lists.
const PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.",
];

pub(super) async fn execute(
    action: &Action,
    ctx: &Context,
    clients: &Clients,
) -> Result<&'static str> {
    match &action.kind {
        ActionKind::PushModelConfig {
            bucket,
            key,
            sha256,
            body,
            model_ids,
            bedrock_region,
            ..
        } => {
            check_models(ctx, clients, model_ids, bedrock_region).await?;
            clients
                .s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(LITELLM_CONFIG_CONTENT_TYPE)
                .metadata(SHA256_METADATA, sha256)
                .body(ByteStream::from(body.clone().into_bytes()))
                .send()
                .await
                .map_err(|e| aws::error("S3", "PutObject", format!("s3://{bucket}/{key}"), e))?;
            Ok("done")
        }
        ActionKind::RedeployLiteLlm {
            cluster,
            service,
            service_arn,
            sha256,
            ..
        } => {
            clients
                .ecs
                .update_service()
                .cluster(cluster)
                .service(service)
                .force_new_deployment(true)
                .send()
                .await
                .map_err(|e| aws::error("ECS", "UpdateService", service.as_str(), e))?;
            // Tagged after the deployment started: if the tag call fails, the next pass
            // redeploys again rather than believing an old task runs the new config.
            let tag = Tag::builder().key(CONFIG_TAG).value(sha256).build();
            clients
                .ecs
                .tag_resource()
                .resource_arn(service_arn)
                .tags(tag)
                .send()
                .await
                .map_err(|e| aws::error("ECS", "TagResource", service.as_str(), e))?;
            Ok("done")
        }
        other => Err(super::misrouted(other)),
    }
}

/// Refuses model ids Bedrock does not offer in `region`; warns about LEGACY ones. Where
/// the endpoint cannot list models, says so once and lets the push go on.
async fn check_models(
    ctx: &Context,
    clients: &Clients,
    ids: &[String],
    region: &str,
) -> Result<()> {
    let bedrock = if region == clients.region {
        clients.bedrock.clone()
    } else {
        ctx.clients(region, &clients.counter).bedrock
    };
    let listed = match bedrock.list_foundation_models().send().await {
        Ok(out) => out,
        Err(e) => {
            let err = aws::error("Bedrock", "ListFoundationModels", region, e);
            if err.is_unimplemented() {
                if ctx.first_time("bedrock-list-unavailable") {
                    tracing::warn!(error = %err, "cannot check model ids: the endpoint does not list Bedrock models; pushing unchecked (said once)");
                }
                return Ok(());
            }
            return Err(err);
        }
    };
    let known: BTreeMap<&str, Option<&FoundationModelLifecycleStatus>> = listed
        .model_summaries()
        .iter()
        .map(|m| (m.model_id(), m.model_lifecycle().map(|l| l.status())))
        .collect();
    let mut unknown = Vec::new();
    for id in ids {
        let base = PROFILE_PREFIXES
            .iter()
            .find_map(|p| id.strip_prefix(p))
            .unwrap_or(id);
        match known.get(base) {
            None => unknown.push(id.as_str()),
            Some(Some(FoundationModelLifecycleStatus::Legacy)) => tracing::warn!(
                model_id = %id,
                region,
                "Bedrock marks this model LEGACY: it still works but will be retired; plan a replacement"
            ),
            Some(_) => {}
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Model {
            region: region.to_string(),
            ids: unknown.join(", "),
        })
    }
}
