//! What the operator wants of the fields it owns outside the template, once the stack's
//! outputs say where they live: one part per concern (`services`, `litellm`, `backup`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{BackupDesired, LiteLlmDesired, Outputs, ServicesDesired};
use crate::desired::ImageChatStack;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedDesired {
    pub services: ServicesDesired,
    pub litellm: LiteLlmDesired,
    pub backup: BackupDesired,
}

pub fn owned(
    doc: &ImageChatStack,
    parameters: &BTreeMap<String, String>,
    outputs: &Outputs,
) -> crate::Result<OwnedDesired> {
    let spec = &doc.spec;
    let bedrock_region = parameters
        .get("BedrockRegion")
        .cloned()
        .unwrap_or_else(|| spec.region.clone());
    Ok(OwnedDesired {
        services: super::services::services(spec),
        litellm: super::litellm::litellm(spec, &bedrock_region)?,
        backup: super::backup::backup(spec, &doc.name, outputs)?,
    })
}
