//! LiteLLM: upload its config (the model ids were checked against Bedrock when
//! planning), then redeploy it (it reads the config only at start) and record what it
//! runs. Its task count goes through `services`, after these, in the same concern.

use super::Effect;
use aws_sdk_ecs::types::Tag;
use aws_sdk_s3::primitives::ByteStream;

use crate::Result;
use crate::aws::{self, Clients};
use crate::names::{CONFIG_TAG, SHA256_METADATA};
use crate::plan::{Action, ActionKind, ConfigPush};
use crate::render::LITELLM_CONFIG_CONTENT_TYPE;

pub(super) async fn execute(action: &Action, clients: &Clients) -> Result<Effect> {
    match &action.kind {
        ActionKind::PushModelConfig(push) | ActionKind::RestoreModelConfig(push) => {
            put_config(clients, push).await?;
            Ok(Effect::Done)
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
            Ok(Effect::Done)
        }
        other => Err(super::misrouted(other)),
    }
}

/// The image process's object first: the chat object's sha256 is what the operator
/// reads back as the pair's, so it is written once the other one is in place.
async fn put_config(clients: &Clients, push: &ConfigPush) -> Result<()> {
    put_object(
        clients,
        &push.bucket,
        &push.images_key,
        &push.sha256,
        &push.images_body,
    )
    .await?;
    put_object(clients, &push.bucket, &push.key, &push.sha256, &push.body).await
}

async fn put_object(
    clients: &Clients,
    bucket: &str,
    key: &str,
    sha256: &str,
    body: &str,
) -> Result<()> {
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(LITELLM_CONFIG_CONTENT_TYPE)
        .metadata(SHA256_METADATA, sha256)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .map_err(|e| aws::error("S3", "PutObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}
