//! What `/status` shows: per stack, conditions `Valid`, `Synced`, `Ready`, `Drifted`
//! (each with status, reason, message and the time it last changed), the last plan, the
//! last error and the next scheduled run; and the desired state's own health.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use super::{Outcome, PassReport};
use crate::observe::Drift;
use crate::plan::Plan;
use crate::plan::health::{Component, Health, HealthStatus};

pub(crate) fn now_rfc3339() -> String {
    at_rfc3339(SystemTime::now())
}

pub(crate) fn at_rfc3339(t: SystemTime) -> String {
    DateTime::from(t).fmt(Format::DateTime).unwrap_or_default()
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `True`, `False` or `Unknown`, as Kubernetes writes them.
    pub status: &'static str,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
}

/// A component's health as `/status` shows it: the judgement, since when it holds, and
/// when it was last read (a component outside the quick read keeps its last reading).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    #[serde(flatten)]
    pub component: Component,
    pub since: String,
    pub checked_at: String,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackStatus {
    pub name: String,
    pub stack_name: String,
    pub region: String,
    pub conditions: Vec<Condition>,
    /// Per component: Healthy, Progressing, Degraded or Unknown, with reason and remedy.
    pub health: Vec<ComponentStatus>,
    pub last_outcome: Option<Outcome>,
    /// Why the last pass ran (`resync`, `desiredChanged`, `requested`, `webhook`, `retry` …).
    pub last_trigger: Option<super::Trigger>,
    pub last_plan: Option<Plan>,
    pub last_error: Option<String>,
    pub last_run: Option<String>,
    pub next_run: Option<String>,
}

impl StackStatus {
    /// Sets a condition; its transition time moves only when its status changes.
    pub fn set(&mut self, kind: &'static str, status: &'static str, reason: &str, message: &str) {
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = now_rfc3339();
                }
                c.status = status;
                c.reason = reason.to_string();
                c.message = message.to_string();
            }
            None => self.conditions.push(Condition {
                kind,
                status,
                reason: reason.to_string(),
                message: message.to_string(),
                last_transition_time: now_rfc3339(),
            }),
        }
    }

    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// Folds a finished pass into the conditions.
    pub fn record(&mut self, report: &PassReport, next: Duration) {
        let msg = report.error_message.clone().unwrap_or_default();
        let (status, reason) = match report.outcome {
            Outcome::InSync | Outcome::Applied => ("True", "InSync"),
            Outcome::Pending => ("False", "ChangesPending"),
            Outcome::Waiting => ("False", "StackBusy"),
            Outcome::Drifted => ("True", "InSyncWithDrift"),
            Outcome::Blocked => ("False", "Blocked"),
            Outcome::Suspended => ("Unknown", "Suspended"),
            Outcome::Failed => ("False", "ReconcileFailed"),
        };
        let message = if msg.is_empty() {
            match report.outcome {
                Outcome::Applied => format!(
                    "applied {}",
                    report
                        .applied
                        .iter()
                        .map(|a| a.action.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Outcome::Pending => {
                    "observe mode or not the leader: changes were reported, not made".into()
                }
                _ => String::new(),
            }
        } else {
            msg.clone()
        };
        if let Some(h) = &report.health {
            self.merge_health(h);
        }
        let rolled_back = self
            .health
            .iter()
            .find(|c| c.component.reason == "RolledBack")
            .map(|c| c.component.message.clone());
        match rolled_back {
            // The stack says the change was made; ECS runs the old version.
            Some(m) if report.outcome != Outcome::Failed => {
                self.set("Synced", "False", "RolledBack", &m)
            }
            _ => self.set("Synced", status, reason, &message),
        }
        let blocking = self
            .health
            .iter()
            .find(|c| c.component.blocking)
            .map(|c| (c.component.reason.clone(), describe(&c.component)));
        match (&report.ready, blocking) {
            (_, Some((reason, m))) => self.set("Ready", "False", &reason, &m),
            (Some((true, m)), None) => self.set("Ready", "True", "ServicesRunning", m),
            (Some((false, m)), None) => self.set("Ready", "False", "ServicesNotRunning", m),
            (None, None) => {}
        }
        if !self.health.is_empty() {
            let degraded: Vec<&Component> = self
                .health
                .iter()
                .map(|c| &c.component)
                .filter(|c| c.status == HealthStatus::Degraded)
                .collect();
            match degraded.first() {
                Some(first) => {
                    let all: Vec<String> = degraded.iter().map(|c| describe(c)).collect();
                    self.set("Degraded", "True", &first.reason.clone(), &all.join("; "));
                }
                None => self.set("Degraded", "False", "NothingDegraded", ""),
            }
        }
        if let Some(plan) = &report.plan {
            let drifted = plan
                .drift
                .drifted()
                .iter()
                .map(|r| format!("{} {}", r.logical_id, r.status))
                .collect::<Vec<_>>()
                .join(", ");
            match &plan.drift {
                Drift::Drifted { .. } => self.set("Drifted", "True", "ResourcesDrifted", &drifted),
                Drift::Incomplete { reason, .. } if !drifted.is_empty() => self.set(
                    "Drifted",
                    "True",
                    "ResourcesDrifted",
                    &format!("{drifted} (detection incomplete: {reason})"),
                ),
                Drift::Incomplete { reason, .. } => {
                    self.set("Drifted", "Unknown", "DetectionIncomplete", reason)
                }
                Drift::InSync { .. } => self.set("Drifted", "False", "NoDrift", ""),
                Drift::Unavailable { reason } => {
                    self.set("Drifted", "Unknown", "DetectionUnavailable", reason)
                }
                Drift::NotChecked => {}
            }
            self.last_plan = Some(plan.clone());
        }
        self.last_outcome = Some(report.outcome);
        self.last_trigger = Some(report.trigger);
        self.last_error = report.error_message.clone();
        self.last_run = Some(now_rfc3339());
        self.next_run = Some(at_rfc3339(SystemTime::now() + next));
    }
}

impl StackStatus {
    /// Folds this pass's components into the last known ones; each change of status or
    /// reason is logged once, when it happens.
    fn merge_health(&mut self, health: &Health) {
        let now = now_rfc3339();
        // What this reading covers but no longer has is gone (not stale-but-shown).
        self.health.retain(|o| {
            !health.covers(o.component.name)
                || health.components.iter().any(|c| c.name == o.component.name)
        });
        for c in &health.components {
            let old = self.health.iter_mut().find(|o| o.component.name == c.name);
            let changed = old
                .as_ref()
                .is_none_or(|o| o.component.status != c.status || o.component.reason != c.reason);
            if changed {
                let from = old.as_ref().map_or("none".to_string(), |o| {
                    format!("{} ({})", o.component.status.label(), o.component.reason)
                });
                let first_and_healthy = old.is_none() && c.status == HealthStatus::Healthy;
                if !first_and_healthy {
                    let (stack, component, to) = (&self.name, c.name, c.status.label());
                    let remedy = c.remedy.as_deref().unwrap_or("");
                    if c.status == HealthStatus::Degraded {
                        tracing::warn!(stack, component, from = %from, to, reason = %c.reason, remedy, "{component} is {to}: {}", c.message);
                    } else {
                        tracing::info!(stack, component, from = %from, to, reason = %c.reason, "{component} is {to}: {}", c.message);
                    }
                }
            }
            match old {
                Some(o) => {
                    if o.component.status != c.status {
                        o.since = now.clone();
                    }
                    o.component = c.clone();
                    o.checked_at = now.clone();
                }
                None => self.health.push(ComponentStatus {
                    component: c.clone(),
                    since: now.clone(),
                    checked_at: now.clone(),
                }),
            }
        }
    }
}

/// `component: message` for a condition's message.
fn describe(c: &Component) -> String {
    format!("{}: {}", c.name, c.message)
}

/// The desired state as last loaded.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredStatus {
    pub source: String,
    /// Whether the latest version is valid (if not, the last good one is in force).
    pub valid: bool,
    pub errors: Vec<String>,
    pub loaded_at: Option<String>,
    /// Git commit of the version in force, with a Git source.
    pub revision: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub desired: DesiredStatus,
    pub leader: bool,
    pub stacks: BTreeMap<String, StackStatus>,
}
