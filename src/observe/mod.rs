//! observe: read-only AWS calls that turn the live state into plain structs, so that the
//! planner never sees an SDK type. One module per AWS concern.

pub mod backup;
mod drift;
pub mod health;
mod litellm;
mod owned;
mod services;
mod stack;

pub use backup::{
    LiveBackup, LivePlan, LiveRule, LiveSelection, PlanDetails, Selections, describe_backup,
    describe_backup_with,
};
pub use drift::{detect_drift, known_false_positive};
pub use litellm::{ModelCatalog, config_sha256, foundation_models};
pub use owned::{litellm_config, owned};
pub use services::{
    LiveDeployment, LiveScaling, LiveService, describe_scaling, describe_services,
    scaling_resource_id,
};
pub use stack::{ManagedStack, describe_stack, managed_stacks, stack_policy};

use std::collections::BTreeMap;

use serde::Serialize;

/// What the operator saw of one stack's part of AWS.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LiveState {
    pub stack: Option<LiveStack>,
    pub drift: Drift,
    /// The stack's policy, when it was read in this pass.
    pub stack_policy: PolicyRead,
}

/// Whether the stack policy was read (it is, on the drift interval and until it was
/// once found as desired for this stack).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicyRead {
    #[default]
    NotRead,
    /// The body, or `None`: the stack has no policy.
    Read(Option<String>),
}

/// What the operator saw of the fields it owns outside the template (read once the
/// stack exists, from its outputs).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveOwned {
    pub openwebui: Option<LiveService>,
    pub litellm: Option<LiveService>,
    pub scaling: LiveScaling,
    /// sha256 recorded on the LiteLLM config object (`None`: no object).
    pub config_sha256: Option<String>,
    /// Bedrock's models in each region the config calls, by region; read only when the
    /// config differs (empty otherwise).
    pub models: BTreeMap<String, ModelCatalog>,
    pub backup: LiveBackup,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveStack {
    pub id: String,
    /// CloudFormation's status name (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_FAILED` …).
    pub status: String,
    pub status_reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub termination_protection: bool,
    /// When the stack last changed (creation time if never updated), RFC 3339.
    pub last_changed: String,
}

/// The outcome of CloudFormation drift detection on the stack's resources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Drift {
    /// Not run in this pass (it runs on its own, slower interval).
    #[default]
    NotChecked,
    /// The API did not answer (some endpoints do not implement it); reported once.
    Unavailable {
        reason: String,
    },
    /// Detection ran but failed for some resources (DETECTION_FAILED): what it found is
    /// reported, but the stack is not known to be in sync.
    Incomplete {
        reason: String,
        resources: Vec<DriftedResource>,
        ignored: Vec<IgnoredDrift>,
    },
    InSync {
        ignored: Vec<IgnoredDrift>,
    },
    Drifted {
        resources: Vec<DriftedResource>,
        ignored: Vec<IgnoredDrift>,
    },
}

impl Drift {
    /// Resources found drifted (by a complete or an incomplete detection).
    pub fn drifted(&self) -> &[DriftedResource] {
        match self {
            Drift::Drifted { resources, .. } | Drift::Incomplete { resources, .. } => resources,
            _ => &[],
        }
    }

    /// Differences left out as known false positives, each with its reason.
    pub fn ignored(&self) -> &[IgnoredDrift] {
        match self {
            Drift::Drifted { ignored, .. }
            | Drift::Incomplete { ignored, .. }
            | Drift::InSync { ignored } => ignored,
            _ => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftedResource {
    pub logical_id: String,
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    /// Property paths that differ, e.g. `/Properties/Cpu`.
    pub properties: Vec<String>,
}

/// A difference CloudFormation reports that is not drift: a known false positive, or a
/// field the operator itself owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredDrift {
    pub logical_id: String,
    pub property: String,
    pub reason: &'static str,
}
