//! LiteLLM's config object (one HeadObject for the sha256 the operator stored with it)
//! and Bedrock's model list, read only when a config is about to be pushed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Result;
use crate::aws::{self, Clients};
use crate::names::SHA256_METADATA;

/// The sha256 recorded on the config object: `Some("")` when the object exists without
/// one (written by someone else), `None` when there is no object.
pub async fn config_sha256(clients: &Clients, bucket: &str, key: &str) -> Result<Option<String>> {
    match clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.metadata()
                .and_then(|m| m.get(SHA256_METADATA))
                .cloned()
                .unwrap_or_default(),
        )),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
        Err(e) => Err(aws::error(
            "S3",
            "HeadObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}

/// Bedrock's foundation models in one region, as ListFoundationModels lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ModelCatalog {
    /// Not read in this pass: only a config about to be pushed needs checking.
    #[default]
    NotRead,
    /// Model id → lifecycle status (`ACTIVE`, `LEGACY`).
    Listed {
        region: String,
        models: BTreeMap<String, String>,
    },
    /// The endpoint cannot list models (an emulator); the ids go unchecked.
    Unavailable { reason: String },
}

/// The foundation models Bedrock offers in `region` (the client's).
pub async fn foundation_models(
    bedrock: &aws_sdk_bedrock::Client,
    region: &str,
) -> Result<ModelCatalog> {
    match bedrock.list_foundation_models().send().await {
        Ok(out) => Ok(ModelCatalog::Listed {
            region: region.to_string(),
            models: out
                .model_summaries()
                .iter()
                .map(|m| {
                    let status = m
                        .model_lifecycle()
                        .map(|l| l.status().as_str().to_string())
                        .unwrap_or_default();
                    (m.model_id().to_string(), status)
                })
                .collect(),
        }),
        Err(e) => {
            let err = aws::error("Bedrock", "ListFoundationModels", region, e);
            if err.is_unimplemented() {
                Ok(ModelCatalog::Unavailable {
                    reason: err.to_string(),
                })
            } else {
                Err(err)
            }
        }
    }
}
