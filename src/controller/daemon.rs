//! The daemon: keeps every stack of the desired state reconciled. One worker per stack
//! (so a stack is never reconciled twice at once), at most `max_concurrent` passes at a
//! time; a worker runs on a desired-state change, on its resync timer (±10 % jitter), on
//! `POST /reconcile` (or a push webhook), or after an error with exponential backoff
//! (1 s → 5 min, reset on success). An invalid edit leaves the last good version in force.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::shared::Wake;
use super::status::{StackStatus, now_rfc3339};
use super::{NextRun, Shared, Trigger, next_run, retry_backoff};
use super::{PassOptions, log_summary, reconcile};
use crate::act::Strategy;
use crate::desired::{self, ImageChatStack, Invalid};
use crate::metrics::{PassMetrics, StackLabels};
use crate::observe::Drift;
use crate::observe::health::HealthDepth;
use crate::plan::health::{HealthStatus, Signature};

#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub resync: Duration,
    pub max_concurrent: usize,
    pub drift_interval: Duration,
    /// How often a steady stack's full health is read (an unsteady one's every pass).
    pub health_interval: Duration,
    pub shutdown_timeout: Duration,
}

/// How often the models' access is read again while nothing else asks for it.
const MODELS_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Full health reads in a row whose diagnosis changed, before the interval applies anyway.
const MAX_UNSETTLED_READS: u32 = 5;

/// A loaded desired state, or the errors of the latest attempt.
pub(crate) type Loaded = Result<Vec<ImageChatStack>, Invalid>;

/// Runs until `shutdown` turns true, then lets in-flight passes finish for up to
/// `shutdown_timeout`. `desired` delivers every new version of the desired state.
pub async fn run(
    shared: Arc<Shared>,
    opts: DaemonOptions,
    mut desired: watch::Receiver<Option<(Loaded, Option<String>)>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(opts.max_concurrent.max(1)));
    let mut workers: BTreeMap<String, (watch::Sender<ImageChatStack>, JoinHandle<()>)> =
        BTreeMap::new();
    let mut last_error_said: Option<Vec<String>> = None;
    loop {
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() { break; }
                let Some((loaded, revision)) = desired.borrow_and_update().clone() else { continue };
                match loaded {
                    Ok(stacks) => {
                        last_error_said = None;
                        apply_desired(&shared, &opts, &permits, &shutdown, &mut workers, stacks, revision);
                    }
                    Err(invalid) => {
                        let lines: Vec<String> = invalid.diagnostics.iter().map(ToString::to_string).collect();
                        // Said once per edit, not on every loop.
                        if last_error_said.as_ref() != Some(&lines) {
                            tracing::error!(errors = ?lines, "the desired state is invalid; the last valid version stays in force and nothing is written for this one");
                            last_error_said = Some(lines.clone());
                        }
                        mark_invalid(&shared, &invalid, lines);
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    tracing::info!(
        timeout_secs = opts.shutdown_timeout.as_secs(),
        "shutting down: letting passes in flight finish"
    );
    let handles: Vec<JoinHandle<()>> = workers.into_values().map(|(_, h)| h).collect();
    let all = futures::future::join_all(handles);
    if tokio::time::timeout(opts.shutdown_timeout, all)
        .await
        .is_err()
    {
        tracing::warn!("passes still in flight after the shutdown timeout; stopping anyway");
    }
}

fn apply_desired(
    shared: &Arc<Shared>,
    opts: &DaemonOptions,
    permits: &Arc<Semaphore>,
    shutdown: &watch::Receiver<bool>,
    workers: &mut BTreeMap<String, (watch::Sender<ImageChatStack>, JoinHandle<()>)>,
    stacks: Vec<ImageChatStack>,
    revision: Option<String>,
) {
    {
        let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
        status.desired.valid = true;
        status.desired.errors.clear();
        status.desired.loaded_at = Some(now_rfc3339());
        status.desired.revision = revision;
        for s in &stacks {
            let entry = status
                .stacks
                .entry(s.name.clone())
                .or_insert_with(|| StackStatus {
                    name: s.name.clone(),
                    ..Default::default()
                });
            entry.stack_name = s.spec.stack_name.clone();
            entry.region = s.spec.region.clone();
            entry.set(
                "Valid",
                "True",
                "Valid",
                &format!("loaded from {}", s.source),
            );
            if entry.conditions.iter().any(|c| c.kind == "Orphaned") {
                entry.set(
                    "Orphaned",
                    "False",
                    "DocumentRestored",
                    "its document is back in the desired state; the stack is reconciled again",
                );
                shared
                    .metrics
                    .orphaned
                    .get_or_create(&StackLabels {
                        stack: s.name.clone(),
                    })
                    .set(0);
            }
        }
        let names: Vec<&str> = stacks.iter().map(|s| s.name.as_str()).collect();
        // A stack whose document went is kept in /status as Orphaned, as Argo CD shows
        // an orphaned resource: nothing is deleted because a file moved, and ops see
        // that it is no longer reconciled.
        for (name, entry) in status.stacks.iter_mut() {
            if !names.contains(&name.as_str()) {
                entry.set(
                    "Orphaned",
                    "True",
                    "DocumentRemoved",
                    "its document was removed from the desired state: the stack is left as it is and no longer reconciled (restore the document to manage it again; the operator deletes nothing because a file moved)",
                );
                shared
                    .metrics
                    .orphaned
                    .get_or_create(&StackLabels {
                        stack: name.clone(),
                    })
                    .set(1);
            }
        }
    }
    let names: Vec<String> = stacks.iter().map(|s| s.name.clone()).collect();
    workers.retain(|name, (_, handle)| {
        let keep = names.contains(name);
        if !keep {
            // The operator never deletes what a removed document described.
            tracing::warn!(stack = %name, "document removed from the desired state: the stack is no longer managed (nothing is deleted)");
            handle.abort();
            shared.triggers.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        }
        keep
    });
    for doc in stacks {
        match workers.get(&doc.name) {
            Some((tx, _)) => {
                if *tx.borrow() != doc {
                    let _ = tx.send(doc);
                }
            }
            None => {
                let name = doc.name.clone();
                let wake = Arc::new(Wake::default());
                shared
                    .triggers
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone(), Arc::clone(&wake));
                let (tx, rx) = watch::channel(doc);
                let handle = tokio::spawn(worker(
                    Arc::clone(shared),
                    opts.clone(),
                    Arc::clone(permits),
                    rx,
                    wake,
                    shutdown.clone(),
                ));
                workers.insert(name, (tx, handle));
            }
        }
    }
}

/// An invalid edit: `Valid` goes False on the stacks whose files have errors.
fn mark_invalid(shared: &Shared, invalid: &Invalid, lines: Vec<String>) {
    let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
    status.desired.valid = false;
    status.desired.errors = lines;
    let files: Vec<&PathBuf> = invalid.diagnostics.iter().map(|d| &d.file).collect();
    let message = invalid
        .diagnostics
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    for stack in status.stacks.values_mut() {
        let from_bad_file = stack.condition("Valid").is_some_and(|c| {
            files
                .iter()
                .any(|f| c.message.contains(&*f.to_string_lossy()))
        });
        if from_bad_file || files.is_empty() {
            stack.set("Valid", "False", "InvalidDesiredState", &message);
        }
    }
}

async fn worker(
    shared: Arc<Shared>,
    opts: DaemonOptions,
    permits: Arc<Semaphore>,
    mut doc: watch::Receiver<ImageChatStack>,
    wake: Arc<Wake>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = retry_backoff();
    let mut last_drift: Option<Instant> = None;
    // When the full health was last read, and what it concluded.
    let mut last_health: Option<(Instant, Signature)> = None;
    let mut steady = false;
    let mut last_models: Option<Instant> = None;
    let mut models_settled = false;
    let mut unsettled_reads = 0u32;
    let mut next = NextRun {
        wait: Duration::ZERO,
        trigger: Trigger::Start,
    };
    loop {
        let trigger = tokio::select! {
            _ = tokio::time::sleep(next.wait) => next.trigger,
            _ = wake.notify.notified() => wake.reason(),
            changed = doc.changed() => {
                if changed.is_err() { return; }
                Trigger::DesiredChanged
            }
            _ = shutdown.changed() => return,
        };
        if *shutdown.borrow() {
            return;
        }
        let Ok(_permit) = permits.acquire().await else {
            return;
        };
        let current = doc.borrow_and_update().clone();
        let detect_drift = last_drift.is_none_or(|t| t.elapsed() >= opts.drift_interval);
        // The full health is read when something is not steady (a component on its way,
        // or a diagnosis that changed since the last full read: read again until it
        // settles), after an edit, a request or a change of leader, and otherwise on its
        // interval; a pass in between judges the services from the DescribeServices it
        // makes anyway. A settled Degraded costs no more than Healthy.
        let asked = matches!(
            trigger,
            Trigger::DesiredChanged | Trigger::Requested | Trigger::Webhook | Trigger::Leadership
        );
        let full_health = !steady
            || asked
            || last_health
                .as_ref()
                .is_none_or(|(t, _)| t.elapsed() >= opts.health_interval);
        // A model's access changes when a person grants it in the console, rarely: its
        // reads (two per model) come hourly, on an edit or a request, or while unsettled.
        let models_due =
            asked || !models_settled || last_models.is_none_or(|t| t.elapsed() >= MODELS_INTERVAL);
        let health = match (full_health, models_due) {
            (false, _) => HealthDepth::Quick,
            (true, false) => HealthDepth::Infra,
            (true, true) => HealthDepth::Full,
        };
        let strategy = if shared.leader.load(Ordering::Relaxed) {
            Strategy::Enforce
        } else {
            Strategy::DryRun
        };
        let report = reconcile(
            &current,
            &shared.ctx,
            PassOptions {
                strategy,
                detect_drift,
                trigger,
                health,
                preview_changes: false,
            },
        )
        .await;
        if let Some(h) = &report.health {
            let mut settled = true;
            if full_health {
                // The models' reading stays from the last read that made it.
                let mut signature = h.signature();
                let previous = last_health
                    .as_ref()
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                if health == HealthDepth::Infra {
                    signature.extend(previous.iter().filter(|c| c.0 == "models").cloned());
                    signature.sort_by_key(|c| c.0);
                } else {
                    let models = |s: &Signature| s.iter().find(|c| c.0 == "models").cloned();
                    // Access granted in the console should show within the health
                    // interval, not the hour: degraded models are read on every full read.
                    models_settled = last_models.is_some()
                        && models(&signature) == models(&previous)
                        && models(&signature).is_none_or(|m| m.1 != HealthStatus::Degraded);
                    last_models = Some(Instant::now());
                }
                settled = !previous.is_empty() && previous == signature;
                // A diagnosis that keeps changing (a crash loop's varying causes) is read
                // every pass a few times, then on the interval like any other.
                unsettled_reads = if settled { 0 } else { unsettled_reads + 1 };
                settled |= unsettled_reads > MAX_UNSETTLED_READS;
                last_health = Some((Instant::now(), signature));
            }
            steady = settled && !h.progressing() && report.outcome != super::Outcome::Applied;
        }
        if detect_drift
            && report
                .plan
                .as_ref()
                .is_some_and(|p| p.drift != Drift::NotChecked)
        {
            last_drift = Some(Instant::now());
        }
        let jitter = rand::thread_rng().gen_range(0.9..1.1);
        next = next_run(report.outcome, &mut backoff, opts.resync, jitter);
        // Several errors at once (two concerns failing) count as AWS failing when any
        // of them is an AWS error.
        shared.aws_ok.store(
            !report.error.as_ref().is_some_and(crate::Error::is_aws),
            Ordering::Relaxed,
        );
        log_summary(&report, Some(next.wait));
        record(&shared, &current, &report, next.wait);
    }
}

fn record(shared: &Shared, doc: &ImageChatStack, report: &super::PassReport, next: Duration) {
    // Unknown (not checked, or checked in part and nothing found) leaves the gauge.
    let drifted = report.plan.as_ref().and_then(|plan| match &plan.drift {
        d if !d.drifted().is_empty() => Some(1),
        Drift::InSync { .. } => Some(0),
        _ => None,
    });
    shared.metrics.record_pass(&PassMetrics {
        stack: &doc.name,
        outcome: report.outcome.label(),
        duration_secs: report.duration_ms as f64 / 1000.0,
        drifted,
        error: report.error.as_ref().map(crate::Error::metric_label),
        health: report
            .health
            .iter()
            .flat_map(|h| &h.components)
            .map(|c| (c.name, c.status.label()))
            .collect(),
    });
    let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = status.stacks.get_mut(&doc.name) {
        s.record(report, next);
    }
}

/// Loads the desired state from `path`, as the daemon's sources deliver it.
pub fn load(path: &std::path::Path, rules: &desired::Rules) -> Loaded {
    desired::load_with(&[path.to_path_buf()], rules)
}
