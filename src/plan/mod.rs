//! plan: the pure diff `(desired, live) -> Plan`. No I/O, so every rule is unit tested
//! without AWS. A plan is a list of typed actions, each with the reason a person reads;
//! an empty plan means "in sync" and leads to zero writes.

mod stack;

pub use stack::plan_stack;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::observe::Drift;

/// The key of a stack in the context's history: region and stack name.
pub fn history_key(region: &str, stack_name: &str) -> String {
    format!("{region}/{stack_name}")
}

/// What earlier passes did that the next plan must know (kept by the controller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// `stack id @ last change` of the failed update a ContinueUpdateRollback was tried on.
    pub continue_rollback_tried: Option<String>,
}

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
pub fn diff_maps(from: &BTreeMap<String, String>, to: &BTreeMap<String, String>) -> Vec<Change> {
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    },
    EnableTerminationProtection,
    /// Resume a rollback that failed (once per failure; then a person must look).
    /// `attempt` identifies the failure, for `History`.
    ContinueUpdateRollback {
        attempt: String,
    },
    /// Delete a stack whose create failed and rolled back; EFS is retained by policy.
    DeleteFailedStack {
        stack_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    pub fn status(&self) -> PlanStatus {
        if self.blocked.is_some() {
            PlanStatus::Blocked
        } else if !self.actions.is_empty() {
            PlanStatus::ChangesPending
        } else if self.waiting.is_some() {
            PlanStatus::Waiting
        } else if matches!(self.drift, Drift::Drifted { .. }) {
            PlanStatus::Drifted
        } else {
            PlanStatus::InSync
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.actions.len();
        let status = match self.status() {
            PlanStatus::InSync => "in sync".to_string(),
            PlanStatus::ChangesPending => format!("{n} change{}", if n == 1 { "" } else { "s" }),
            PlanStatus::Waiting => "waiting".to_string(),
            PlanStatus::Drifted => "drifted".to_string(),
            PlanStatus::Blocked => "blocked".to_string(),
        };
        writeln!(
            f,
            "stack {} ({} in {}): {status}",
            self.name, self.stack_name, self.region
        )?;
        for a in &self.actions {
            let (sign, what) = match &a.kind {
                ActionKind::CreateStack { .. } => ("+", "create stack"),
                ActionKind::UpdateStack { .. } => ("~", "update stack"),
                ActionKind::EnableTerminationProtection => ("~", "enable termination protection"),
                ActionKind::ContinueUpdateRollback { .. } => ("~", "continue update rollback"),
                ActionKind::DeleteFailedStack { .. } => ("-", "delete failed stack"),
            };
            writeln!(f, "  {sign} {what}: {}", a.reason)?;
            match &a.kind {
                ActionKind::UpdateStack { changes, .. } => {
                    for c in changes {
                        writeln!(f, "      {c}")?;
                    }
                }
                ActionKind::CreateStack { parameters, .. } => {
                    for (k, v) in parameters {
                        writeln!(f, "      {k} = {v:?}")?;
                    }
                }
                _ => {}
            }
        }
        if let Some(w) = &self.waiting {
            writeln!(f, "  … {w}")?;
        }
        if let Some(b) = &self.blocked {
            writeln!(f, "  ! blocked: {b}")?;
        }
        match &self.drift {
            Drift::NotChecked => {}
            Drift::InSync => writeln!(f, "  drift: none")?,
            Drift::Unavailable { reason } => writeln!(f, "  drift: not checked ({reason})")?,
            Drift::Drifted { resources } => {
                writeln!(
                    f,
                    "  ! drift: {} resource(s) differ from the template (CloudFormation does not revert drift; recreate or update them):",
                    resources.len()
                )?;
                for r in resources {
                    let props = if r.properties.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.properties.join(", "))
                    };
                    writeln!(
                        f,
                        "      {} {} {}{props}",
                        r.logical_id, r.resource_type, r.status
                    )?;
                }
            }
        }
        Ok(())
    }
}
