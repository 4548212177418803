//! The one `Context` every stage receives: AWS clients per region (all counting their
//! calls), the operator's settings, and what it remembers between passes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_config::{Region, SdkConfig};

use crate::aws::{CallCounter, Clients};
use crate::history::History;

/// Knobs of the act stage; the CLI sets them, tests shorten them.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often to poll CloudFormation while waiting.
    pub poll_interval: Duration,
    /// How long a change set may take to compute.
    pub changeset_timeout: Duration,
    /// How long a stack create or update may take.
    pub stack_timeout: Duration,
    /// A CloudFormation service role to deploy with, so that the operator's own role
    /// needs no permissions on the stack's resources (see charts/operator.yaml).
    pub cfn_role_arn: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_interval: Duration::from_secs(5),
            changeset_timeout: Duration::from_secs(5 * 60),
            stack_timeout: Duration::from_secs(60 * 60),
            cfn_role_arn: None,
        }
    }
}

/// How long an "operation not implemented" answer is trusted before asking again.
pub(crate) const UNIMPLEMENTED_TTL: Duration = Duration::from_secs(60 * 60);

pub struct Context {
    base: SdkConfig,
    /// Every AWS call of the process (the metrics read it).
    pub calls: CallCounter,
    pub settings: Settings,
    /// Per stack (region/name): what earlier passes did that the planner must know.
    history: Mutex<HashMap<String, History>>,
    /// Warnings said once per process (an API the endpoint does not implement…).
    warned: Mutex<std::collections::HashSet<String>>,
    /// Operations this endpoint answered it does not implement (`Error::is_unimplemented`),
    /// with that answer and when. Asking again each pass would cost a call and change
    /// nothing; but a code-less 5xx can also be a passing fault, so the answer is
    /// trusted for `UNIMPLEMENTED_TTL` only, then the operation is asked again.
    unimplemented: Mutex<HashMap<&'static str, (std::time::Instant, String)>>,
}

impl Context {
    /// `base` carries credentials and endpoint (from the environment in production);
    /// each stack's region is applied on top.
    pub fn new(base: SdkConfig, settings: Settings) -> Self {
        Context {
            base,
            calls: CallCounter::default(),
            settings,
            history: Mutex::new(HashMap::new()),
            warned: Mutex::new(Default::default()),
            unimplemented: Mutex::new(HashMap::new()),
        }
    }

    /// Loads credentials and endpoint from the environment, like the AWS CLI.
    pub(crate) async fn from_env(settings: Settings) -> Self {
        let base = crate::aws::config_loader().load().await;
        Self::new(base, settings)
    }

    /// The region of the environment (AWS_REGION, the profile…), for resources that
    /// belong to the operator rather than to a stack (the lease table).
    pub(crate) fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.as_ref().to_string())
    }

    /// Clients of `region` whose calls count into `counter` (a child of `self.calls`).
    /// Building them is cheap: the HTTP connection pool lives in the shared config.
    pub fn clients(&self, region: &str, counter: &CallCounter) -> Clients {
        let config = self
            .base
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        Clients::new(&config, counter)
    }

    pub fn history(&self, key: &str) -> History {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn update_history(&self, key: &str, f: impl FnOnce(&mut History)) {
        let mut map = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.entry(key.to_string()).or_default());
    }

    /// What the endpoint answered when `operation` was found unimplemented, if it was,
    /// less than `UNIMPLEMENTED_TTL` ago.
    pub(crate) fn unimplemented(&self, operation: &'static str) -> Option<String> {
        self.unimplemented_at(operation, std::time::Instant::now())
    }

    fn unimplemented_at(&self, operation: &'static str, now: std::time::Instant) -> Option<String> {
        let mut map = self
            .unimplemented
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get(operation) {
            Some((since, reason)) if now.duration_since(*since) < UNIMPLEMENTED_TTL => {
                Some(reason.clone())
            }
            Some(_) => {
                map.remove(operation);
                None
            }
            None => None,
        }
    }

    /// Remembers that the endpoint does not implement `operation`; true the first time
    /// (so the caller says it once).
    pub(crate) fn set_unimplemented(&self, operation: &'static str, reason: &str) -> bool {
        self.unimplemented
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(operation, (std::time::Instant::now(), reason.to_string()))
            .is_none()
    }

    /// True the first time `key` is seen: for warnings that would otherwise repeat
    /// every pass.
    pub(crate) fn first_time(&self, key: &str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unimplemented_operation_is_remembered_and_said_once() {
        let ctx = Context::new(SdkConfig::builder().build(), Settings::default());
        assert_eq!(ctx.unimplemented("ListBackupSelections"), None);
        assert!(ctx.set_unimplemented("ListBackupSelections", "HTTP 500"));
        assert!(!ctx.set_unimplemented("ListBackupSelections", "HTTP 500"));
        assert_eq!(
            ctx.unimplemented("ListBackupSelections").as_deref(),
            Some("HTTP 500")
        );
        assert_eq!(ctx.unimplemented("DetectStackDrift"), None);
        // After the TTL the operation is asked again (and said again if still missing).
        let later = std::time::Instant::now() + UNIMPLEMENTED_TTL;
        assert_eq!(ctx.unimplemented_at("ListBackupSelections", later), None);
        assert!(ctx.set_unimplemented("ListBackupSelections", "HTTP 500"));
    }
}
