//! controller: one reconcile pass of a stack — observe → plan → act — with its span,
//! its call count and its outcome. `plan`, `apply` and the daemon all run this.

pub mod daemon;
mod owned;
mod protect;
mod schedule;
mod shared;
pub mod source;
pub mod status;

pub use schedule::{NextRun, Trigger, next_run, retry_backoff};
pub use shared::{NotReady, Pushed, Shared};

use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::Instrument;

use crate::act::{self, Applied, Strategy};
use crate::aws::CallTally;
use crate::context::Context;
use crate::desired::{ImageChatStack, Mode};
use crate::observe::health::HealthDepth;
use crate::observe::{self, Drift, LiveState};
use crate::plan::health::Health;
use crate::plan::{self, Plan, PlanStatus};
use crate::render::RenderedStack;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug)]
pub struct PassOptions {
    /// What the caller allows; a document in `policy.mode: observe` is never enforced.
    pub strategy: Strategy,
    /// Run CloudFormation drift detection in this pass (slow; on its own interval).
    pub detect_drift: bool,
    /// Why the pass runs (recorded on its span, summary line and status).
    pub trigger: Trigger,
    /// How much of the stack's health to read (the rest only on its own interval).
    pub health: HealthDepth,
    /// In a dry run, read CloudFormation's resource-level changes of a stack update from
    /// a change set made for it and deleted after (`plan --changes`; it writes).
    pub preview_changes: bool,
}

/// How a pass ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Nothing differed; nothing was written.
    InSync,
    /// Changes were made and the stack is now as desired.
    Applied,
    /// Changes are pending and were not made (dry run or observe mode).
    Pending,
    /// CloudFormation is busy with the stack.
    Waiting,
    /// Resources drifted from the template (reported; CloudFormation does not revert it).
    Drifted,
    /// A person must act; see the plan's reason.
    Blocked,
    /// `policy.suspend` is set; the stack was not read.
    Suspended,
    Failed,
}

impl Outcome {
    /// A short, stable label for logs and metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Outcome::InSync => "in_sync",
            Outcome::Applied => "applied",
            Outcome::Pending => "pending",
            Outcome::Waiting => "waiting",
            Outcome::Drifted => "drifted",
            Outcome::Blocked => "blocked",
            Outcome::Suspended => "suspended",
            Outcome::Failed => "failed",
        }
    }
}

/// Everything a pass learned and did, for logs, `/status` and the CLI.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub name: String,
    pub trigger: Trigger,
    pub outcome: Outcome,
    pub plan: Option<Plan>,
    pub applied: Vec<Applied>,
    #[serde(skip)]
    pub error: Option<Error>,
    pub error_message: Option<String>,
    pub calls: Calls,
    pub duration_ms: u128,
    /// Whether both services run as many tasks as they should, and the counts.
    pub ready: Option<Readiness>,
    /// The components judged in this pass (the services always; the rest in a full read).
    pub health: Option<Health>,
}

/// Whether the services run as many tasks as they should, and the counts as text.
pub(crate) type Readiness = (bool, String);

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Calls {
    pub reads: u64,
    pub writes: u64,
}

impl From<CallTally> for Calls {
    fn from(t: CallTally) -> Self {
        Calls {
            reads: t.reads,
            writes: t.writes,
        }
    }
}

/// One pass over one stack. Never panics and never returns early without a report: a
/// failure is the report's outcome, so one stack's error cannot stop the others.
pub async fn reconcile(doc: &ImageChatStack, ctx: &Context, opts: PassOptions) -> PassReport {
    let span = tracing::info_span!("reconcile", stack = %doc.name, stack_name = %doc.spec.stack_name, region = %doc.spec.region, trigger = opts.trigger.label());
    async {
        let started = Instant::now();
        let counter = ctx.calls.child();
        let mut report = PassReport {
            name: doc.name.clone(),
            trigger: opts.trigger,
            outcome: Outcome::InSync,
            plan: None,
            applied: Vec::new(),
            error: None,
            error_message: None,
            calls: Calls::default(),
            duration_ms: 0,
            ready: None,
            health: None,
        };
        if doc.spec.policy.suspend {
            report.outcome = Outcome::Suspended;
        } else if let Err(e) = pass(doc, ctx, opts, &counter, &mut report).await {
            report.outcome = if matches!(e, Error::Blocked { .. }) {
                Outcome::Blocked
            } else {
                Outcome::Failed
            };
            report.error_message = Some(e.to_string());
            report.error = Some(e);
        }
        report.calls = counter.since(&Default::default()).into();
        report.duration_ms = started.elapsed().as_millis();
        report
    }
    .instrument(span)
    .await
}

async fn pass(
    doc: &ImageChatStack,
    ctx: &Context,
    opts: PassOptions,
    counter: &crate::aws::CallCounter,
    report: &mut PassReport,
) -> Result<()> {
    let desired = RenderedStack::new(doc)?;
    let clients = ctx.clients(&doc.spec.region, counter);
    let mut live = LiveState {
        stack: observe::describe_stack(&clients, &desired.stack_name).await?,
        ..LiveState::default()
    };
    let settled = live
        .stack
        .as_ref()
        .is_some_and(|s| !s.status.ends_with("_IN_PROGRESS"));
    if opts.detect_drift && settled {
        live.drift = drift(ctx, &clients, &desired.stack_name).await;
    }
    let key = plan::history_key(&desired.region, &desired.stack_name);
    if let Some(stack) = live.stack.as_ref().filter(|_| settled) {
        live.stack_policy =
            protect::read_stack_policy(stack, ctx, &clients, &key, opts.detect_drift).await?;
    }

    let mut plan = plan::plan_stack(&desired, &live, &ctx.history(&key));
    let strategy = match doc.spec.policy.mode {
        Mode::Observe => Strategy::DryRun,
        Mode::Enforce => opts.strategy,
    };
    report.plan = Some(plan.clone());
    if let Some(reason) = &plan.blocked {
        return Err(Error::Blocked {
            stack: desired.stack_name.clone(),
            reason: reason.clone(),
        });
    }
    // A stack update may start LiteLLM tasks (a new task definition rolls the service),
    // and a task without its config exits: a config object gone missing goes back first.
    owned::guard_config(doc, &desired, live.stack.as_ref(), ctx, &clients, &mut plan).await?;
    if opts.preview_changes && strategy == Strategy::DryRun {
        plan.resource_changes = act::preview(&plan, ctx, &clients).await?;
        protect::refuse_data_loss(&mut plan);
    }
    report.plan = Some(plan.clone());
    let stack_actions = plan.actions.clone();
    let done = act::execute(&plan, &stack_actions, strategy, ctx, &clients).await;
    report.applied = done.applied;
    if let Some(e) = done.errors.into_iter().next() {
        return Err(e);
    }

    // The owned fields live where the stack's outputs say; after a stack change the
    // outputs are read again.
    let stack_now = if stack_actions.is_empty() || strategy == Strategy::DryRun {
        live.stack.clone()
    } else {
        observe::describe_stack(&clients, &desired.stack_name).await?
    };
    let owned = owned::plan_owned(
        doc,
        &desired,
        stack_now.as_ref(),
        ctx,
        &clients,
        &key,
        &mut plan,
        opts.health,
    )
    .await?;
    let owned_actions = owned.actions;
    report.ready = owned.ready;
    report.health = owned.health;
    report.plan = Some(plan.clone());
    let done = act::execute(&plan, &owned_actions, strategy, ctx, &clients).await;
    report.applied.extend(done.applied);
    let mut errors = done.errors;
    if errors.len() == 1 {
        return Err(errors.remove(0));
    }
    if !errors.is_empty() {
        return Err(Error::Several(errors));
    }
    let status = plan.status();
    if !plan.problems.is_empty() {
        return Err(Error::Blocked {
            stack: desired.stack_name.clone(),
            reason: plan.problems.join("; "),
        });
    }
    report.outcome = match (status, strategy) {
        (PlanStatus::ChangesPending, Strategy::Enforce) => Outcome::Applied,
        (PlanStatus::ChangesPending, Strategy::DryRun) => Outcome::Pending,
        (PlanStatus::Waiting, _) => Outcome::Waiting,
        (PlanStatus::Drifted, _) => Outcome::Drifted,
        (PlanStatus::InSync, _) => Outcome::InSync,
        (PlanStatus::Blocked, _) => Outcome::Blocked,
    };
    Ok(())
}

async fn drift(ctx: &Context, clients: &crate::aws::Clients, stack: &str) -> Drift {
    let result = observe::detect_drift(
        clients,
        stack,
        ctx.settings.poll_interval,
        ctx.settings.changeset_timeout,
    )
    .await;
    match result {
        Ok(Drift::Unavailable { reason }) => {
            if ctx.first_time("drift-unavailable") {
                tracing::warn!(%reason, "drift detection is not available on this endpoint; going on without it (said once)");
            }
            Drift::Unavailable { reason }
        }
        Ok(d) => d,
        // Drift is a report, not a precondition: a failed detection must not fail the pass.
        Err(e) => {
            tracing::warn!(error = %e, "drift detection failed; the next interval tries again");
            Drift::Unavailable {
                reason: e.to_string(),
            }
        }
    }
}

/// One line per pass, as Flux logs it: what happened, how long, what it cost, and when
/// the next pass runs (in the daemon).
pub(crate) fn log_summary(r: &PassReport, next: Option<Duration>) {
    let next = next
        .map(|d| {
            format!(
                ", next run in {}",
                humantime::format_duration(Duration::from_secs(d.as_secs().max(1)))
            )
        })
        .unwrap_or_default();
    let actions: Vec<&str> = r.applied.iter().map(|a| a.action.as_str()).collect();
    let outcome = r.outcome.label();
    let trigger = r.trigger.label();
    let health = health_summary(r.health.as_ref());
    match &r.error_message {
        Some(err) => tracing::error!(
            outcome, trigger, duration_ms = r.duration_ms as u64, aws_reads = r.calls.reads, aws_writes = r.calls.writes, %health, error = %err,
            "reconcile failed in {} ms{next}", r.duration_ms
        ),
        None => tracing::info!(
            outcome, trigger, duration_ms = r.duration_ms as u64, actions = ?actions, aws_reads = r.calls.reads, aws_writes = r.calls.writes, %health,
            "reconciled in {} ms: {outcome}, {health}{next}", r.duration_ms
        ),
    }
}

/// `ready`, or the components that are not: `degraded: litellm (RolledBack)`.
pub(crate) fn health_summary(health: Option<&Health>) -> String {
    let Some(h) = health else {
        return "health not read".into();
    };
    let degraded: Vec<String> = h
        .degraded()
        .map(|c| format!("{} ({})", c.name, c.reason))
        .collect();
    let progressing: Vec<&str> = h
        .components
        .iter()
        .filter(|c| c.status == crate::plan::health::HealthStatus::Progressing)
        .map(|c| c.name)
        .collect();
    match (h.blocking(), degraded.is_empty(), progressing.is_empty()) {
        (Some(b), _, _) => format!("not ready: {} ({})", b.name, b.reason),
        (None, false, _) => format!("degraded: {}", degraded.join(", ")),
        (None, true, false) => format!("progressing: {}", progressing.join(", ")),
        (None, true, true) => "ready".into(),
    }
}
