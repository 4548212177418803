//! The daemon, end to end on moto: a saved edit converges without a restart, an
//! out-of-band change is corrected within one resync, an invalid edit keeps the last
//! good version (and is said once), `POST /reconcile` runs a pass, observe mode writes
//! nothing, SIGTERM exits 0, and of two daemons on one lease only one writes.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{Daemon, Emulator, Options, run_args, skip_emulator_tests};
use crate::stack::{desired_file, example};

/// The daemon on `file` against `emu`, with `extra` arguments; waits up to 60 s.
fn start(emu: &Emulator, file: &Path, extra: &[&str]) -> Daemon {
    Daemon::start(
        run_args(&mut emu.command(), file).args(extra),
        Options::default(),
    )
}

/// The condition `kind` of stack `demo` in `/status`.
fn condition(d: &Daemon, kind: &str) -> serde_json::Value {
    let status = d.status();
    status["stacks"]["demo"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("condition {kind} missing: {status}"))
        .clone()
}

fn applied(l: &str) -> bool {
    l.contains("reconciled in") && l.contains(": applied")
}

fn in_sync(l: &str) -> bool {
    l.contains("reconciled in") && l.contains(": in_sync")
}

async fn litellm(emu: &Emulator) -> (aws_sdk_ecs::Client, String, String) {
    let config = emu.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let stack = cfn
        .describe_stacks()
        .stack_name("bedrock-image-chat")
        .send()
        .await
        .unwrap();
    let out = |k: &str| {
        stack.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(k))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_string()
    };
    (
        aws_sdk_ecs::Client::new(&config),
        out("ClusterName"),
        out("LiteLLMServiceName"),
    )
}

#[tokio::test]
async fn saved_edit_converges_without_restart_and_status_and_metrics_say_so() {
    if skip_emulator_tests() {
        return;
    }
    saved_edit_converges(&Emulator::start(), &[]);
}

/// The same with IAM enforced as on AWS, as the operator's task runs: its task role's
/// policies, its CloudFormation role, its managed prefix and its lease table.
#[tokio::test]
async fn iam_enforced_saved_edit_converges_without_restart_and_status_and_metrics_say_so() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start_iam_enforced(&[]);
    saved_edit_converges(&emu, &["--lease-table", "bedrock-chat-operator-lease"]);
}

fn saved_edit_converges(emu: &Emulator, extra: &[&str]) {
    let (_dir, file) = desired_file(&example());
    let mut args = vec!["--resync", "60s"];
    args.extend_from_slice(extra);
    let d = start(emu, &file, &args);
    d.wait_for("first pass applied", applied);
    // The summary line says what happened, how long, and when the next pass runs.
    let line = d.wait_for("summary", applied);
    assert!(line.contains("next run in"), "{line}");

    let mark = d.mark();
    std::fs::write(
        &file,
        example().replace("DeploymentSize: small", "DeploymentSize: medium"),
    )
    .unwrap();
    d.wait_from(mark, "UpdateStack after the edit", |l| {
        l.contains(r#""action":"UpdateStack""#)
    });
    d.wait_from(mark, "the pass after the edit", applied);

    let status = d.status();
    let stack = &status["stacks"]["demo"];
    for kind in ["Valid", "Synced", "Ready", "Drifted"] {
        let c = condition(&d, kind);
        for field in ["status", "reason", "message", "lastTransitionTime"] {
            assert!(c.get(field).is_some(), "{kind}.{field} missing");
        }
    }
    assert_eq!(stack["conditions"][1]["type"], "Synced");
    assert_eq!(stack["conditions"][1]["status"], "True");
    assert!(stack["lastPlan"].is_object() && stack["nextRun"].is_string());
    assert_eq!(status["leader"], true);

    let (code, metrics) = d.http("GET", "/metrics");
    assert_eq!(code, 200);
    for needle in [
        r#"reconcile_total{stack="demo",result="applied"}"#,
        "reconcile_duration_seconds_bucket",
        r#"aws_api_calls_total{service="CloudFormation",operation="DescribeStacks",outcome="ok"}"#,
        r#"last_success_timestamp_seconds{stack="demo"}"#,
        "leader 1",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from /metrics:\n{metrics}"
        );
    }
    assert_eq!(d.http("GET", "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(d.http("GET", "/readyz").0, 200);
    assert_eq!(d.stop(), 0, "SIGTERM exits 0");
}

#[tokio::test]
async fn out_of_band_change_is_corrected_within_one_resync() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    let d = start(&emu, &file, &["--resync", "2s"]);
    d.wait_for("first pass applied", applied);
    let mark = d.mark();
    d.wait_from(mark, "a quiet pass", in_sync);

    let (ecs, cluster, service) = litellm(&emu).await;
    ecs.update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(5)
        .send()
        .await
        .unwrap();
    let changed = Instant::now();
    let mark = d.mark();
    let (at, _) = d.wait_from(mark, "the count set back", |l| {
        l.contains(r#""action":"SetDesiredCount""#)
    });
    let took = changed.elapsed();
    // The action is logged as it starts; its pass's summary says it finished.
    d.wait_from(at, "the pass that set it back", applied);
    let svc = ecs
        .describe_services()
        .cluster(&cluster)
        .services(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(svc.services()[0].desired_count(), 1);
    // One resync (2 s ± 10 %) plus the pass in flight, not a timing benchmark.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(d.stop(), 0);
}

#[tokio::test]
async fn invalid_edit_keeps_the_last_good_version_and_post_reconcile_runs_a_pass() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    let d = start(&emu, &file, &["--resync", "60s"]);
    d.wait_for("first pass applied", applied);

    std::fs::write(
        &file,
        example().replace(
            "    litellm:\n      desiredCount: 1",
            "    litellm:\n      desiredCount: 11",
        ),
    )
    .unwrap();
    let invalid = d.wait_for("the invalid edit reported", |l| {
        l.contains("the desired state is invalid")
    });
    assert!(
        invalid.contains("spec.services.litellm.desiredCount: must be 0..10 (got 11)"),
        "{invalid}"
    );
    let status = d.status();
    assert_eq!(status["desired"]["valid"], false);
    let valid = condition(&d, "Valid");
    assert_eq!(valid["status"], "False");
    assert!(
        valid["message"].as_str().unwrap().contains(":27:21:"),
        "{valid}"
    );

    // A pass on demand still runs the last good version and writes nothing new.
    let mark = d.mark();
    let (code, body) = d.http("POST", "/reconcile?stack=demo");
    assert_eq!(code, 202, "{body}");
    assert!(body.contains(r#""triggered":["demo"]"#), "{body}");
    let (_, line) = d.wait_from(mark, "the triggered pass", in_sync);
    // Why it ran is said in the summary line and in /status.
    assert!(line.contains(r#""trigger":"requested""#), "{line}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.status()["stacks"]["demo"]["lastTrigger"] != "requested" {
        assert!(
            Instant::now() < deadline,
            "/status does not say why the last pass ran: {}",
            d.status()["stacks"]["demo"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.http("POST", "/reconcile?stack=nope").0, 404);
    assert_eq!(
        d.count(|l| l.contains("the desired state is invalid")),
        1,
        "said once per edit"
    );
    assert_eq!(d.stop(), 0);
}

#[tokio::test]
async fn observe_mode_reports_and_writes_nothing() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example().replace("mode: enforce", "mode: observe"));
    let d = start(&emu, &file, &["--resync", "60s"]);
    let line = d.wait_for("a pass", |l| l.contains("reconciled in"));
    assert!(line.contains(": pending"), "{line}");
    assert!(line.contains(r#""aws_writes":0"#), "{line}");
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    assert!(
        cfn.describe_stacks()
            .send()
            .await
            .unwrap()
            .stacks()
            .is_empty()
    );
    let synced = condition(&d, "Synced");
    assert_eq!(
        (synced["status"].as_str(), synced["reason"].as_str()),
        (Some("False"), Some("ChangesPending"))
    );
    assert_eq!(d.stop(), 0);
}

#[tokio::test]
async fn of_two_daemons_on_one_lease_only_one_writes_and_killing_it_hands_over() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    let lease = [
        "--lease-table",
        "bco-lease",
        "--lease-ttl",
        "3s",
        "--resync",
        "1s",
    ];
    let a = start(&emu, &file, &lease);
    a.wait_for("A takes the lease", |l| l.contains("lease taken"));
    a.wait_for("A deploys", applied);
    let b = start(&emu, &file, &lease);
    b.wait_for("B observes", |l| l.contains("held by another operator"));
    b.wait_for("B passes", in_sync);
    assert_eq!(
        b.http("GET", "/metrics")
            .1
            .lines()
            .find(|l| l.starts_with("leader ")),
        Some("leader 0")
    );

    // Only A corrects a change: B's passes stay dry runs.
    let (ecs, cluster, service) = litellm(&emu).await;
    ecs.update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(4)
        .send()
        .await
        .unwrap();
    a.wait_for("A sets the count back", |l| {
        l.contains(r#""action":"SetDesiredCount""#)
    });
    assert_eq!(
        b.count(|l| l.contains(r#""message":"applying""#)),
        0,
        "B wrote"
    );

    // A dies without releasing: B takes over within one TTL and then corrects drift.
    let mut a = a;
    a.kill();
    let killed = Instant::now();
    let mark = b.mark();
    b.wait_from(mark, "B takes the lease", |l| l.contains("lease taken"));
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "hand-over took {:?}",
        killed.elapsed()
    );
    ecs.update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(3)
        .send()
        .await
        .unwrap();
    b.wait_from(mark, "B sets the count back", |l| {
        l.contains(r#""action":"SetDesiredCount""#)
    });
    assert_eq!(b.stop(), 0);
}

/// Runs `git` in `dir` as a test user, with `main` as the default branch.
pub(crate) fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[tokio::test]
async fn commits_to_a_git_source_are_deployed() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join("desired-state")).unwrap();
    let doc = repo.path().join("desired-state/prod.yaml");
    std::fs::write(&doc, example()).unwrap();
    git(repo.path(), &["init", "--quiet"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "--quiet", "-m", "first"]);
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let checkout = work.path().join("checkout");
    let d = start(
        &emu,
        Path::new("desired-state"),
        &[
            "--git-url",
            &url,
            "--git-ref",
            "main",
            "--git-interval",
            "1s",
            "--git-workdir",
            checkout.to_str().unwrap(),
            "--resync",
            "60s",
        ],
    );
    d.wait_for("the first commit deployed", applied);
    let first = d.status()["desired"]["revision"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first.len(), 40, "revision is the commit id");

    let mark = d.mark();
    std::fs::write(
        &doc,
        example().replace("DeploymentSize: small", "DeploymentSize: large"),
    )
    .unwrap();
    git(repo.path(), &["commit", "--quiet", "-am", "bigger tasks"]);
    d.wait_from(mark, "the new commit applied", |l| {
        l.contains(r#""action":"UpdateStack""#)
    });
    assert_ne!(d.status()["desired"]["revision"].as_str().unwrap(), first);
    assert_eq!(d.stop(), 0);
}

/// `/readyz` says whether AWS answered the last pass. When two concerns fail in one pass
/// (here both for want of a permission), the pass fails with several errors at once, and
/// that is no more ready than one error.
#[tokio::test]
async fn readyz_is_not_ready_when_a_pass_fails_with_several_aws_errors() {
    if skip_emulator_tests() {
        return;
    }
    let mut emu = Emulator::start_iam_enforced(&["s3:PutObject", "backup:CreateBackupPlan"]);
    let iam = emu.iam.as_mut().unwrap();
    iam.operator = iam.dropped.clone().unwrap();
    let (_dir, file) = desired_file(&example());
    let d = start(&emu, &file, &["--resync", "60s"]);
    let failed = d.wait_for("a failed pass", |l| l.contains("reconcile failed"));
    assert!(
        failed.contains("S3.PutObject") && failed.contains("Backup.CreateBackupPlan"),
        "two concerns fail at once: {failed}"
    );
    let (code, body) = d.http("GET", "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("the last AWS round trip failed"), "{body}");
    // The kind of failure is counted per stack.
    let (_, metrics) = d.http("GET", "/metrics");
    assert!(
        metrics.contains(r#"errors_total{stack="demo",error="several"}"#),
        "{metrics}"
    );
    assert_eq!(d.stop(), 0);
}

/// A new lease table is CREATING at first (the emulator holds it so for a second, as
/// DynamoDB does), and refuses writes until ACTIVE: the lease is written only then, with
/// no failed attempt before it.
#[tokio::test]
async fn the_lease_is_written_once_its_new_table_is_active() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    let d = start(
        &emu,
        &file,
        &["--resync", "60s", "--lease-table", "bco-new-lease"],
    );
    let mark = d.mark();
    d.wait_from(mark, "the lease", |l| l.contains("lease taken"));
    let lines = d.lines_from(0);
    let waited = lines
        .iter()
        .position(|l| l.contains("waiting for the lease table to become ACTIVE"));
    let taken = lines.iter().position(|l| l.contains("lease taken"));
    assert!(
        waited.is_some() && waited < taken,
        "the table was CREATING: the operator waits for it\n{}",
        lines.join("\n")
    );
    assert!(
        !lines.iter().any(|l| l.contains("cannot renew the lease")),
        "{}",
        lines.join("\n")
    );
    assert_eq!(d.stop(), 0);
}
