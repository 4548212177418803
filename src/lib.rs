//! bedrock-chat-operator: keeps an AWS deployment of Open WebUI + LiteLLM on ECS
//! Fargate, serving Amazon Bedrock models, equal to a desired state kept in Git.
//!
//! The pipeline, one module per stage: `desired` (schema, loading, validation) →
//! `render` (what AWS receives) → observe → plan → act, driven by the controller.

pub mod act;
pub mod aws;
pub mod chart;
pub mod cli;
pub mod context;
pub mod controller;
pub mod desired;
pub mod history;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod names;
pub mod observe;
pub mod plan;
pub mod render;

use std::path::PathBuf;

/// The crate's error: each variant names what failed and on what.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] desired::Invalid),
    /// The command line asked for something that does not exist.
    #[error("{0}")]
    Usage(String),
    /// The desired state's source (a directory watch, a Git checkout) cannot deliver.
    #[error(transparent)]
    Source(#[from] controller::source::SourceError),
    /// The operating system refused something the operator needs (a port, a file).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rendering {what}: {message}")]
    Render { what: &'static str, message: String },
    /// An AWS call failed (after the SDK's own retries).
    #[error("{service}.{operation} on {target}: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        target: String,
        /// The AWS error code (`ThrottlingException`, `ValidationError` …) or the kind of
        /// transport failure.
        code: String,
        message: String,
        retriable: bool,
    },
    /// CloudFormation finished an operation in a failed state.
    #[error("stack {stack}: {message}")]
    StackFailed { stack: String, message: String },
    /// Waiting for AWS ran past its time limit; the next pass picks up where it left.
    #[error("{what}: still {state} after {waited_secs} s")]
    Timeout {
        what: String,
        state: String,
        waited_secs: u64,
    },
    /// A bug in the operator itself (an invariant broken), never AWS's or the user's doing.
    #[error("internal error (a bug; please report it): {0}")]
    Internal(String),
    /// Several concerns failed in one pass; each error is kept.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<Error>),
    /// The plan cannot proceed without a person (a stack the operator does not own, a
    /// stack in a failed state it will not touch).
    #[error("stack {stack}: {reason}")]
    Blocked { stack: String, reason: String },
}

impl Error {
    /// A short, stable label for metrics and summaries.
    pub(crate) fn metric_label(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_desired_state",
            Error::Usage(_) => "usage",
            Error::Source(_) => "source",
            Error::Io { .. } => "io",
            Error::Write { .. } => "write_file",
            Error::Render { .. } => "render",
            Error::Aws { .. } => "aws",
            Error::StackFailed { .. } => "stack_failed",
            Error::Timeout { .. } => "timeout",
            Error::Blocked { .. } => "blocked",
            Error::Several(_) => "several",
            Error::Internal(_) => "internal",
        }
    }

    /// The endpoint does not implement the operation (an emulator, a partial
    /// implementation): an HTTP 5xx or 404 without any AWS error code. Real AWS always
    /// names its errors (`InternalFailure`, `ServiceUnavailable` …), so a real outage is
    /// never mistaken for a missing feature.
    pub(crate) fn is_unimplemented(&self) -> bool {
        matches!(self, Error::Aws { code, message, .. }
            if code == "Unknown" && (message.starts_with("HTTP 5") || message == "HTTP 404"))
    }

    /// Whether AWS failed to answer (or refused): any AWS error, also among several.
    pub(crate) fn is_aws(&self) -> bool {
        match self {
            Error::Aws { .. } => true,
            Error::Several(errors) => errors.iter().any(Error::is_aws),
            _ => false,
        }
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub(crate) fn is_retriable(&self) -> bool {
        match self {
            Error::Aws { retriable, .. } => *retriable,
            Error::Timeout { .. } => true,
            Error::Several(errors) => errors.iter().all(Error::is_retriable),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(code: &str) -> Error {
        Error::Aws {
            service: "S3",
            operation: "PutObject",
            target: "s3://b/k".into(),
            code: code.into(),
            message: "denied".into(),
            retriable: false,
        }
    }

    #[test]
    fn several_errors_keep_what_each_one_is() {
        let render = Error::Render {
            what: "plan",
            message: "x".into(),
        };
        let both = Error::Several(vec![render, aws("AccessDenied")]);
        assert!(both.is_aws(), "an AWS failure among several is still one");
        assert!(!both.is_retriable());
        assert_eq!(
            both.to_string(),
            "rendering plan: x; S3.PutObject on s3://b/k: denied"
        );
    }
}
