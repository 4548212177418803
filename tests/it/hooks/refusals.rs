//! The refusals, with no AWS behind the daemon: a bad, missing or replayed signature is
//! refused without the secret reaching the log; a body over 1 MiB is refused unread;
//! without a secret the hook is off; beyond loopback without a token `POST /reconcile`
//! is forbidden while the GETs stay open, and on loopback a token once set is required.

use std::path::Path;
use std::process::Command;

use super::{Headers, SECRET, TOKEN, github_push, sign};
use crate::common::{Daemon, Options, bin};

/// The daemon with no AWS behind it (no AWS call is made: its desired state is an empty
/// directory), listening on `listen`, with `env` set: enough for the endpoints' checks.
fn offline(dir: &Path, listen: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
    let mut cmd = Command::new(bin());
    cmd.arg("run")
        .arg("--desired-state")
        .arg(dir)
        .args(["--listen", listen])
        .args(args)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "unused")
        .env("AWS_SECRET_ACCESS_KEY", "unused")
        .env("AWS_REGION", crate::common::REGION)
        .env("BCO_LOG_FORMAT", "json")
        .env_remove("BCO_API_TOKEN")
        .env_remove("BCO_API_TOKEN_FILE")
        .env_remove("BCO_WEBHOOK_SECRET")
        .env_remove("BCO_WEBHOOK_SECRET_FILE")
        .envs(env.iter().copied());
    Daemon::start(&mut cmd, Options::default())
}

#[test]
fn bad_missing_or_replayed_signatures_are_refused_and_the_secret_stays_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = offline(
        dir.path(),
        "127.0.0.1:0",
        &[],
        &[("BCO_WEBHOOK_SECRET", SECRET)],
    );
    let body = br#"{"ref":"refs/heads/main"}"#;
    let good = sign(SECRET, body);
    let wrong_secret = sign("not-the-secret", body);
    let other_body = sign(SECRET, br#"{"ref":"refs/heads/evil"}"#);
    let cases: Vec<(&str, Headers, &str)> = vec![
        (
            "a signature under another secret",
            github_push(&wrong_secret),
            "does not match the body",
        ),
        (
            "another body's signature (a replay)",
            github_push(&other_body),
            "does not match the body",
        ),
        (
            "a signature that is no hex",
            github_push("sha256=not-hex"),
            "is not sha256=<64 hex digits>",
        ),
        (
            "the hex without its sha256= prefix",
            github_push(&good[7..]),
            "is not sha256=",
        ),
        (
            "no signature and no token",
            vec![("X-GitHub-Event", "push")],
            "neither X-Hub-Signature-256",
        ),
        (
            "a wrong GitLab token",
            vec![("X-Gitlab-Token", "hook-secret-7b1")],
            "X-Gitlab-Token is wrong",
        ),
    ];
    for (what, headers, why) in &cases {
        let (code, answer) = d.request("POST", "/hooks/git", headers, body);
        assert_eq!(code, 401, "{what}: {answer}");
        assert!(answer.contains(why), "{what}: {answer}");
    }
    // Without a Git source a signed push runs every stack: here there is none.
    let (code, answer) = d.request("POST", "/hooks/git", &github_push(&good), body);
    assert_eq!((code, answer.as_str()), (202, r#"{"triggered":[]}"#));

    let (_, log) = d.stop_with_log();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused a Git webhook"))
        .collect();
    assert_eq!(refusals.len(), cases.len(), "{log}");
    for line in &refusals {
        assert!(line.contains(r#""level":"WARN""#), "{line}");
        assert!(line.contains(r#""remote":"127.0.0.1:"#), "{line}");
    }
    for said in [
        SECRET,
        &good[7..],
        &wrong_secret[7..],
        &other_body[7..],
        "hook-secret-7b1",
    ] {
        assert!(!log.contains(said), "{said} reached the log:\n{log}");
    }
}

#[test]
fn a_hook_body_over_one_mib_is_refused_and_without_a_secret_the_hook_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let d = offline(
        dir.path(),
        "127.0.0.1:0",
        &[],
        &[("BCO_WEBHOOK_SECRET", SECRET)],
    );
    let big = vec![b'x'; (1 << 20) + 1];
    let signature = sign(SECRET, &big);
    let (code, _) = d.request("POST", "/hooks/git", &github_push(&signature), &big);
    assert_eq!(code, 413);
    let fits = vec![b' '; 1 << 20];
    let signature = sign(SECRET, &fits);
    let (code, answer) = d.request("POST", "/hooks/git", &github_push(&signature), &fits);
    assert_eq!(code, 202, "exactly 1 MiB is read: {answer}");
    assert_eq!(d.stop(), 0);

    let d = offline(dir.path(), "127.0.0.1:0", &[], &[]);
    let (code, answer) = d.request("POST", "/hooks/git", &github_push(&signature), &fits);
    assert_eq!(code, 404, "{answer}");
    assert!(answer.contains("--webhook-secret-file"), "{answer}");
    assert_eq!(d.stop(), 0);
}

#[test]
fn beyond_loopback_without_a_token_reconcile_is_forbidden_and_the_gets_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = offline(dir.path(), "0.0.0.0:0", &[], &[]);
    let (code, answer) = d.http("POST", "/reconcile");
    assert_eq!(code, 403, "{answer}");
    assert!(answer.contains("BCO_API_TOKEN"), "{answer}");
    let warned = d.wait_for("the warning at start", |l| {
        l.contains("POST /reconcile answers 403")
    });
    assert!(warned.contains(r#""level":"WARN""#), "{warned}");
    assert_eq!(d.http("GET", "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(d.http("GET", "/status").0, 200);
    assert_eq!(d.http("GET", "/metrics").0, 200);
    assert_eq!(d.stop(), 0);

    // On loopback a configured token is required all the same.
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let d = offline(
        dir.path(),
        "127.0.0.1:0",
        &["--api-token-file", token.to_str().unwrap()],
        &[],
    );
    assert_eq!(d.http("POST", "/reconcile").0, 401);
    let bearer = format!("Bearer {TOKEN}");
    let (code, answer) = d.request("POST", "/reconcile", &[("Authorization", &bearer)], b"");
    assert_eq!(code, 404, "past the token, no stack is loaded: {answer}");
    assert_eq!(d.stop(), 0);
}
