//! LiteLLM's proxy configs, read by LiteLLM at start from the stack's S3 config bucket
//! (`LITELLM_CONFIG_BUCKET_NAME` / `LITELLM_CONFIG_BUCKET_OBJECT_KEY`): one for the chat
//! process (text models), one for the image process (image models).

use serde::Serialize;

use super::sha256_hex;
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

/// The config of the LiteLLM process that serves the models of `kind`: the chat one
/// (text models; what Open WebUI offers for chat) or the image one (image generation).
pub fn litellm_config(spec: &Spec, bedrock_region: &str, kind: ModelType) -> LiteLlmConfig {
    LiteLlmConfig {
        model_list: spec
            .models
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| ModelEntry {
                model_name: m.name.clone(),
                litellm_params: LiteLlmParams {
                    model: litellm_model(m.kind, &m.model_id),
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

/// A Bedrock model (or inference profile) id and the region LiteLLM calls it in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BedrockModel {
    pub id: String,
    pub region: String,
}

/// What the desired state wants of LiteLLM: its task count and its two config objects.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiteLlmDesired {
    pub count: u32,
    /// The exact bytes of the chat LiteLLM's config (text models), of the image
    /// LiteLLM's (image models), and one sha256 of both: the config's identity.
    pub config_body: String,
    pub images_config_body: String,
    pub config_sha256: String,
    /// Every Bedrock model id with the region it is called in.
    pub bedrock_models: Vec<BedrockModel>,
}

/// LiteLLM's desired count and configs; `bedrock_region` is the stack's default region
/// for models that name none.
pub fn litellm(spec: &Spec, bedrock_region: &str) -> Result<LiteLlmDesired, crate::Error> {
    let render = |kind| {
        litellm_config(spec, bedrock_region, kind)
            .to_yaml()
            .map_err(|e| crate::Error::Render {
                what: "LiteLLM config",
                message: e.to_string(),
            })
    };
    let config_body = render(ModelType::Text)?;
    let images_config_body = render(ModelType::Image)?;
    Ok(LiteLlmDesired {
        count: spec.services.litellm.desired_count,
        config_sha256: sha256_hex(format!("{config_body}\0{images_config_body}").as_bytes()),
        config_body,
        images_config_body,
        bedrock_models: spec
            .models
            .iter()
            .map(|m| BedrockModel {
                id: m.model_id.clone(),
                region: m.region_or(bedrock_region).to_string(),
            })
            .collect(),
    })
}

/// LiteLLM's model string. Text models go through Bedrock's Converse API, which AWS
/// recommends as the one interface for every model that takes messages (Bedrock user
/// guide, "Carry out a conversation with the Converse API operations") and which needs
/// the same IAM actions as InvokeModel (API reference, Converse/ConverseStream). Without
/// `converse/` LiteLLM picks the route from its own model list: a model newer than the
/// pinned LiteLLM (e.g. Claude Sonnet 4.6 for 1.80.11) falls back to the per-family
/// InvokeModel body, which breaks for any family LiteLLM does not know.
fn litellm_model(kind: ModelType, model_id: &str) -> String {
    match kind {
        ModelType::Text => format!("bedrock/converse/{model_id}"),
        ModelType::Image => format!("bedrock/{model_id}"),
    }
}

impl LiteLlmConfig {
    /// The exact bytes uploaded; their sha256 identifies the config everywhere.
    pub(crate) fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        let body = serde_yaml::to_string(self)?;
        Ok(format!(
            "# Rendered by bedrock-chat-operator from the desired state; edits here are overwritten.\n{body}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::spec_with_models;

    #[test]
    fn each_process_gets_its_kind_of_model_in_its_region_text_through_converse() {
        let spec = spec_with_models(
            "    - {name: sd, modelId: stability.sd3-5-large-v1:0, type: image}\n    - {name: pro, modelId: amazon.nova-pro-v1:0, type: text, region: us-east-1}\n    - {name: son, modelId: us.anthropic.claude-sonnet-4-6, type: text}\n",
        );
        let chat = litellm_config(&spec, "us-west-2", ModelType::Text)
            .to_yaml()
            .unwrap();
        let images = litellm_config(&spec, "us-west-2", ModelType::Image)
            .to_yaml()
            .unwrap();
        let chat: serde_yaml::Value = serde_yaml::from_str(&chat).unwrap();
        let images: serde_yaml::Value = serde_yaml::from_str(&images).unwrap();
        let entries = |v: &serde_yaml::Value| -> Vec<(String, String, String, String)> {
            v["model_list"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|m| {
                    let s = |x: &serde_yaml::Value| x.as_str().unwrap().to_string();
                    (
                        s(&m["model_name"]),
                        s(&m["litellm_params"]["model"]),
                        s(&m["litellm_params"]["aws_region_name"]),
                        s(&m["model_info"]["mode"]),
                    )
                })
                .collect()
        };
        let row = |a: &str, b: &str, c: &str, d: &str| {
            (a.to_string(), b.to_string(), c.to_string(), d.to_string())
        };
        assert_eq!(
            entries(&chat),
            vec![
                row(
                    "pro",
                    "bedrock/converse/amazon.nova-pro-v1:0",
                    "us-east-1",
                    "chat"
                ),
                row(
                    "son",
                    "bedrock/converse/us.anthropic.claude-sonnet-4-6",
                    "us-west-2",
                    "chat"
                ),
            ]
        );
        assert_eq!(
            entries(&images),
            vec![row(
                "sd",
                "bedrock/stability.sd3-5-large-v1:0",
                "us-west-2",
                "image_generation"
            )]
        );
        // The key is never in the file: LiteLLM reads it from its environment.
        assert_eq!(
            chat["general_settings"]["master_key"],
            "os.environ/LITELLM_MASTER_KEY"
        );
    }
}
