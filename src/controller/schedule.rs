//! When a stack's worker runs next, and why it ran: kube-runtime's `error_policy` role,
//! as one pure function of a pass's outcome (unit-tested without a clock or AWS).

use std::time::Duration;

use serde::Serialize;

use super::Outcome;

/// Why a pass runs: on the span, in the summary line and in `/status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// The worker's first pass (daemon start, or a document added).
    #[default]
    Start,
    /// A new version of the stack's document.
    DesiredChanged,
    /// The resync timer: out-of-band changes are found this way.
    Resync,
    /// A failed pass, retried after its backoff.
    Retry,
    /// `POST /reconcile`.
    Requested,
    /// A Git host's push webhook, when the desired state is a watched path (with a Git
    /// source the push leads to a fetch, and a new commit to `DesiredChanged`).
    Webhook,
    /// This process just took the lease: its earlier passes only planned.
    Leadership,
    /// A one-shot command (`plan`, `apply`).
    Command,
}

impl Trigger {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::DesiredChanged => "desired_changed",
            Trigger::Resync => "resync",
            Trigger::Retry => "retry",
            Trigger::Requested => "requested",
            Trigger::Webhook => "webhook",
            Trigger::Leadership => "leadership",
            Trigger::Command => "command",
        }
    }
}

/// The next timed run: after `wait`, for `trigger` (unless something wakes it sooner).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NextRun {
    pub wait: Duration,
    pub trigger: Trigger,
}

/// The backoff between failed passes: 1 s doubling to 5 min, ±20 %, never giving up.
pub fn retry_backoff() -> backoff::ExponentialBackoff {
    backoff::ExponentialBackoff {
        // The crate's default starts `current_interval` at 500 ms whatever
        // `initial_interval` says, so the first retry came after half a second.
        current_interval: Duration::from_secs(1),
        initial_interval: Duration::from_secs(1),
        max_interval: Duration::from_secs(300),
        multiplier: 2.0,
        randomization_factor: 0.2,
        max_elapsed_time: None,
        ..Default::default()
    }
}

/// Decides the next run from how a pass ended. A failure (AWS, a timeout, a bug) is
/// retried with `backoff`; anything else — in sync, applied, waiting for CloudFormation,
/// blocked on a person — resets the backoff and waits for the resync (`jitter` in
/// 0.9..1.1 spreads many stacks), since retrying sooner would change nothing.
pub fn next_run(
    outcome: Outcome,
    backoff: &mut backoff::ExponentialBackoff,
    resync: Duration,
    jitter: f64,
) -> NextRun {
    use backoff::backoff::Backoff;
    if outcome == Outcome::Failed {
        NextRun {
            wait: backoff.next_backoff().unwrap_or(backoff.max_interval),
            trigger: Trigger::Retry,
        }
    } else {
        backoff.reset();
        NextRun {
            wait: resync.mul_f64(jitter),
            trigger: Trigger::Resync,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact() -> backoff::ExponentialBackoff {
        backoff::ExponentialBackoff {
            randomization_factor: 0.0,
            ..retry_backoff()
        }
    }

    #[test]
    fn failures_back_off_doubling_to_five_minutes_and_success_resets() {
        let resync = Duration::from_secs(600);
        let mut b = exact();
        let waits: Vec<u64> = (0..11)
            .map(|_| {
                let n = next_run(Outcome::Failed, &mut b, resync, 1.0);
                assert_eq!(n.trigger, Trigger::Retry);
                n.wait.as_secs()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        let ok = next_run(Outcome::InSync, &mut b, resync, 1.1);
        assert_eq!(
            ok,
            NextRun {
                wait: Duration::from_secs(660),
                trigger: Trigger::Resync
            }
        );
        assert_eq!(
            next_run(Outcome::Failed, &mut b, resync, 1.0)
                .wait
                .as_secs(),
            1
        );
    }

    #[test]
    fn blocked_waiting_and_drift_wait_for_the_resync_rather_than_retry() {
        let resync = Duration::from_secs(600);
        for outcome in [
            Outcome::Blocked,
            Outcome::Waiting,
            Outcome::Drifted,
            Outcome::Pending,
            Outcome::Applied,
            Outcome::Suspended,
        ] {
            let mut b = exact();
            let _ = next_run(Outcome::Failed, &mut b, resync, 1.0);
            let n = next_run(outcome, &mut b, resync, 0.9);
            assert_eq!(n.trigger, Trigger::Resync, "{outcome:?}");
            assert_eq!(n.wait, Duration::from_secs(540), "{outcome:?}");
        }
    }
}
