//! The desired-state schema `bedrockchat.dev/v1alpha1`, kind `ImageChatStack`, with
//! defaults applied. These types are what every later stage (render, plan) reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub(crate) const API_VERSION: &str = "bedrockchat.dev/v1alpha1";
pub(crate) const KIND: &str = "ImageChatStack";

/// One validated desired-state document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChatStack {
    pub name: String,
    /// Where the document was read from, for messages ("desired-state/prod.yaml:1").
    pub source: Source,
    pub spec: Spec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub region: String,
    pub stack_name: String,
    /// CloudFormation parameters exactly as the user wrote them; the template's defaults
    /// and the values derived from other fields are added by `render`.
    pub parameters: BTreeMap<String, String>,
    pub services: Services,
    pub models: Vec<Model>,
    pub image_generation: ImageGeneration,
    pub backup: Backup,
    pub policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Services {
    pub openwebui: OpenWebUi,
    pub litellm: LiteLlm,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenWebUi {
    pub desired_count: u32,
    pub autoscaling: Option<Autoscaling>,
    /// Secrets Manager ARN of the PostgreSQL URL; empty means SQLite on EFS (one task).
    pub database_url_secret_arn: String,
    /// Secrets Manager ARN of a Redis URL, for websockets and settings shared between
    /// tasks; empty: one task.
    pub redis_url_secret_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiteLlm {
    pub desired_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Autoscaling {
    pub min_capacity: u32,
    pub max_capacity: u32,
    pub target_cpu_percent: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// The name clients ask LiteLLM for (`model` in OpenAI requests).
    pub name: String,
    /// The Bedrock model or inference-profile id.
    pub model_id: String,
    #[serde(rename = "type")]
    pub kind: ModelType,
    /// The Bedrock region LiteLLM calls for this model; `None`: `BedrockRegion`. No one
    /// region serves every model (Stability's only us-west-2, for one).
    pub region: Option<String>,
}

/// Cross-region inference profile prefixes: `us.anthropic.…` routes to the foundation
/// model `anthropic.…`, which is what ListFoundationModels lists.
pub(crate) const PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.",
];

/// The foundation model an inference-profile id routes to; `None` for a model id.
pub(crate) fn profile_base(model_id: &str) -> Option<&str> {
    PROFILE_PREFIXES
        .iter()
        .find_map(|p| model_id.strip_prefix(p))
}

impl Model {
    /// The region this model is called in, given the stack's `BedrockRegion`.
    pub fn region_or<'a>(&'a self, bedrock_region: &'a str) -> &'a str {
        self.region.as_deref().unwrap_or(bedrock_region)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    Image,
    Text,
}

impl ModelType {
    pub(crate) const NAMES: &'static [&'static str] = &["image", "text"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(Self::Image),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageGeneration {
    /// Name of a model of type image in `models`.
    pub model: String,
    /// `WIDTHxHEIGHT`, as Open WebUI sends it.
    pub size: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// An AWS `cron(...)` or `rate(...)` expression, evaluated in UTC.
    pub schedule: String,
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub mode: Mode,
    /// Skip this stack entirely (no reads, no writes) until set back to false.
    pub suspend: bool,
    /// Take over an existing stack of the same name that the operator did not create.
    pub adopt: bool,
    /// Delete and recreate a stack left in ROLLBACK_COMPLETE by a failed create.
    pub recreate_failed_stack: bool,
    /// Resources that hold data (`chart::STATEFUL_RESOURCES`) a stack update may replace
    /// or delete. Empty by default: such an update is refused before it executes, and
    /// the stack policy denies it too. A person lists one here for one change, then
    /// removes it.
    pub allow_data_loss: Vec<&'static str>,
}

/// How changes are applied: passed down as a value (never `if dry_run` checks sprinkled
/// through `act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Make AWS match the desired state.
    Enforce,
    /// Observe and report drift; write nothing.
    Observe,
}

impl Mode {
    pub(crate) const NAMES: &'static [&'static str] = &["enforce", "observe"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enforce" => Some(Self::Enforce),
            "observe" => Some(Self::Observe),
            _ => None,
        }
    }
}

/// Defaults, in one place so that the README, `minimal.yaml` and the code agree.
pub mod defaults {
    pub(crate) const DESIRED_COUNT: u32 = 1;
    pub const IMAGE_SIZE: &str = "1024x1024";
    /// Daily at 02:00 UTC, the seed's backup time.
    pub(crate) const BACKUP_SCHEDULE: &str = "cron(0 2 * * ? *)";
    /// Seven days, the seed's retention (and its RPO of 24 h).
    pub(crate) const RETENTION_DAYS: u32 = 7;
}
