//! What a person reads when a request never reached AWS: missing credentials, a refused
//! connection, a name that does not resolve — one line with the endpoint and the fix,
//! instead of the SDK's nested `dispatch failure … ProviderError(…)` dump.

use std::error::Error as StdError;

use aws_config::meta::ProviderChainError;
use aws_credential_types::provider::error::CredentialsError;

/// The endpoint a service's requests go to, as the SDK picks it from the environment:
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, else AWS's own.
pub fn endpoint(service: &str) -> String {
    let id = match service {
        "ApplicationAutoScaling" => "APPLICATION_AUTO_SCALING".to_string(),
        other => other.to_ascii_uppercase(),
    };
    std::env::var(format!("AWS_ENDPOINT_URL_{id}"))
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| format!("the AWS {service} endpoint of the region"))
}

fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        out.push(e);
        current = e.source();
    }
    out
}

/// (code, message) for a request that was not sent or got no answer.
pub(crate) fn explain(service: &str, err: &(dyn StdError + 'static)) -> (&'static str, String) {
    for e in chain(err) {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) =
            e.downcast_ref::<CredentialsError>()
        {
            let tried: Vec<String> = chain(e)
                .into_iter()
                .find_map(|s| s.downcast_ref::<ProviderChainError<CredentialsError>>())
                .map(|c| c.attempts().iter().map(|a| a.name().to_string()).collect())
                .unwrap_or_default();
            let tried = if tried.is_empty() {
                String::new()
            } else {
                format!(" (the default chain tried: {})", tried.join(", "))
            };
            return (
                "NoCredentials",
                format!(
                    "no AWS credentials found{tried}; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached (ECS task role, EC2 instance profile)"
                ),
            );
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let what = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused",
                std::io::ErrorKind::ConnectionReset => "connection reset",
                std::io::ErrorKind::TimedOut => "connection timed out",
                _ => continue,
            };
            return (
                "ConnectionFailed",
                format!("cannot connect to {}: {what}", endpoint(service)),
            );
        }
    }
    let innermost = chain(err)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    let lower = innermost.to_ascii_lowercase();
    if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        return (
            "ConnectionFailed",
            format!("cannot resolve {}: {innermost}", endpoint(service)),
        );
    }
    (
        "DispatchFailure",
        format!("could not reach {}: {innermost}", endpoint(service)),
    )
}
