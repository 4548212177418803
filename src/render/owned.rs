//! What the operator wants of the fields it owns outside the template, once the stack's
//! outputs say where they live.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{BackupPlan, backup_plan, litellm_config, sha256_hex};
use crate::desired::{Autoscaling, ImageChatStack, ModelType};

/// The stack outputs the owned fields need; all are required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    pub cluster: String,
    pub openwebui_service: String,
    pub litellm_service: String,
    pub config_bucket: String,
    pub config_key: String,
    pub images_config_key: String,
    pub file_system_arn: String,
    pub backup_vault: String,
    pub backup_role_arn: String,
}

impl Outputs {
    /// The outputs from a stack's output map, or the names of those missing.
    pub fn from_stack(outputs: &BTreeMap<String, String>) -> Result<Outputs, Vec<&'static str>> {
        let mut missing = Vec::new();
        let mut get = |key: &'static str| match outputs.get(key).filter(|v| !v.is_empty()) {
            Some(v) => v.clone(),
            None => {
                missing.push(key);
                String::new()
            }
        };
        let out = Outputs {
            cluster: get("ClusterName"),
            openwebui_service: get("OpenWebUIServiceName"),
            litellm_service: get("LiteLLMServiceName"),
            config_bucket: get("ConfigBucketName"),
            config_key: get("ConfigObjectKey"),
            images_config_key: get("ImagesConfigObjectKey"),
            file_system_arn: get("FileSystemArn"),
            backup_vault: get("BackupVaultName"),
            backup_role_arn: get("BackupRoleArn"),
        };
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(missing)
        }
    }
}

/// The backup selection the operator wants: its name carries a hash of what it
/// selects, so ListBackupSelections alone tells whether it is still right.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionSpec {
    pub name: String,
    pub role_arn: String,
    pub resources: Vec<String>,
}

/// A Bedrock model (or inference profile) id and the region LiteLLM calls it in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BedrockModel {
    pub id: String,
    pub region: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedDesired {
    pub openwebui_count: u32,
    pub openwebui_autoscaling: Option<Autoscaling>,
    pub litellm_count: u32,
    /// The exact bytes of the chat LiteLLM's config (text models), of the image
    /// LiteLLM's (image models), and one sha256 of both: the config's identity.
    pub config_body: String,
    pub images_config_body: String,
    pub config_sha256: String,
    /// Every Bedrock model id with the region it is called in.
    pub bedrock_models: Vec<BedrockModel>,
    pub backup_plan: BackupPlan,
    /// sha256 of the backup plan, to know whether a version verified earlier still fits.
    pub backup_plan_sha256: String,
    pub selection: SelectionSpec,
}

pub fn owned(
    doc: &ImageChatStack,
    parameters: &BTreeMap<String, String>,
    outputs: &Outputs,
) -> Result<OwnedDesired, String> {
    let spec = &doc.spec;
    let bedrock_region = parameters
        .get("BedrockRegion")
        .cloned()
        .unwrap_or_else(|| spec.region.clone());
    let render = |kind| {
        litellm_config(spec, &bedrock_region, kind)
            .to_yaml()
            .map_err(|e| format!("LiteLLM config: {e}"))
    };
    let config_body = render(ModelType::Text)?;
    let images_config_body = render(ModelType::Image)?;
    let config_sha256 = sha256_hex(format!("{config_body}\0{images_config_body}").as_bytes());
    let plan = backup_plan(spec, &outputs.backup_vault);
    let plan_json = serde_json::to_string(&plan).map_err(|e| format!("backup plan: {e}"))?;
    let resources = vec![outputs.file_system_arn.clone()];
    let selection_hash =
        sha256_hex(format!("{}|{}", outputs.backup_role_arn, resources.join(",")).as_bytes());
    Ok(OwnedDesired {
        openwebui_count: spec.services.openwebui.desired_count,
        openwebui_autoscaling: spec.services.openwebui.autoscaling,
        litellm_count: spec.services.litellm.desired_count,
        config_sha256,
        config_body,
        images_config_body,
        bedrock_models: spec
            .models
            .iter()
            .map(|m| BedrockModel {
                id: m.model_id.clone(),
                region: m.region_or(&bedrock_region).to_string(),
            })
            .collect(),
        backup_plan_sha256: sha256_hex(plan_json.as_bytes()),
        backup_plan: plan,
        selection: SelectionSpec {
            name: format!("efs-{}", &selection_hash[..12]),
            role_arn: outputs.backup_role_arn.clone(),
            resources,
        },
    })
}
