//! Who may trigger the daemon, and how often it then works: a signed GitHub push (or a
//! GitLab one with its token) makes the Git poller fetch at once; beyond loopback
//! `POST /reconcile` needs the bearer token while the GETs stay open, and with a watched
//! path a push runs every stack; a thousand `POST /reconcile` during a pass cost one more
//! pass. What is refused, and how, is in `refusals` (no AWS needed there).

mod refusals;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::common::{Daemon, Emulator, Options, run_args, skip_emulator_tests};
use crate::daemon::git;
use crate::stack::{desired_file, example};

/// A request's headers, as the harness's client takes them.
pub(super) type Headers<'a> = Vec<(&'a str, &'a str)>;

pub(super) const SECRET: &str = "hook-secret-7b1d";
pub(super) const TOKEN: &str = "api-token-93fe";

/// GitHub's `X-Hub-Signature-256` of `body` under `secret`.
pub(super) fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) fn github_push(signature: &str) -> Headers<'_> {
    vec![
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", signature),
    ]
}

/// When a JSON log line was written.
fn logged_at(line: &str) -> SystemTime {
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    humantime::parse_rfc3339(v["timestamp"].as_str().expect("timestamp")).expect("RFC 3339")
}

fn applied(l: &str) -> bool {
    l.contains("reconciled in") && l.contains(": applied")
}

fn pass_for(trigger: &str) -> impl Fn(&str) -> bool + '_ {
    move |l| l.contains("reconciled in") && l.contains(&format!(r#""trigger":"{trigger}""#))
}

/// A bare repository (as a Git host keeps it) holding the example under
/// `desired-state/`, and a clone to commit in; returns (host, clone).
fn repository(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let host = root.join("host.git");
    let clone = root.join("clone");
    std::fs::create_dir_all(&host).unwrap();
    git(&host, &["init", "--quiet", "--bare"]);
    git(root, &["clone", "--quiet", host.to_str().unwrap(), "clone"]);
    std::fs::create_dir(clone.join("desired-state")).unwrap();
    std::fs::write(clone.join("desired-state/prod.yaml"), example()).unwrap();
    git(&clone, &["add", "."]);
    git(&clone, &["commit", "--quiet", "-m", "first"]);
    git(&clone, &["push", "--quiet", "origin", "main"]);
    (host, clone)
}

fn revision(d: &Daemon) -> String {
    d.status()["desired"]["revision"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until `/status` names a revision other than `old`; returns how long it took.
fn wait_for_new_revision(d: &Daemon, old: &str) -> Duration {
    let start = Instant::now();
    while revision(d) == old {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the push was not fetched; /status: {}",
            d.status()["desired"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

#[tokio::test]
async fn a_signed_github_push_is_fetched_at_once_and_so_is_a_gitlab_one() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let root = tempfile::tempdir().unwrap();
    let (host, clone) = repository(root.path());
    // The file as an editor leaves it, with a trailing newline that is not the secret's.
    let secret_file = root.path().join("webhook-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let url = format!("file://{}", host.display());
    let checkout = root.path().join("checkout");
    // An hour between polls: only the hook can explain a fetch within the test.
    let mut cmd = emu.command();
    run_args(&mut cmd, Path::new("desired-state")).args([
        "--git-url",
        &url,
        "--git-interval",
        "1h",
        "--git-workdir",
        checkout.to_str().unwrap(),
        "--resync",
        "1h",
        "--webhook-secret-file",
        secret_file.to_str().unwrap(),
    ]);
    let d = Daemon::start(&mut cmd, Options::default());
    d.wait_for("the first commit deployed", applied);
    let first = revision(&d);
    assert_eq!(first.len(), 40, "{first}");

    let mark = d.mark();
    std::fs::write(
        clone.join("desired-state/prod.yaml"),
        example().replace("DeploymentSize: small", "DeploymentSize: large"),
    )
    .unwrap();
    git(&clone, &["commit", "--quiet", "-am", "bigger tasks"]);
    git(&clone, &["push", "--quiet", "origin", "main"]);
    let body = br#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#;
    let signature = sign(SECRET, body);
    let (code, answer) = d.request("POST", "/hooks/git", &github_push(&signature), body);
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains(r#""fetch":"queued""#), "{answer}");
    let took = wait_for_new_revision(&d, &first);
    assert!(took < Duration::from_secs(30), "the fetch took {took:?}");
    d.wait_from(mark, "the pushed commit applied", |l| {
        l.contains(r#""action":"UpdateStack""#)
    });
    d.wait_from(mark, "its pass", |l| {
        pass_for("desired_changed")(l) && l.contains(": applied")
    });

    // GitLab sends the secret itself; any body will do.
    let second = revision(&d);
    std::fs::write(
        clone.join("desired-state/prod.yaml"),
        format!(
            "# a comment\n{}",
            example().replace("DeploymentSize: small", "DeploymentSize: large")
        ),
    )
    .unwrap();
    git(&clone, &["commit", "--quiet", "-am", "a comment"]);
    git(&clone, &["push", "--quiet", "origin", "main"]);
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Token", SECRET),
    ];
    let (code, answer) = d.request("POST", "/hooks/git", &headers, b"{}");
    assert_eq!(code, 202, "{answer}");
    wait_for_new_revision(&d, &second);
    let (code, log) = d.stop_with_log();
    assert_eq!(code, 0);
    assert!(!log.contains(SECRET), "the secret reached the log");
}

#[tokio::test]
async fn beyond_loopback_reconcile_needs_the_bearer_token_and_a_push_runs_every_stack() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (dir, file) = desired_file(&example());
    let token = dir.path().join("api-token");
    std::fs::write(&token, TOKEN).unwrap();
    let mut cmd = emu.command();
    cmd.arg("run").arg("--desired-state").arg(&file).args([
        "--listen",
        "0.0.0.0:0",
        "--poll-interval",
        "100ms",
        "--resync",
        "1h",
        "--api-token-file",
        token.to_str().unwrap(),
    ]);
    cmd.env("BCO_WEBHOOK_SECRET", SECRET);
    let d = Daemon::start(&mut cmd, Options::default());
    assert!(d.addr.starts_with("0.0.0.0:"), "{}", d.addr);
    d.wait_for("the first pass", applied);

    assert_eq!(d.http("POST", "/reconcile").0, 401);
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(
        d.request("POST", "/reconcile", &[("Authorization", &wrong)], b"")
            .0,
        401
    );
    let mark = d.mark();
    let right = format!("Bearer {TOKEN}");
    let (code, answer) = d.request("POST", "/reconcile", &[("Authorization", &right)], b"");
    assert_eq!(code, 202, "{answer}");
    d.wait_from(mark, "the requested pass", pass_for("requested"));
    assert_eq!(d.http("GET", "/status").0, 200);
    assert_eq!(d.http("GET", "/healthz").0, 200);

    // A watched path has no Git poller: a push runs every stack, and says why.
    let mark = d.mark();
    let headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", SECRET)];
    let (code, answer) = d.request("POST", "/hooks/git", &headers, b"{}");
    assert_eq!((code, answer.as_str()), (202, r#"{"triggered":["demo"]}"#));
    d.wait_from(mark, "the pass the push started", pass_for("webhook"));

    let (code, log) = d.stop_with_log();
    assert_eq!(code, 0);
    assert!(!log.contains(TOKEN) && !log.contains(SECRET), "{log}");
    let refused = log
        .lines()
        .filter(|l| l.contains("refused POST /reconcile"))
        .count();
    assert_eq!(refused, 2, "{log}");
}

/// A thousand requests, from eight clients at once, while the stack's worker is busy
/// with an update: one pass follows, not a thousand, and `/healthz` answers throughout.
/// (`controller::shared`'s unit test pins the same on the wake itself.)
#[tokio::test]
async fn a_thousand_reconcile_requests_during_a_pass_cost_one_more_pass() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    let mut cmd = emu.command();
    run_args(&mut cmd, &file).args(["--resync", "1h"]);
    let d = Daemon::start(&mut cmd, Options::default());
    d.wait_for("the first pass", applied);

    let mark = d.mark();
    std::fs::write(
        &file,
        example().replace("DeploymentSize: small", "DeploymentSize: medium"),
    )
    .unwrap();
    d.wait_from(mark, "the update under way", |l| {
        l.contains(r#""action":"UpdateStack""#)
    });
    let started = Instant::now();
    let burst_start = SystemTime::now();
    let addr = d.addr.clone();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                for i in 0..125 {
                    let (code, body) = crate::common::http(&addr, "POST", "/reconcile", &[], "");
                    assert_eq!(code, 202, "{body}");
                    if i % 25 == 0 {
                        let asked = Instant::now();
                        let health = crate::common::http(&addr, "GET", "/healthz", &[], "");
                        assert_eq!(health, (200, "ok\n".to_string()));
                        assert!(
                            asked.elapsed() < Duration::from_secs(2),
                            "{:?}",
                            asked.elapsed()
                        );
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
    let burst = started.elapsed();
    let burst_end = SystemTime::now();
    let (update_done, _) = d.wait_from(mark, "the update's pass", applied);
    d.wait_from(
        update_done,
        "the pass the requests queued",
        pass_for("requested"),
    );
    // Quiet for long enough that a second queued pass would have shown.
    std::thread::sleep(Duration::from_secs(5));
    let lines = d.lines_from(mark);
    let requested = lines.iter().filter(|l| pass_for("requested")(l)).count();
    // Each pass that ends while requests still come in may be followed by one more. The
    // update's pass (a second or so) normally outlasts the burst (a few hundred ms), and
    // then exactly one follows. The log's clock decides, as lines reach the test late.
    let ended_during_burst = lines
        .iter()
        .filter(|l| l.contains("reconciled in"))
        .filter(|l| (burst_start..=burst_end).contains(&logged_at(l)))
        .count();
    assert!(
        (1..=ended_during_burst + 1).contains(&requested),
        "1000 requests in {burst:?}, {ended_during_burst} passes ended meanwhile: {requested} requested passes"
    );
    assert_eq!(d.stop(), 0);
}
