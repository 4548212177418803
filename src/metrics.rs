//! Prometheus metrics, in the classic text format that every scraper reads.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::aws::{CallCounter, CallKey};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub stack: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StackLabels {
    pub stack: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub stack: String,
    /// `cloudformation` (resources differing from the template) — the only kind the
    /// operator cannot correct itself.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub stack: String,
    /// `Error::metric_label`: `aws`, `timeout`, `blocked`, `stack_failed` …
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub stack: String,
    pub component: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Unknown`: 1 for the component's status,
    /// 0 for the others (as kube-state-metrics writes a condition).
    pub status: String,
}

/// What a finished pass tells the metrics.
#[derive(Clone, Debug)]
pub(crate) struct PassMetrics<'a> {
    pub stack: &'a str,
    /// The outcome's label (`in_sync`, `applied`, `failed` …).
    pub outcome: &'static str,
    pub duration_secs: f64,
    /// 1 drifted, 0 not; `None` when drift was not known this pass.
    pub drifted: Option<i64>,
    /// The error's label when the pass failed or was blocked.
    pub error: Option<&'static str>,
    /// (component, status label) of each component judged in the pass.
    pub health: Vec<(&'a str, &'static str)>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AwsLabels {
    pub service: String,
    pub operation: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub reconcile_total: Family<ReconcileLabels, Counter>,
    pub reconcile_duration: Family<StackLabels, Histogram>,
    pub drift: Family<DriftLabels, Gauge>,
    pub last_success: Family<StackLabels, Gauge<f64, AtomicU64>>,
    pub errors: Family<ErrorLabels, Counter>,
    pub leader: Gauge,
    pub component_health: Family<ComponentLabels, Gauge>,
    /// 1 for a stack whose document was removed (left as it is, no longer reconciled).
    pub orphaned: Family<StackLabels, Gauge>,
    aws_calls: Family<AwsLabels, Counter>,
    /// What of the call counter was already added to `aws_calls`.
    aws_synced: Mutex<BTreeMap<CallKey, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<ReconcileLabels, Counter>::default();
        let reconcile_duration = Family::<StackLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
            ])
        });
        let drift = Family::<DriftLabels, Gauge>::default();
        let last_success = Family::<StackLabels, Gauge<f64, AtomicU64>>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let leader = Gauge::default();
        let aws_calls = Family::<AwsLabels, Counter>::default();
        let component_health = Family::<ComponentLabels, Gauge>::default();
        let orphaned = Family::<StackLabels, Gauge>::default();
        registry.register(
            "reconcile",
            "Reconcile passes by stack and result",
            reconcile_total.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconcile passes",
            reconcile_duration.clone(),
        );
        registry.register(
            "drift",
            "Resources drifted from the template (1) or not (0)",
            drift.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last successful pass",
            last_success.clone(),
        );
        registry.register(
            "errors",
            "Failed or blocked passes by stack and kind of error",
            errors.clone(),
        );
        registry.register(
            "leader",
            "1 when this process holds the write lease",
            leader.clone(),
        );
        registry.register(
            "component_health",
            "1 for each stack component's current health status, 0 for the others",
            component_health.clone(),
        );
        registry.register(
            "stack_orphaned",
            "1 when the stack's document was removed: the stack is left as it is and no longer reconciled",
            orphaned.clone(),
        );
        registry.register(
            "aws_api_calls",
            "AWS API operations by outcome",
            aws_calls.clone(),
        );
        Metrics {
            registry,
            reconcile_total,
            reconcile_duration,
            drift,
            last_success,
            errors,
            leader,
            component_health,
            orphaned,
            aws_calls,
            aws_synced: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records a finished pass: its outcome and duration, drift when known, its error's
    /// kind, or the time of its success.
    pub(crate) fn record_pass(&self, pass: &PassMetrics<'_>) {
        let stack = pass.stack.to_string();
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                stack: stack.clone(),
                result: pass.outcome.to_string(),
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&StackLabels {
                stack: stack.clone(),
            })
            .observe(pass.duration_secs);
        if let Some(v) = pass.drifted {
            self.drift
                .get_or_create(&DriftLabels {
                    stack: stack.clone(),
                    kind: "cloudformation".into(),
                })
                .set(v);
        }
        for (component, status) in &pass.health {
            for s in ["Healthy", "Progressing", "Degraded", "Unknown"] {
                self.component_health
                    .get_or_create(&ComponentLabels {
                        stack: stack.clone(),
                        component: component.to_string(),
                        status: s.to_string(),
                    })
                    .set(i64::from(s == *status));
            }
        }
        match pass.error {
            Some(error) => {
                self.errors
                    .get_or_create(&ErrorLabels {
                        stack,
                        error: error.to_string(),
                    })
                    .inc();
            }
            None => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or_default();
                self.last_success
                    .get_or_create(&StackLabels { stack })
                    .set(now);
            }
        }
    }

    /// The text exposition, with the AWS call counts brought up to date first.
    pub fn render(&self, calls: &CallCounter) -> String {
        let mut synced = self
            .aws_synced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (key, total) in calls.snapshot() {
            let before = synced.get(&key).copied().unwrap_or(0);
            if total > before {
                self.aws_calls
                    .get_or_create(&AwsLabels {
                        service: key.0.clone(),
                        operation: key.1.clone(),
                        outcome: key.2.to_string(),
                    })
                    .inc_by(total - before);
                synced.insert(key, total);
            }
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}
