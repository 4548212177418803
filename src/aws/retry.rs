//! A retry rule added to the SDK's standard ones: an endpoint that answers that it does
//! not implement an operation is not asked again.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

/// Forbids retrying HTTP 501, and HTTP 500 with an HTML page for a body: a web server's
/// answer for a route it has no handler for (an emulator's `NotImplementedError`, e.g.
/// moto's ListBackupSelections, DetectStackDrift, ListFoundationModels), not an AWS
/// error. The SDK's standard mode retries every 5xx twice with exponential backoff, which
/// cost ~1.5–2.5 s per such call, in every pass (and in every `plan`), for an answer that
/// cannot change; the caller reports the missing operation instead (`is_unimplemented`).
///
/// AWS's own 5xx answers are error documents (XML or JSON with a code such as
/// `InternalFailure`), and a gateway's HTML error page is a 502–504: both are still
/// retried as before.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotImplementedIsFinal;

impl NotImplementedIsFinal {
    /// The rule itself, on the answer's status and `Content-Type`.
    pub(crate) fn forbids(status: u16, content_type: Option<&str>) -> bool {
        let html = content_type.is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
        status == 501 || (status == 500 && html)
    }
}

impl ClassifyRetry for NotImplementedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if Self::forbids(r.status().as_u16(), r.headers().get("content-type")) => {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "NotImplementedIsFinal"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::interceptors::context::Input;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    #[test]
    fn only_an_html_500_or_a_501_is_final() {
        let forbids = NotImplementedIsFinal::forbids;
        assert!(forbids(500, Some("text/html; charset=utf-8")));
        assert!(forbids(501, None));
        // AWS's internal errors carry an error document: retried as the SDK decides.
        assert!(!forbids(500, Some("text/xml")));
        assert!(!forbids(500, Some("application/x-amz-json-1.1")));
        assert!(!forbids(500, None));
        // A gateway's HTML error page is transient.
        assert!(!forbids(502, Some("text/html")));
        assert!(!forbids(503, Some("text/html")));
        assert!(!forbids(200, Some("text/html")));
    }

    #[test]
    fn the_classifier_reads_the_response() {
        let answer = |status: u16, content_type: &str| {
            let mut ctx = InterceptorContext::new(Input::erase(()));
            let mut response =
                HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
            response
                .headers_mut()
                .insert("content-type", content_type.to_string());
            ctx.set_response(response);
            NotImplementedIsFinal.classify_retry(&ctx)
        };
        assert_eq!(answer(500, "text/html"), RetryAction::RetryForbidden);
        assert_eq!(answer(500, "text/xml"), RetryAction::NoActionIndicated);
        assert_eq!(
            NotImplementedIsFinal.classify_retry(&InterceptorContext::new(Input::erase(()))),
            RetryAction::NoActionIndicated,
            "no response (a transport error): no opinion"
        );
    }
}
