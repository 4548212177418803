//! What the operator remembers of a stack between passes (kept in the `Context`, read
//! by the planner): plain data, below every stage.

/// The key of a stack in the context's history: region and stack name.
pub fn history_key(region: &str, stack_name: &str) -> String {
    format!("{region}/{stack_name}")
}

/// What earlier passes did that the next plan must know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// `stack id @ last change` of the failed update a ContinueUpdateRollback was tried on.
    pub continue_rollback_tried: Option<String>,
    /// (backup plan VersionId, sha256 of the desired plan) the operator last found
    /// matching: the same version need not be read again for the same desired plan.
    pub backup_verified: Option<(String, String)>,
    /// (`stack id@last change`, [logical id, type, physical id] of each resource): the
    /// health reads list the stack's resources again only when the stack has moved.
    pub stack_resources: Option<(String, Vec<[String; 3]>)>,
    /// Task definition ARN → (secret ARN, `container/VARIABLE`) of each secret it
    /// references. A task definition revision is immutable, so this never goes stale.
    pub task_definition_secrets: std::collections::BTreeMap<String, Vec<(String, String)>>,
    /// `stack id#sha256 of the policy` last found on the stack as desired: read again
    /// only on the drift interval, or when the stack or the policy is another.
    pub stack_policy_verified: Option<String>,
    /// (digest of an update, why it was refused): an update that would lose data is
    /// refused once, and not tried again (a change set made and deleted every pass)
    /// until the document changes.
    pub refused_update: Option<(String, String)>,
}
