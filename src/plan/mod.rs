//! plan: the pure diff `(desired, live) -> Plan`. No I/O, so every rule is unit tested
//! without AWS. A plan is a list of typed actions, each with the reason a person reads;
//! an empty plan means "in sync" and leads to zero writes.

mod backup;
pub mod changes;
mod display;
#[cfg(test)]
mod fixtures;
pub mod health;
mod litellm;
mod owned;
mod protect;
mod services;
mod stack;

pub use litellm::{check_models, restore_config};
pub use owned::plan_owned;
pub use protect::{data_loss, is_operators_policy};
pub use stack::plan_stack;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::observe::Drift;

pub use crate::history::{History, history_key};

/// One key that changes, `from` → `to` (`None`: absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| match v {
            None => "(none)".to_string(),
            Some(s) if s.is_empty() => "\"\"".to_string(),
            Some(s) => s.clone(),
        };
        write!(f, "{}: {} → {}", self.key, show(&self.from), show(&self.to))
    }
}

/// Changes between two maps, in key order.
pub(crate) fn diff_maps(
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, String>,
) -> Vec<Change> {
    let keys: std::collections::BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    keys.into_iter()
        .filter(|k| from.get(*k) != to.get(*k))
        .map(|k| Change {
            key: k.clone(),
            from: from.get(k).cloned(),
            to: to.get(k).cloned(),
        })
        .collect()
}

/// A change to make, typed so that `act` needs no interpretation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ActionKind {
    /// Create the stack through a CREATE change set, with every parameter and the tags.
    CreateStack {
        parameters: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    },
    /// Update through an UPDATE change set; `changes` lists what differs.
    UpdateStack {
        parameters: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
        changes: Vec<Change>,
        /// `spec.policy.allowDataLoss`: the resources holding data it may replace.
        allow_data_loss: Vec<String>,
        /// Identifies this update (parameters, tags, template, allowance), for
        /// `History::refused_update`.
        digest: String,
    },
    EnableTerminationProtection,
    /// SetStackPolicy: deny replacing or deleting what holds data (`render::stack_policy`).
    SetStackPolicy {
        body: String,
    },
    /// Resume a rollback that failed (once per failure; then a person must look).
    /// `attempt` identifies the failure, for `History`.
    ContinueUpdateRollback {
        attempt: String,
    },
    /// Delete a stack whose create failed and rolled back; EFS is retained by policy.
    DeleteFailedStack {
        stack_id: String,
    },
    /// UpdateService(desiredCount) — only for services without autoscaling.
    SetDesiredCount {
        cluster: String,
        service: String,
        app: App,
        from: u32,
        to: u32,
    },
    /// RegisterScalableTarget with min/max (the autoscaler then owns the count).
    RegisterScalableTarget {
        resource_id: String,
        min: u32,
        max: u32,
        from: Option<(u32, u32)>,
    },
    /// PutScalingPolicy: CPU target tracking at `target` percent.
    PutCpuScalingPolicy {
        resource_id: String,
        target: u32,
        from: Option<f64>,
    },
    /// Autoscaling was removed from the desired state: hand the count back.
    DeregisterScalableTarget {
        resource_id: String,
    },
    /// PutObject of LiteLLM's config, its sha256 in the metadata (the model ids were
    /// checked against Bedrock when planning).
    PushModelConfig(ConfigPush),
    /// The same PutObject before a stack update, when the config object is missing: the
    /// update may start LiteLLM tasks, and a task without its config exits.
    RestoreModelConfig(ConfigPush),
    /// LiteLLM reads its config at start only: force a new deployment, then tag the
    /// service with the config's sha256.
    RedeployLiteLlm {
        cluster: String,
        service: String,
        service_arn: String,
        sha256: String,
        from: Option<String>,
    },
    CreateBackupPlan {
        plan: crate::render::BackupPlan,
        selection: crate::render::SelectionSpec,
        plan_sha256: String,
        /// metadata.name, tagged on the plan.
        owner: String,
    },
    UpdateBackupPlan {
        plan_id: String,
        plan: crate::render::BackupPlan,
        plan_sha256: String,
        changes: Vec<Change>,
    },
    /// Delete the selections that differ (by id) and create the desired one if missing.
    ReplaceBackupSelections {
        plan_id: String,
        delete: Vec<(String, String)>,
        create: Option<crate::render::SelectionSpec>,
    },
}

/// Which application an ECS service runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum App {
    OpenWebUi,
    LiteLlm,
}

/// LiteLLM's config objects as the operator writes them: the chat process's (`key`)
/// and the image process's (`images_key`), both carrying the sha256 of the pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigPush {
    pub bucket: String,
    pub key: String,
    pub images_key: String,
    pub sha256: String,
    pub from: Option<String>,
    #[serde(skip)]
    pub body: String,
    #[serde(skip)]
    pub images_body: String,
}

/// The group an action runs in: the actions of one concern run in order and stop at the
/// first failure; concerns run concurrently after the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) enum Concern {
    Stack,
    /// Open WebUI's count and autoscaling.
    Services,
    /// LiteLLM: its config object, the deployment that loads it, then its task count —
    /// in that order, since a task reads the config once, at start.
    LiteLlm,
    Backup,
}

impl ActionKind {
    pub(crate) fn concern(&self) -> Concern {
        use ActionKind::*;
        match self {
            CreateStack { .. }
            | UpdateStack { .. }
            | EnableTerminationProtection
            | SetStackPolicy { .. }
            | ContinueUpdateRollback { .. }
            | DeleteFailedStack { .. }
            | RestoreModelConfig(_) => Concern::Stack,
            SetDesiredCount {
                app: App::LiteLlm, ..
            }
            | PushModelConfig(_)
            | RedeployLiteLlm { .. } => Concern::LiteLlm,
            SetDesiredCount { .. }
            | RegisterScalableTarget { .. }
            | PutCpuScalingPolicy { .. }
            | DeregisterScalableTarget { .. } => Concern::Services,
            CreateBackupPlan { .. } | UpdateBackupPlan { .. } | ReplaceBackupSelections { .. } => {
                Concern::Backup
            }
        }
    }

    /// The operation's name, for logs and summaries.
    pub fn name(&self) -> &'static str {
        use ActionKind::*;
        match self {
            CreateStack { .. } => "CreateStack",
            UpdateStack { .. } => "UpdateStack",
            EnableTerminationProtection => "EnableTerminationProtection",
            SetStackPolicy { .. } => "SetStackPolicy",
            ContinueUpdateRollback { .. } => "ContinueUpdateRollback",
            DeleteFailedStack { .. } => "DeleteFailedStack",
            SetDesiredCount { .. } => "SetDesiredCount",
            RegisterScalableTarget { .. } => "RegisterScalableTarget",
            PutCpuScalingPolicy { .. } => "PutCpuScalingPolicy",
            DeregisterScalableTarget { .. } => "DeregisterScalableTarget",
            PushModelConfig(_) => "PushModelConfig",
            RestoreModelConfig(_) => "RestoreModelConfig",
            RedeployLiteLlm { .. } => "RedeployLiteLlm",
            CreateBackupPlan { .. } => "CreateBackupPlan",
            UpdateBackupPlan { .. } => "UpdateBackupPlan",
            ReplaceBackupSelections { .. } => "ReplaceBackupSelections",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    #[serde(flatten)]
    pub kind: ActionKind,
    pub reason: String,
}

/// The plan for one stack.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub name: String,
    pub stack_name: String,
    pub region: String,
    pub actions: Vec<Action>,
    /// CloudFormation is busy with the stack; nothing to do until it settles.
    pub waiting: Option<String>,
    /// Nothing will be done until a person acts; the reason says what to do.
    pub blocked: Option<String>,
    pub drift: Drift,
    /// Wrong states outside the operator's reach that need a person (a missing
    /// service, a backup plan someone else owns); the other actions still run.
    pub problems: Vec<String>,
    /// Facts worth saying that need no one (a check the endpoint cannot do…).
    pub notes: Vec<String>,
    /// CloudFormation's resource-level changes, when asked for (`plan --changes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_changes: Option<changes::ResourceChanges>,
}

/// What the planner of one concern (or of all the owned ones) decided: the actions to
/// take, and what needs a person or is worth saying. Merged into the stack's `Plan`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Part {
    pub actions: Vec<Action>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl Part {
    pub fn extend(&mut self, other: Part) {
        self.actions.extend(other.actions);
        self.problems.extend(other.problems);
        self.notes.extend(other.notes);
    }
}

/// How a plan leaves the stack, for exit codes and conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PlanStatus {
    InSync,
    ChangesPending,
    Waiting,
    Drifted,
    Blocked,
}

impl Plan {
    /// Adds a concern's decisions to the stack's plan.
    pub fn add(&mut self, part: Part) {
        self.actions.extend(part.actions);
        self.problems.extend(part.problems);
        self.notes.extend(part.notes);
    }

    pub fn status(&self) -> PlanStatus {
        if self.blocked.is_some() || !self.problems.is_empty() {
            PlanStatus::Blocked
        } else if !self.actions.is_empty() {
            PlanStatus::ChangesPending
        } else if self.waiting.is_some() {
            PlanStatus::Waiting
        } else if !self.drift.drifted().is_empty() {
            PlanStatus::Drifted
        } else {
            PlanStatus::InSync
        }
    }
}
