//! The state the daemon's workers, its HTTP endpoints and its lease share: the one type
//! `http` and the wiring see of the controller.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::sync::Notify;

use super::Trigger;
use super::status::Status;
use crate::context::Context;
use crate::metrics::Metrics;

/// Why `/readyz` answers 503.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("no valid desired state loaded yet")]
    NoDesiredState,
    #[error("the last AWS round trip failed (or none finished yet)")]
    AwsFailed,
}

/// What the HTTP server and the workers share.
pub struct Shared {
    pub ctx: Arc<Context>,
    pub metrics: Metrics,
    pub status: RwLock<Status>,
    /// Whether this process may write (it holds the lease, or there is no lease).
    pub leader: AtomicBool,
    /// The last AWS round trip of any pass succeeded (for `/readyz`).
    pub aws_ok: AtomicBool,
    pub(super) triggers: RwLock<HashMap<String, Arc<Wake>>>,
    /// Wakes the Git poller for a fetch now; set once a poller runs (a watched path has
    /// none, and a push then triggers every stack instead).
    git_poller: OnceLock<Arc<Notify>>,
}

/// What a Git host's push notification started.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The Git poller fetches now; a new commit then triggers passes as any change does.
    Fetch,
    /// No Git source: a pass of every stack (their names).
    Passes(Vec<String>),
}

/// Wakes one stack's worker, and says why. Wakes coalesce: `Notify::notify_one` keeps at
/// most one permit while the worker is busy, so a flood of requests during a pass costs
/// one more pass, not one per request.
#[derive(Default)]
pub(super) struct Wake {
    pub notify: Notify,
    why: std::sync::Mutex<Option<Trigger>>,
}

impl Wake {
    fn wake(&self, why: Trigger) {
        *self.why.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        self.notify.notify_one();
    }

    /// Why the worker was woken (taken: the next wake says its own reason).
    pub fn reason(&self) -> Trigger {
        self.why
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or(Trigger::Requested)
    }
}

impl Shared {
    pub fn new(ctx: Arc<Context>) -> Self {
        Shared {
            ctx,
            metrics: Metrics::new(),
            status: RwLock::new(Status::default()),
            leader: AtomicBool::new(true),
            aws_ok: AtomicBool::new(false),
            triggers: RwLock::new(HashMap::new()),
            git_poller: OnceLock::new(),
        }
    }

    /// The Git poller's wake-up (`source::poll_git` waits on it between fetches); from
    /// the first call on, a push fetches rather than triggering every stack.
    pub(crate) fn git_poller(&self) -> Arc<Notify> {
        Arc::clone(self.git_poller.get_or_init(Default::default))
    }

    /// A Git host announced a push: fetch now, or, without a Git source, run every stack.
    /// Like the wakes, fetches coalesce: one permit waits while a fetch runs.
    pub fn push(&self) -> Pushed {
        match self.git_poller.get() {
            Some(poller) => {
                poller.notify_one();
                Pushed::Fetch
            }
            None => Pushed::Passes(self.trigger(None, Trigger::Webhook)),
        }
    }

    /// `POST /reconcile`: a pass now, of one stack or of all; the names triggered.
    pub fn request(&self, only: Option<&str>) -> Vec<String> {
        self.trigger(only, Trigger::Requested)
    }

    /// Asks for a pass now, for `why`: of one stack, or of all. Returns the names
    /// triggered.
    pub(crate) fn trigger(&self, only: Option<&str>, why: Trigger) -> Vec<String> {
        let triggers = self.triggers.read().unwrap_or_else(|e| e.into_inner());
        triggers
            .iter()
            .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
            .map(|(name, w)| {
                w.wake(why);
                name.clone()
            })
            .collect()
    }

    /// Ready: a valid desired state is in force and AWS answered the last pass.
    pub fn ready(&self) -> Result<(), NotReady> {
        let status = self.status.read().unwrap_or_else(|e| e.into_inner());
        if status.desired.loaded_at.is_none() {
            return Err(NotReady::NoDesiredState);
        }
        if !self.aws_ok.load(Ordering::Relaxed) {
            return Err(NotReady::AwsFailed);
        }
        Ok(())
    }

    pub(crate) fn set_leader(&self, leader: bool) {
        let was = self.leader.swap(leader, Ordering::Relaxed);
        // A new leader acts now: its passes so far only planned, and the next resync
        // may be a whole interval away.
        if leader && !was {
            self.trigger(None, Trigger::Leadership);
        }
        self.metrics.leader.set(i64::from(leader));
        self.status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .leader = leader;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A burst of requests during a pass (no one waiting on the wake) leaves one pass
    /// queued, which says the latest reason; a second wait finds nothing more.
    #[tokio::test]
    async fn a_burst_of_wakes_while_busy_queues_one_pass() {
        let wake = Wake::default();
        for _ in 0..1000 {
            wake.wake(Trigger::Requested);
        }
        wake.wake(Trigger::Webhook);
        let first = tokio::time::timeout(Duration::from_millis(100), wake.notify.notified());
        assert!(first.await.is_ok(), "the burst queues a pass");
        assert_eq!(wake.reason(), Trigger::Webhook);
        let second = tokio::time::timeout(Duration::from_millis(100), wake.notify.notified());
        assert!(second.await.is_err(), "and only one");
    }
}
