//! Who may start passes over HTTP: the bearer token of `POST /reconcile` and the shared
//! secret of `POST /hooks/git`, each read from a file or an environment variable — never
//! from a command-line argument, which any user on the host sees in `ps` — and compared
//! in constant time.

use std::net::SocketAddr;
use std::path::Path;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Error, Result};

/// A credential's value. Its `Debug` never shows it, so that no log or error can.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl Secret {
    /// The secret in `file` or in the environment variable `var`; `None` when neither is
    /// set. A trailing newline (as `echo` and editors leave one) is not part of it. Both
    /// set, or an empty value, is refused: either would leave the operator guarding
    /// something other than what its operator meant.
    pub fn load(flag: &str, file: Option<&Path>, var: &str) -> Result<Option<Secret>> {
        let from_env = std::env::var_os(var).map(std::os::unix::ffi::OsStringExt::into_vec);
        let (raw, source) = match (file, from_env) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage(format!(
                    "both {flag} and {var} are set; use one"
                )));
            }
            (Some(path), None) => {
                let raw = std::fs::read(path).map_err(|source| Error::Io {
                    what: format!("cannot read {flag} {}", path.display()),
                    source,
                })?;
                (raw, format!("{flag} {}", path.display()))
            }
            (None, Some(raw)) => (raw, var.to_string()),
            (None, None) => return Ok(None),
        };
        let mut value = raw;
        while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            value.pop();
        }
        if value.is_empty() {
            return Err(Error::Usage(format!("{source} is empty")));
        }
        Ok(Some(Secret(value)))
    }

    #[cfg(test)]
    pub(crate) fn new(value: &[u8]) -> Secret {
        Secret(value.to_vec())
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether `given` is the secret, in time independent of where they differ. Both are
    /// hashed first, so that even the length of the secret does not show.
    pub(crate) fn matches(&self, given: &[u8]) -> bool {
        let want = Sha256::digest(&self.0);
        let got = Sha256::digest(given);
        bool::from(want.as_slice().ct_eq(got.as_slice()))
    }
}

/// Who may `POST /reconcile`.
#[derive(Debug)]
pub enum Reconcile {
    /// Listening on loopback without a token: only this host (or this task's
    /// containers) can reach it.
    Open,
    /// `Authorization: Bearer <token>` required.
    Bearer(Secret),
    /// Listening beyond loopback without a token: refused with 403, while the GET
    /// endpoints stay open. Refusing to start would be no safer — either way no
    /// unauthenticated request starts a pass — but it would stop all reconciling for the
    /// want of one optional endpoint, and the chart listens on 0.0.0.0 for its probes.
    Refused,
}

impl Reconcile {
    pub fn new(listen: SocketAddr, token: Option<Secret>) -> Reconcile {
        match token {
            Some(token) => Reconcile::Bearer(token),
            None if listen.ip().to_canonical().is_loopback() => Reconcile::Open,
            None => Reconcile::Refused,
        }
    }

    /// `Ok` when the request may go on. A refusal for want of the token is logged, with
    /// what was wrong in the header but never its value.
    pub(super) fn check(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<(), Denied> {
        let token = match self {
            Reconcile::Open => return Ok(()),
            Reconcile::Refused => return Err(Denied::Off),
            Reconcile::Bearer(token) => token,
        };
        let given = headers.get(header::AUTHORIZATION).map(|value| {
            value
                .as_bytes()
                .split_at_checked(7)
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
                .map(|(_, t)| t.trim_ascii())
        });
        let denied = match given {
            Some(Some(given)) if token.matches(given) => return Ok(()),
            Some(Some(_)) => Denied::WrongToken,
            Some(None) => Denied::NotBearer,
            None => Denied::NoHeader,
        };
        let remote = remote(peer);
        tracing::warn!(%remote, reason = denied.reason(), "refused POST /reconcile");
        Err(denied)
    }
}

/// Why `POST /reconcile` is refused; its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Denied {
    /// Beyond loopback without a token (see `Reconcile::Refused`).
    Off,
    NoHeader,
    NotBearer,
    WrongToken,
}

impl Denied {
    fn reason(self) -> &'static str {
        match self {
            Denied::Off => {
                "POST /reconcile is off: the daemon listens beyond loopback without a token; \
                 set --api-token-file PATH or BCO_API_TOKEN"
            }
            Denied::NoHeader => {
                "no Authorization header; Authorization: Bearer <token> is required"
            }
            Denied::NotBearer => "the Authorization header is not Bearer <token>",
            Denied::WrongToken => "wrong bearer token in the Authorization header",
        }
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        if self == Denied::Off {
            return refuse(StatusCode::FORBIDDEN, self.reason());
        }
        let mut response = refuse(StatusCode::UNAUTHORIZED, self.reason());
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

/// The peer's address for a log line (absent when the server was not given it).
pub(super) fn remote(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unknown".into(), |a| a.to_string())
}

pub(super) fn refuse(code: StatusCode, error: &str) -> Response {
    (code, axum::Json(serde_json::json!({ "error": error }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    fn status(r: Result<(), Denied>) -> Option<u16> {
        r.err().map(|d| d.into_response().status().as_u16())
    }

    #[test]
    fn loopback_is_open_without_a_token_and_elsewhere_refused() {
        let none = HeaderMap::new();
        let open = Reconcile::new("127.0.0.1:8080".parse().unwrap(), None);
        assert_eq!(status(open.check(&none, None)), None);
        let v6 = Reconcile::new("[::1]:8080".parse().unwrap(), None);
        assert!(matches!(v6, Reconcile::Open));
        let mapped = Reconcile::new("[::ffff:127.0.0.1]:8080".parse().unwrap(), None);
        assert!(matches!(mapped, Reconcile::Open));
        let all = Reconcile::new("0.0.0.0:8080".parse().unwrap(), None);
        assert_eq!(status(all.check(&headers("Bearer x"), None)), Some(403));
    }

    #[test]
    fn a_configured_token_is_required_even_on_loopback() {
        let token = Some(Secret::new(b"s3cret"));
        let r = Reconcile::new("127.0.0.1:8080".parse().unwrap(), token);
        assert_eq!(status(r.check(&HeaderMap::new(), None)), Some(401));
        assert_eq!(status(r.check(&headers("Bearer s3cre"), None)), Some(401));
        assert_eq!(status(r.check(&headers("Basic s3cret"), None)), Some(401));
        assert_eq!(status(r.check(&headers("Bearer s3cret"), None)), None);
        assert_eq!(status(r.check(&headers("bearer  s3cret "), None)), None);
    }

    #[test]
    fn secrets_compare_whole_and_never_print() {
        let s = Secret::new(b"abc");
        assert!(s.matches(b"abc"));
        assert!(!s.matches(b"abcd") && !s.matches(b"ab") && !s.matches(b""));
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
    }

    #[test]
    fn a_secret_file_loses_its_trailing_newline_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let var = "BCO_TEST_UNSET_SECRET_VARIABLE";
        let s = Secret::load("--api-token-file", Some(&file), var).unwrap();
        assert_eq!(s.unwrap().expose(), b"s3cret");
        assert!(
            Secret::load("--api-token-file", None, var)
                .unwrap()
                .is_none()
        );
        std::fs::write(&file, "\n").unwrap();
        let e = Secret::load("--api-token-file", Some(&file), var).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
    }
}
