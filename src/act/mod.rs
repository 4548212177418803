//! act: executes a plan's actions, logging each. Actions of one concern (the stack, the
//! services, the model config, the backup plan) run in order and stop at the first
//! failure, since later ones build on earlier ones; different concerns run concurrently
//! and one's failure does not stop the others.

mod backup;
mod changeset;
mod litellm;
mod services;
mod stack;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Error;
use crate::aws::Clients;
use crate::context::Context;
use crate::plan::{Action, ActionKind, Concern, Plan};

pub use changeset::preview;

/// How a pass treats its plan: passed down as a value rather than checked in many places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    /// Make AWS match the plan.
    Enforce,
    /// Report only (the `plan` command, `policy.mode: observe`, a non-leader daemon).
    DryRun,
}

/// What executing one action did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub action: String,
    pub result: Effect,
}

/// How an action ended when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Done,
    /// AWS found nothing to change (an empty change set).
    NoOp,
    /// The endpoint lacked part of the operation (said in the log).
    Partial,
}

/// What an execution did and what failed.
#[derive(Debug, Default)]
pub struct Execution {
    pub applied: Vec<Applied>,
    pub errors: Vec<Error>,
}

impl Execution {
    /// What was applied, or the first error.
    pub fn into_result(self) -> crate::Result<Vec<Applied>> {
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.applied),
        }
    }
}

/// Executes `actions` of `plan` under `strategy`.
pub async fn execute(
    plan: &Plan,
    actions: &[Action],
    strategy: Strategy,
    ctx: &Context,
    clients: &Clients,
) -> Execution {
    let mut execution = Execution::default();
    if strategy == Strategy::DryRun || actions.is_empty() {
        return execution;
    }
    let mut groups: BTreeMap<Concern, Vec<&Action>> = BTreeMap::new();
    for a in actions {
        groups.entry(a.kind.concern()).or_default().push(a);
    }
    let runs = groups
        .into_values()
        .map(|group| run_group(plan, group, ctx, clients));
    for (applied, error) in futures::future::join_all(runs).await {
        execution.applied.extend(applied);
        execution.errors.extend(error);
    }
    execution
}

async fn run_group(
    plan: &Plan,
    group: Vec<&Action>,
    ctx: &Context,
    clients: &Clients,
) -> (Vec<Applied>, Option<Error>) {
    let mut applied = Vec::new();
    for action in group {
        tracing::info!(stack = %plan.name, action = action.kind.name(), reason = %action.reason, "applying");
        // The concern orders the actions; the API each one calls picks its executor.
        use ActionKind::*;
        let result = match &action.kind {
            CreateStack { .. }
            | UpdateStack { .. }
            | EnableTerminationProtection
            | SetStackPolicy { .. }
            | ContinueUpdateRollback { .. }
            | DeleteFailedStack { .. } => stack::execute(action, plan, ctx, clients).await,
            SetDesiredCount { .. }
            | RegisterScalableTarget { .. }
            | PutCpuScalingPolicy { .. }
            | DeregisterScalableTarget { .. } => services::execute(action, clients).await,
            PushModelConfig(_) | RestoreModelConfig(_) | RedeployLiteLlm { .. } => {
                litellm::execute(action, clients).await
            }
            CreateBackupPlan { .. } | UpdateBackupPlan { .. } | ReplaceBackupSelections { .. } => {
                backup::execute(action, plan, ctx, clients).await
            }
        };
        match result {
            Ok(result) => applied.push(Applied {
                action: action.kind.name().to_string(),
                result,
            }),
            Err(e) => {
                tracing::error!(stack = %plan.name, action = action.kind.name(), error = %e, "action failed; the rest of this concern waits for the next pass");
                return (applied, Some(e));
            }
        }
    }
    (applied, None)
}

fn misrouted(kind: &ActionKind) -> Error {
    Error::Internal(format!("action {} reached the wrong executor", kind.name()))
}
