//! `POST /hooks/git`: a Git host announces a push, and the Git poller fetches now rather
//! than at its next interval. GitHub signs the body (`X-Hub-Signature-256`, HMAC-SHA256
//! with the shared secret); GitLab sends the secret itself (`X-Gitlab-Token`).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::App;
use super::auth::{Secret, refuse, remote};
use crate::controller::Pushed;

/// The largest body read. A push event is a few kilobytes even with many commits
/// (GitHub caps its payloads at 25 MB, far above what this hook needs to see), and the
/// body is read before its signature can be checked, so unauthenticated callers must not
/// make the daemon buffer more.
pub(super) const MAX_BODY: usize = 1 << 20;

const GITHUB_SIGNATURE: &str = "x-hub-signature-256";
const GITLAB_TOKEN: &str = "x-gitlab-token";

/// Which host's proof a hook carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    GitHub,
    GitLab,
}

impl Host {
    fn event_header(self) -> &'static str {
        match self {
            Host::GitHub => "x-github-event",
            Host::GitLab => "x-gitlab-event",
        }
    }
}

/// Why a hook is refused: the header at fault, never its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("neither X-Hub-Signature-256 (GitHub) nor X-Gitlab-Token (GitLab) was sent")]
    Missing,
    #[error("X-Hub-Signature-256 is not sha256=<64 hex digits>")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body")]
    BadSignature,
    #[error("X-Gitlab-Token is wrong")]
    BadToken,
}

/// Checks a hook's proof of the shared secret. A GitHub signature, when present, decides
/// alone: a request carrying a wrong one is refused whatever else it carries.
pub(crate) fn verify(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Result<Host, Refusal> {
    if let Some(signature) = headers.get(GITHUB_SIGNATURE) {
        return github(secret, signature.as_bytes(), body).map(|()| Host::GitHub);
    }
    match headers.get(GITLAB_TOKEN) {
        Some(token) if secret.matches(token.as_bytes()) => Ok(Host::GitLab),
        Some(_) => Err(Refusal::BadToken),
        None => Err(Refusal::Missing),
    }
}

/// `sha256=<hex>` against the HMAC-SHA256 of `body`; `verify_slice` compares in
/// constant time.
fn github(secret: &Secret, header: &[u8], body: &[u8]) -> Result<(), Refusal> {
    let hex = header.strip_prefix(b"sha256=").ok_or(Refusal::Malformed)?;
    let tag = hex::decode(hex).map_err(|_| Refusal::Malformed)?;
    if tag.len() != 32 {
        return Err(Refusal::Malformed);
    }
    // HMAC takes a key of any length: this cannot fail, and if it did, nothing matches.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose()).map_err(|_| Refusal::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| Refusal::BadSignature)
}

pub(super) async fn git_hook(
    State(app): State<App>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &app.access.webhook else {
        return refuse(
            StatusCode::NOT_FOUND,
            "the Git webhook is off: start the daemon with --webhook-secret-file PATH or BCO_WEBHOOK_SECRET",
        );
    };
    let host = match verify(secret, &headers, &body) {
        Ok(host) => host,
        Err(why) => {
            let remote = remote(peer.map(|Extension(ConnectInfo(a))| a));
            tracing::warn!(%remote, reason = %why, "refused a Git webhook");
            return refuse(StatusCode::UNAUTHORIZED, &why.to_string());
        }
    };
    // Signed, so the event's name can be logged; bounded all the same.
    let event: String = headers
        .get(host.event_header())
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .chars()
        .take(64)
        .collect();
    match app.shared.push() {
        Pushed::Fetch => {
            tracing::info!(host = ?host, %event, "push webhook: fetching the Git source now");
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "fetch": "queued" })),
            )
                .into_response()
        }
        Pushed::Passes(triggered) => {
            tracing::info!(host = ?host, %event, stacks = triggered.len(), "push webhook: no Git source, so a pass of every stack");
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "triggered": triggered })),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example ("Validating webhook deliveries").
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn githubs_documented_signature_is_accepted() {
        let secret = Secret::new(SECRET);
        let h = with("X-Hub-Signature-256", SIGNATURE);
        assert_eq!(verify(&secret, &h, BODY), Ok(Host::GitHub));
    }

    #[test]
    fn a_signature_of_another_body_or_secret_is_refused() {
        let h = with("X-Hub-Signature-256", SIGNATURE);
        assert_eq!(
            verify(&Secret::new(SECRET), &h, b"Hello, World?"),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(&Secret::new(b"another secret"), &h, BODY),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn a_malformed_signature_is_refused_as_such() {
        let secret = Secret::new(SECRET);
        let hex = SIGNATURE.trim_start_matches("sha256=");
        let sha1 = format!("sha1={hex}");
        for bad in [hex, sha1.as_str(), &SIGNATURE[..70], "sha256=zz"] {
            let h = with("X-Hub-Signature-256", bad);
            assert_eq!(verify(&secret, &h, BODY), Err(Refusal::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_gitlab_token_must_be_the_secret_and_a_github_signature_decides_alone() {
        let secret = Secret::new(SECRET);
        let token = std::str::from_utf8(SECRET).unwrap();
        assert_eq!(
            verify(&secret, &with("X-Gitlab-Token", token), BODY),
            Ok(Host::GitLab)
        );
        assert_eq!(
            verify(&secret, &with("X-Gitlab-Token", "It's a secret"), BODY),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            verify(&secret, &HeaderMap::new(), BODY),
            Err(Refusal::Missing)
        );
        let mut both = with("X-Gitlab-Token", token);
        both.insert(GITHUB_SIGNATURE, "sha256=00".parse().unwrap());
        assert_eq!(verify(&secret, &both, BODY), Err(Refusal::Malformed));
    }
}
