//! The stack outputs that say where the owned fields live (the config bucket, the
//! services, the file system …), known once the stack exists.

use std::collections::BTreeMap;

use serde::Serialize;

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
    pub(crate) fn from_stack(
        outputs: &BTreeMap<String, String>,
    ) -> Result<Outputs, Vec<&'static str>> {
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
