//! observe: read-only AWS calls that turn the live state into plain structs, so that the
//! planner never sees an SDK type. One module per AWS concern.

mod drift;
mod stack;

pub use drift::detect_drift;
pub use stack::describe_stack;

use std::collections::BTreeMap;

use serde::Serialize;

/// What the operator saw of one stack's part of AWS.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LiveState {
    pub stack: Option<LiveStack>,
    pub drift: Drift,
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
    InSync,
    Drifted {
        resources: Vec<DriftedResource>,
    },
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
