//! AWS SDK set-up: one `SdkConfig` per region, every service client built from it, each
//! with the call counter that tests, `plan`'s summary and the metrics all read.
//!
//! Credentials come from the default chain and endpoints from the standard
//! `AWS_ENDPOINT_URL` (that is how the tests reach the emulator, with no test-only path).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::timeout::TimeoutConfig;

mod dispatch;
mod retry;
pub use retry::NotImplementedIsFinal;

/// Key of one counted series: service, operation, outcome (`ok` or `error`).
pub(crate) type CallKey = (String, String, &'static str);

/// Counts every AWS operation the operator performs (after the SDK's own retries).
/// A child counter (one per reconcile pass) also counts into its parent (the process's,
/// which the metrics read), so a pass knows its own calls even when passes overlap.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<CallKey, u64>>>,
    parent: Option<Arc<Mutex<BTreeMap<CallKey, u64>>>>,
}

/// Whether an operation only reads. Drift detection starts a job but changes nothing
/// in the account, so it counts as a read.
pub(crate) fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List", "Head", "Detect"]
        .iter()
        .any(|p| operation.starts_with(p))
}

/// Reads and writes counted between two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTally {
    pub reads: u64,
    pub writes: u64,
}

impl CallCounter {
    /// A fresh counter whose calls are also counted here.
    pub fn child(&self) -> CallCounter {
        CallCounter {
            calls: Arc::default(),
            parent: Some(Arc::clone(&self.calls)),
        }
    }

    fn record(&self, service: &str, operation: &str, outcome: &'static str) {
        let key = (service.to_string(), operation.to_string(), outcome);
        for map in std::iter::once(&self.calls).chain(self.parent.as_ref()) {
            let mut calls = map.lock().unwrap_or_else(PoisonError::into_inner);
            *calls.entry(key.clone()).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> BTreeMap<CallKey, u64> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads and writes made since `before` (a snapshot taken earlier).
    pub fn since(&self, before: &BTreeMap<CallKey, u64>) -> CallTally {
        let mut tally = CallTally::default();
        for (key, n) in self.snapshot() {
            let delta = n - before.get(&key).copied().unwrap_or(0);
            if is_read(&key.1) {
                tally.reads += delta;
            } else {
                tally.writes += delta;
            }
        }
        tally
    }

    /// Write operations made since `before`, by name (for messages and tests).
    pub fn writes_since(&self, before: &BTreeMap<CallKey, u64>) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|(key, n)| !is_read(&key.1) && *n > before.get(key).copied().unwrap_or(0))
            .map(|(key, _)| format!("{}.{}", key.0, key.1))
            .collect()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let outcome = match context.output_or_error() {
                Some(Ok(_)) => "ok",
                _ => "error",
            };
            self.record(meta.service(), meta.name(), outcome);
        }
        Ok(())
    }
}

/// The service clients of one region.
#[derive(Clone, Debug)]
pub struct Clients {
    pub region: String,
    /// The counter these clients count into, for clients of another region in the same
    /// pass (Bedrock's region may differ from the stack's).
    pub counter: CallCounter,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub s3: aws_sdk_s3::Client,
    pub backup: aws_sdk_backup::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub bedrock: aws_sdk_bedrock::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    // The health reads (observe/health): target health, file system and mount targets,
    // the secrets the task definitions reference, VPC endpoints and NAT, alarms.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub efs: aws_sdk_efs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

/// How long one attempt of an AWS call may take before the SDK abandons it and retries
/// (its standard mode: 3 attempts, exponential backoff with jitter). The SDK's default
/// has only a connect timeout: an answer that never comes (a dead connection, a stalled
/// endpoint) would hold the pass, and with it the stack's worker, forever. No call the
/// operator makes takes seconds on a healthy endpoint; see docs/RELIABILITY.md.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// The SDK's configuration loader with the operator's timeouts; everything else comes
/// from the environment (credentials, region, `AWS_ENDPOINT_URL`, retry settings).
pub(crate) fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            // The SDK's own default, kept explicit beside the attempt timeout.
            .connect_timeout(Duration::from_millis(3100))
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build(),
    )
}

impl Clients {
    pub fn new(config: &SdkConfig, counter: &CallCounter) -> Self {
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(config)
                        .interceptor(counter.clone())
                        .retry_classifier(NotImplementedIsFinal)
                        .build(),
                )
            };
        }
        // An endpoint override (an emulator, a VPC endpoint with a custom name) has no
        // per-bucket DNS names, so S3 must address buckets by path there.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .force_path_style(config.endpoint_url().is_some())
                .interceptor(counter.clone())
                .retry_classifier(NotImplementedIsFinal)
                .build(),
        );
        Clients {
            region: config
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_default(),
            counter: counter.clone(),
            cloudformation: client!(aws_sdk_cloudformation),
            ecs: client!(aws_sdk_ecs),
            s3,
            backup: client!(aws_sdk_backup),
            autoscaling: client!(aws_sdk_applicationautoscaling),
            bedrock: client!(aws_sdk_bedrock),
            dynamodb: client!(aws_sdk_dynamodb),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            efs: client!(aws_sdk_efs),
            secrets: client!(aws_sdk_secretsmanager),
            ec2: client!(aws_sdk_ec2),
            cloudwatch: client!(aws_sdk_cloudwatch),
        }
    }
}

/// Turns an SDK error into the crate's error, classifying it retriable or not — the one
/// place that decides (timeouts, dispatch failures, 5xx, 429, throttling, expired requests
/// are retriable; the rest need a change before they can succeed).
pub fn error<E, R>(
    service: &'static str,
    operation: &'static str,
    target: impl Into<String>,
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> crate::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let (code, message, retriable) = match &err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown").to_string();
            let status = se.raw().status_code();
            let retriable = status == 429
                || status >= 500
                || matches!(
                    code.as_str(),
                    "Throttling"
                        | "ThrottlingException"
                        | "ThrottledException"
                        | "RequestLimitExceeded"
                        | "TooManyRequestsException"
                        | "RequestExpired"
                        | "RequestTimeout"
                        | "ServiceUnavailable"
                        | "InternalFailure"
                        | "InternalError"
                );
            let message = se
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            (code, message, retriable)
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), "request timed out".into(), true),
        SdkError::DispatchFailure(failure) => {
            // The SDK's own account (a chain of nested debug structures) is for debug
            // logs; a person reads one line that says what is wrong and what to do.
            tracing::debug!(service, operation, detail = %aws_smithy_types::error::display::DisplayErrorContext(&err), "request not sent");
            let (code, message) = match failure.as_connector_error() {
                Some(connector) => dispatch::explain(service, connector),
                None => (
                    "DispatchFailure",
                    format!("could not reach {}", dispatch::endpoint(service)),
                ),
            };
            (code.into(), message, true)
        }
        SdkError::ResponseError(_) => (
            "ResponseError".into(),
            format!(
                "unreadable response: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ),
            true,
        ),
        _ => (
            "ConstructionFailure".into(),
            aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            false,
        ),
    };
    crate::Error::Aws {
        service,
        operation,
        target: target.into(),
        code,
        message,
        retriable,
    }
}

/// The HTTP status of a raw response, for error classification.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// CloudFormation answers `ValidationError: Stack with id X does not exist` for a stack
/// that is gone; callers treat that as "absent", not as a failure.
pub(crate) fn is_missing_stack<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|se| se.message())
        .is_some_and(|m| m.contains("does not exist"))
}

/// A request the SDK refused to build (a required field missing): a programming error,
/// reported rather than panicking.
pub(crate) fn build_error(
    what: &'static str,
    err: aws_smithy_types::error::operation::BuildError,
) -> crate::Error {
    crate::Error::Render {
        what,
        message: err.to_string(),
    }
}
