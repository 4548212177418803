//! The plan as a versioned document (`plan --output json`, docs/plan-schema.json): its
//! own types, so that a refactor of the planner cannot change what tools read. A field is
//! only ever added within a `planVersion`; a rename or removal bumps it.

use serde::Serialize;

use crate::controller::{Outcome, PassReport};
use crate::observe::Drift;
use crate::plan::changes::ResourceChanges;
use crate::plan::health::Health;
use crate::plan::{Change, Concern, PlanStatus};

/// Bumped on any change a reader could trip over (a field renamed, removed or retyped).
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDocument<'a> {
    pub plan_version: u32,
    pub operator_version: &'static str,
    pub generated_at: String,
    /// The command's exit code: 0 in sync, 2 something pending, 1 failed or blocked.
    pub exit_code: u8,
    /// Whether resource-level changes were computed (`--changes`).
    pub resource_changes_computed: bool,
    pub summary: Summary,
    pub stacks: Vec<StackPlan<'a>>,
    /// Stacks the operator created that no document names any more (left as they are).
    pub orphaned: &'a [super::Orphan],
    /// Regions where they could not be listed, with why.
    pub orphans_unchecked: &'a [String],
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub stacks: usize,
    pub with_changes: usize,
    pub in_sync: usize,
    pub waiting: usize,
    pub drifted: usize,
    pub blocked: usize,
    pub failed: usize,
    /// Actions and resource changes that delete or replace something.
    pub destructive: usize,
    pub orphaned: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackPlan<'a> {
    pub name: &'a str,
    pub stack_name: Option<&'a str>,
    pub region: Option<&'a str>,
    pub outcome: Outcome,
    /// `None` when the pass failed before a plan was made.
    pub status: Option<PlanStatus>,
    pub actions: Vec<ActionPlan<'a>>,
    /// The stack's parameters that change (all of them, from null, on a create).
    pub parameter_changes: Vec<Change>,
    /// The fields the operator owns outside the template (counts, autoscaling, the
    /// LiteLLM config, the backup plan) that change.
    pub owned_field_changes: Vec<Change>,
    pub resource_changes: Option<&'a ResourceChanges>,
    pub drift: Option<&'a Drift>,
    pub health: Option<&'a Health>,
    pub waiting: Option<&'a str>,
    pub blocked: Option<&'a str>,
    pub problems: &'a [String],
    pub notes: &'a [String],
    pub error: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionPlan<'a> {
    /// The operation, e.g. `UpdateStack`, `SetDesiredCount`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `stack`, `services`, `liteLLM` or `backup`.
    pub concern: &'static str,
    pub reason: &'a str,
    pub destructive: bool,
}

impl<'a> PlanDocument<'a> {
    pub fn new(
        reports: &'a [PassReport],
        exit_code: u8,
        changes: bool,
        orphans: &'a super::Orphans,
    ) -> Self {
        let stacks: Vec<StackPlan<'a>> = reports.iter().map(StackPlan::new).collect();
        let count = |o: Outcome| reports.iter().filter(|r| r.outcome == o).count();
        let summary = Summary {
            stacks: reports.len(),
            with_changes: count(Outcome::Pending),
            in_sync: count(Outcome::InSync),
            waiting: count(Outcome::Waiting),
            drifted: count(Outcome::Drifted),
            blocked: count(Outcome::Blocked),
            failed: count(Outcome::Failed),
            destructive: stacks.iter().map(StackPlan::destructive_count).sum(),
            orphaned: orphans.stacks.len(),
        };
        PlanDocument {
            plan_version: PLAN_VERSION,
            operator_version: env!("CARGO_PKG_VERSION"),
            generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
            exit_code,
            resource_changes_computed: changes,
            summary,
            stacks,
            orphaned: &orphans.stacks,
            orphans_unchecked: &orphans.unchecked,
        }
    }
}

impl<'a> StackPlan<'a> {
    fn new(r: &'a PassReport) -> Self {
        let plan = r.plan.as_ref();
        let actions = plan.map(|p| p.actions.as_slice()).unwrap_or_default();
        StackPlan {
            name: &r.name,
            stack_name: plan.map(|p| p.stack_name.as_str()),
            region: plan.map(|p| p.region.as_str()),
            outcome: r.outcome,
            status: plan.map(|p| p.status()),
            actions: actions
                .iter()
                .map(|a| ActionPlan {
                    kind: a.kind.name(),
                    concern: concern_label(a.kind.concern()),
                    reason: &a.reason,
                    destructive: a.kind.destructive(),
                })
                .collect(),
            parameter_changes: actions
                .iter()
                .flat_map(|a| a.kind.parameter_changes())
                .collect(),
            owned_field_changes: actions
                .iter()
                .flat_map(|a| a.kind.owned_field_changes())
                .collect(),
            resource_changes: plan.and_then(|p| p.resource_changes.as_ref()),
            drift: plan.map(|p| &p.drift),
            health: r.health.as_ref(),
            waiting: plan.and_then(|p| p.waiting.as_deref()),
            blocked: plan.and_then(|p| p.blocked.as_deref()),
            problems: plan.map(|p| p.problems.as_slice()).unwrap_or_default(),
            notes: plan.map(|p| p.notes.as_slice()).unwrap_or_default(),
            error: r.error_message.as_deref(),
        }
    }

    pub fn destructive_count(&self) -> usize {
        let resources = self
            .resource_changes
            .map(|rc| rc.changes().iter().filter(|c| c.destructive()).count())
            .unwrap_or_default();
        self.actions.iter().filter(|a| a.destructive).count() + resources
    }

    /// Whether the plan updates the stack (so that `--changes` would say more).
    pub fn updates_stack(&self) -> bool {
        self.actions.iter().any(|a| a.kind == "UpdateStack")
    }
}

fn concern_label(c: Concern) -> &'static str {
    match c {
        Concern::Stack => "stack",
        Concern::Services => "services",
        Concern::LiteLlm => "liteLLM",
        Concern::Backup => "backup",
    }
}
