//! LiteLLM's config object: one HeadObject for the sha256 the operator stored with it.

use crate::Result;
use crate::aws::{self, Clients};

/// Object metadata key holding the sha256 of the body (S3 sends it as
/// `x-amz-meta-sha256`).
pub const SHA256_METADATA: &str = "sha256";

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
