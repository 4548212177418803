//! LiteLLM's proxy `config.yaml`, read by LiteLLM at start from the stack's S3 config
//! bucket (`LITELLM_CONFIG_BUCKET_NAME` / `LITELLM_CONFIG_BUCKET_OBJECT_KEY`).

use serde::Serialize;

use crate::desired::{ModelType, Spec};

pub const LITELLM_CONFIG_CONTENT_TYPE: &str = "application/yaml";

#[derive(Debug, Serialize)]
pub struct LiteLlmConfig {
    model_list: Vec<ModelEntry>,
    litellm_settings: LiteLlmSettings,
    general_settings: GeneralSettings,
}

#[derive(Debug, Serialize)]
struct ModelEntry {
    model_name: String,
    litellm_params: LiteLlmParams,
    model_info: ModelInfo,
}

#[derive(Debug, Serialize)]
struct LiteLlmParams {
    model: String,
    aws_region_name: String,
}

#[derive(Debug, Serialize)]
struct ModelInfo {
    /// Tells LiteLLM (and its `/v1/models` and health checks) which endpoint a model
    /// serves; Bedrock image models are not chat models.
    mode: &'static str,
}

#[derive(Debug, Serialize)]
struct LiteLlmSettings {
    /// Open WebUI sends OpenAI parameters (`n`, `response_format` …) that some Bedrock
    /// models do not take; dropping them beats failing the request.
    drop_params: bool,
}

#[derive(Debug, Serialize)]
struct GeneralSettings {
    /// Read from the environment, where ECS puts the Secrets Manager value: the key
    /// itself never appears in the rendered file, the bucket or the operator.
    master_key: &'static str,
}

/// The config for `spec`, as a typed value.
pub fn litellm_config(spec: &Spec, bedrock_region: &str) -> LiteLlmConfig {
    LiteLlmConfig {
        model_list: spec
            .models
            .iter()
            .map(|m| ModelEntry {
                model_name: m.name.clone(),
                litellm_params: LiteLlmParams {
                    model: format!("bedrock/{}", m.model_id),
                    aws_region_name: m.region_or(bedrock_region).to_string(),
                },
                model_info: ModelInfo {
                    mode: match m.kind {
                        ModelType::Image => "image_generation",
                        ModelType::Text => "chat",
                    },
                },
            })
            .collect(),
        litellm_settings: LiteLlmSettings { drop_params: true },
        general_settings: GeneralSettings {
            master_key: "os.environ/LITELLM_MASTER_KEY",
        },
    }
}

impl LiteLlmConfig {
    /// The exact bytes uploaded; their sha256 identifies the config everywhere.
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        let body = serde_yaml::to_string(self)?;
        Ok(format!(
            "# Rendered by bedrock-chat-operator from the desired state; edits here are overwritten.\n{body}"
        ))
    }
}
