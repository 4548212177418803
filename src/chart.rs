//! The chat stack's CloudFormation template from `charts/`, embedded in the binary so
//! that the operator deploys exactly what was reviewed and linted, and the stack parameters' constraints,
//! read from the template so that validation and template never disagree.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_yaml::Value;
use sha2::{Digest, Sha256};

/// The chat stack (Open WebUI + LiteLLM on ECS Fargate).
pub(crate) const STACK_TEMPLATE: &str = include_str!("../charts/stack.yaml");

/// Where users read the chat stack's parameters (used in messages).
pub(crate) const STACK_TEMPLATE_PATH: &str = "charts/stack.yaml";

/// The parameter that creates both ECS services with 0 tasks: `"true"` on create, so
/// that no LiteLLM task starts before its config is in S3; `"false"` on every update,
/// which leaves `DesiredCount` out and so keeps the operator's count.
pub(crate) const CREATE_SERVICES_AT_ZERO: &str = "CreateServicesAtZero";

/// The stack's resources that hold data: a replacement or deletion of one loses it (the
/// EFS file system holds Open WebUI's database and uploads; the secrets are the keys
/// every task reads; the vault holds the recovery points; the bucket LiteLLM's config).
pub const STATEFUL_RESOURCES: &[&str] = &[
    "EFSFileSystem",
    "EFSAccessPoint",
    "LiteLLMMasterKey",
    "LiteLLMMasterKeySeed",
    "OpenWebUISecretKey",
    "BackupVault",
    "ConfigBucket",
];

/// One parameter of the chat stack and its constraints.
#[derive(Debug)]
pub struct ParamSpec {
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    /// `AllowedPattern`, anchored: CloudFormation requires the whole value to match.
    pub allowed_pattern: Option<(String, Regex)>,
    pub constraint: Option<String>,
}

impl ParamSpec {
    /// Why `value` breaks the template's constraint, or `None` when it is allowed.
    pub(crate) fn violation(&self, value: &str) -> Option<String> {
        if !self.allowed_values.is_empty() && !self.allowed_values.iter().any(|v| v == value) {
            return Some(format!(
                "must be one of {} (got {value:?})",
                self.allowed_values.join(" | ")
            ));
        }
        if let Some((src, re)) = &self.allowed_pattern
            && !re.is_match(value)
        {
            let why = self
                .constraint
                .clone()
                .unwrap_or_else(|| format!("must match {src}"));
            return Some(format!("{why} (got {value:?})"));
        }
        None
    }
}

/// The embedded template cannot be read: a broken build (the tests read it), reported
/// rather than panicking.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{STACK_TEMPLATE_PATH}: {0}")]
pub struct BrokenTemplate(String);

impl From<BrokenTemplate> for crate::Error {
    fn from(e: BrokenTemplate) -> Self {
        crate::Error::Internal(e.to_string())
    }
}

static STACK_PARAMETERS: LazyLock<Result<BTreeMap<String, ParamSpec>, BrokenTemplate>> =
    LazyLock::new(|| parse_parameters(STACK_TEMPLATE));

/// The chat stack's parameters. The template is embedded and checked by tests, so an
/// error here means a broken build, reported rather than panicking.
pub fn stack_parameters() -> Result<&'static BTreeMap<String, ParamSpec>, BrokenTemplate> {
    STACK_PARAMETERS.as_ref().map_err(Clone::clone)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_parameters(template: &str) -> Result<BTreeMap<String, ParamSpec>, BrokenTemplate> {
    let doc: Value = serde_yaml::from_str(template).map_err(|e| BrokenTemplate(e.to_string()))?;
    let params = doc
        .get("Parameters")
        .and_then(Value::as_mapping)
        .ok_or_else(|| BrokenTemplate("no Parameters section".into()))?;
    let mut out = BTreeMap::new();
    for (name, body) in params {
        let name = name
            .as_str()
            .ok_or_else(|| BrokenTemplate(format!("parameter name {name:?} is not a string")))?;
        let allowed_pattern = match body.get("AllowedPattern").and_then(Value::as_str) {
            Some(src) => {
                let re = Regex::new(&format!("^(?:{src})$"))
                    .map_err(|e| BrokenTemplate(format!("{name}.AllowedPattern: {e}")))?;
                Some((src.to_string(), re))
            }
            None => None,
        };
        out.insert(
            name.to_string(),
            ParamSpec {
                default: body.get("Default").and_then(scalar_text),
                allowed_values: body
                    .get("AllowedValues")
                    .and_then(Value::as_sequence)
                    .map(|s| s.iter().filter_map(scalar_text).collect())
                    .unwrap_or_default(),
                allowed_pattern,
                constraint: body
                    .get("ConstraintDescription")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
        );
    }
    Ok(out)
}

/// CloudFormation refuses a `TemplateBody` longer than this; larger templates must be
/// uploaded to S3 first (a test holds the minified body under it).
#[cfg(test)]
const MAX_TEMPLATE_BODY_BYTES: usize = 51_200;

/// The chat stack as sent to CloudFormation: minified JSON. The YAML in `charts/` is what
/// people read and lint, with comments that push it past `MAX_TEMPLATE_BODY_BYTES`; the
/// JSON form drops them and is the same template.
pub struct StackTemplate {
    pub body: String,
    /// sha256 of `body`; the stack carries it in a tag, so that a template change is
    /// seen without downloading the deployed template.
    pub sha256: String,
}

static STACK_BODY: LazyLock<Result<StackTemplate, BrokenTemplate>> = LazyLock::new(|| {
    let yaml: Value =
        serde_yaml::from_str(STACK_TEMPLATE).map_err(|e| BrokenTemplate(e.to_string()))?;
    let json = to_json(&yaml)?;
    let body = serde_json::to_string(&json).map_err(|e| BrokenTemplate(e.to_string()))?;
    Ok(StackTemplate {
        sha256: hex::encode(Sha256::digest(body.as_bytes())),
        body,
    })
});

pub fn stack_template() -> Result<&'static StackTemplate, BrokenTemplate> {
    STACK_BODY.as_ref().map_err(Clone::clone)
}

/// YAML's short-form intrinsic functions (`!Ref`, `!Sub` …) in their JSON form.
fn to_json(v: &Value) -> Result<serde_json::Value, BrokenTemplate> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) => serde_json::to_value(n).map_err(|e| BrokenTemplate(e.to_string()))?,
        Value::String(s) => J::String(s.clone()),
        Value::Sequence(items) => J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => scalar_text(other)
                        .ok_or_else(|| BrokenTemplate(format!("non-scalar key {other:?}")))?,
                };
                out.insert(key, to_json(v)?);
            }
            J::Object(out)
        }
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(&t.value)?;
            let (key, value) = match (name, inner) {
                ("Ref", v) => ("Ref".to_string(), v),
                ("Condition", v) => ("Condition".to_string(), v),
                // `!GetAtt Resource.Attribute` is the dotted short form of a pair.
                ("GetAtt", J::String(s)) => {
                    let (res, attr) = s.split_once('.').ok_or_else(|| {
                        BrokenTemplate(format!("!GetAtt {s}: expected Resource.Attribute"))
                    })?;
                    ("Fn::GetAtt".to_string(), serde_json::json!([res, attr]))
                }
                (other, v) => (format!("Fn::{other}"), v),
            };
            let mut obj = serde_json::Map::new();
            obj.insert(key, value);
            J::Object(obj)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_stack_template_parameters_parse() {
        let params = stack_parameters().expect("template parameters");
        for name in [
            "ProjectName",
            "DeploymentSize",
            "DomainName",
            "ACMCertificateArn",
            "BedrockRegion",
            "ImagePullMode",
            "ImageGenerationModel",
            "ImageSize",
            "OpenWebUIImage",
            "LiteLLMImage",
            "OpenWebUIDatabaseUrlSecretArn",
        ] {
            assert!(params.contains_key(name), "missing parameter {name}");
        }
        let size = &params["DeploymentSize"];
        assert_eq!(size.violation("small"), None);
        assert!(size.violation("huge").unwrap().contains("small"));
    }

    #[test]
    fn template_body_fits_cloudformation_limit_and_keeps_intrinsics() {
        let t = stack_template().expect("template converts");
        assert!(
            t.body.len() <= MAX_TEMPLATE_BODY_BYTES,
            "{} bytes: upload to S3 is needed",
            t.body.len()
        );
        let json: serde_json::Value = serde_json::from_str(&t.body).unwrap();
        assert!(json["Resources"].as_object().unwrap().len() > 30);
        assert!(t.body.contains("\"Fn::Sub\""));
        assert!(t.body.contains("{\"Ref\":"));
        assert!(!t.body.contains("!Ref"), "a short-form tag survived");
        assert_eq!(t.sha256.len(), 64);
    }

    #[test]
    fn short_form_tags_translate() {
        let yaml: Value = serde_yaml::from_str(
            "a: !GetAtt Bucket.Arn\nb: !Sub '${AWS::Region}'\nc: !If [Cond, !Ref X, !Ref AWS::NoValue]\nd: !GetAZs ''",
        )
        .unwrap();
        let json = to_json(&yaml).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "a": {"Fn::GetAtt": ["Bucket", "Arn"]},
                "b": {"Fn::Sub": "${AWS::Region}"},
                "c": {"Fn::If": ["Cond", {"Ref": "X"}, {"Ref": "AWS::NoValue"}]},
                "d": {"Fn::GetAZs": ""}
            })
        );
    }

    fn template() -> serde_json::Value {
        serde_json::from_str(&stack_template().unwrap().body).unwrap()
    }

    fn resources_of_type(t: &serde_json::Value, ty: &str) -> Vec<(String, serde_json::Value)> {
        t["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == ty)
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect()
    }

    /// DESIGN.md's ownership table: the operator owns counts, autoscaling and the
    /// backup plan, so the template must leave them out or the two would fight.
    #[test]
    fn template_leaves_operator_owned_fields_out() {
        let t = template();
        let services = resources_of_type(&t, "AWS::ECS::Service");
        assert_eq!(services.len(), 2);
        // DesiredCount only at create, and only 0 (LiteLLM must not start before its
        // config exists); absent on every update, so CloudFormation never resets a count.
        let at_create_only = serde_json::json!({
            "Fn::If": ["CreatingAtZero", 0, {"Ref": "AWS::NoValue"}]
        });
        for (name, svc) in &services {
            assert_eq!(
                svc["Properties"].get("DesiredCount"),
                Some(&at_create_only),
                "{name}: DesiredCount"
            );
        }
        assert_eq!(
            t["Conditions"]["CreatingAtZero"],
            serde_json::json!({"Fn::Equals": [{"Ref": CREATE_SERVICES_AT_ZERO}, "true"]})
        );
        for ty in [
            "AWS::ApplicationAutoScaling::ScalableTarget",
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            "AWS::Backup::BackupPlan",
            "AWS::Backup::BackupSelection",
        ] {
            assert!(
                resources_of_type(&t, ty).is_empty(),
                "template declares {ty}"
            );
        }
    }

    /// The seed's defects (DESIGN.md) stay fixed.
    #[test]
    fn seed_defects_stay_fixed() {
        let t = template();
        let body = &stack_template().unwrap().body;
        assert!(
            !body.contains("LITELLM_CONFIG_YAML"),
            "LiteLLM does not read LITELLM_CONFIG_YAML"
        );
        assert!(
            body.contains("LITELLM_CONFIG_BUCKET_NAME")
                && body.contains("LITELLM_CONFIG_BUCKET_OBJECT_KEY")
        );
        assert!(!body.contains("stability.stable-diffusion-3-5-large-v1:0"));
        for (name, fs) in resources_of_type(&t, "AWS::EFS::FileSystem") {
            assert_eq!(fs["DeletionPolicy"], "Retain", "{name}");
            assert_eq!(fs["UpdateReplacePolicy"], "Retain", "{name}");
        }
        assert_eq!(
            resources_of_type(&t, "AWS::ServiceDiscovery::Service").len(),
            1
        );

        let mut env_names = Vec::new();
        let mut secret_names = Vec::new();
        for (_, td) in resources_of_type(&t, "AWS::ECS::TaskDefinition") {
            for c in td["Properties"]["ContainerDefinitions"].as_array().unwrap() {
                for e in c["Environment"].as_array().into_iter().flatten() {
                    env_names.push(e["Name"].as_str().unwrap_or_default().to_string());
                }
                // Secrets may be conditional (Fn::If), so collect names anywhere inside.
                collect_names(&c["Secrets"], &mut secret_names);
            }
        }
        for secret in [
            "OPENAI_API_KEY",
            "IMAGES_OPENAI_API_KEY",
            "WEBUI_SECRET_KEY",
            "LITELLM_MASTER_KEY",
            "DATABASE_URL",
        ] {
            assert!(
                !env_names.iter().any(|n| n == secret),
                "{secret} is a plain environment variable"
            );
            assert!(
                secret_names.iter().any(|n| n == secret),
                "{secret} is not passed through Secrets"
            );
        }
        for needed in [
            "ENABLE_IMAGE_GENERATION",
            "IMAGE_GENERATION_ENGINE",
            "IMAGES_OPENAI_API_BASE_URL",
            "IMAGE_GENERATION_MODEL",
            "IMAGE_SIZE",
            "ENABLE_PERSISTENT_CONFIG",
            "OPENAI_API_BASE_URL",
        ] {
            assert!(
                env_names.iter().any(|n| n == needed),
                "Open WebUI lacks {needed}"
            );
        }
    }

    fn collect_names(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(n)) = m.get("Name") {
                    out.push(n.clone());
                }
                m.values().for_each(|v| collect_names(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect_names(v, out)),
            _ => {}
        }
    }

    #[test]
    fn images_are_pinned_not_latest() {
        let params = stack_parameters().unwrap();
        for name in ["OpenWebUIImage", "LiteLLMImage"] {
            let image = params[name].default.as_deref().unwrap_or_default();
            assert!(image.contains(':'), "{name} default {image} has no tag");
            assert!(
                !image.ends_with(":latest") && !image.ends_with("-latest"),
                "{name}: {image}"
            );
        }
    }

    #[test]
    fn every_resource_said_to_hold_data_is_in_the_template() {
        let t: serde_json::Value = serde_json::from_str(&stack_template().unwrap().body).unwrap();
        for r in STATEFUL_RESOURCES {
            assert!(
                t["Resources"].get(*r).is_some(),
                "{r} is not a resource of the chart"
            );
        }
    }
}
