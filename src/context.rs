//! The one `Context` every stage receives: AWS clients per region (all counting their
//! calls), the operator's settings, and what it remembers between passes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_config::{Region, SdkConfig};

use crate::aws::{CallCounter, Clients};
use crate::plan::History;

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

pub struct Context {
    base: SdkConfig,
    /// Every AWS call of the process (the metrics read it).
    pub calls: CallCounter,
    pub settings: Settings,
    /// Per stack (region/name): what earlier passes did that the planner must know.
    history: Mutex<HashMap<String, History>>,
    /// Warnings said once per process (an API the endpoint does not implement…).
    warned: Mutex<std::collections::HashSet<String>>,
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
        }
    }

    /// Loads credentials and endpoint from the environment, like the AWS CLI.
    pub async fn from_env(settings: Settings) -> Self {
        let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::new(base, settings)
    }

    /// The region of the environment (AWS_REGION, the profile…), for resources that
    /// belong to the operator rather than to a stack (the lease table).
    pub fn default_region(&self) -> Option<String> {
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

    pub fn update_history(&self, key: &str, f: impl FnOnce(&mut History)) {
        let mut map = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.entry(key.to_string()).or_default());
    }

    /// True the first time `key` is seen: for warnings that would otherwise repeat
    /// every pass.
    pub fn first_time(&self, key: &str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string())
    }
}
