//! The fault suite: the operator's binary talks to moto through a fault-injecting proxy
//! (tests/emulator/fault_proxy.py) that throttles, answers 429 and 500, resets
//! connections before and after the emulator did the work, stalls 10 s and black-holes
//! requests; and moto is killed in the middle of an `apply` and of a daemon pass, then
//! restarted on the same port with its state. Each time: no panic, the failure reported,
//! retries (the SDK's for one call, the reconcile backoff for a pass), convergence once
//! the faults stop, no duplicate resource, no delete. Each test writes its figures to
//! target/fault-suite/ (docs/RELIABILITY.md is written from them).

mod fixture;

use std::process::Stdio;
use std::time::{Duration, Instant};

use bedrock_chat_operator::aws::ATTEMPT_TIMEOUT;
use serde_json::json;

use crate::common::skip_emulator_tests;
use crate::stack::{desired_file, example};
use fixture::{
    Daemon, FaultProxy, KINDS, Moto, Run, Stats, assert_no_duplicates, failed_pass, good_pass,
    next_run_secs, pass_line, record_results, stack_parameter,
};

/// Faults on `rate` of the requests, every kind; one stall and one blackhole per run, as
/// each costs seconds of test time.
fn random_faults(rate: f64) -> serde_json::Value {
    json!({"rate": rate, "limits": {"stall": 1, "blackhole": 1}})
}

fn every_kind_injected(stats: &Stats) -> bool {
    KINDS.iter().all(|k| stats.count(k) > 0)
}

fn assert_no_deletes(stats: &Stats) {
    assert!(
        stats.deletes().is_empty(),
        "the operator deleted: {:?}",
        stats.deletes()
    );
}

/// The SDK abandoned every black-holed attempt at its attempt timeout, long before the
/// proxy would have given up (60 s).
fn assert_blackholes_abandoned(stats: &Stats) {
    let limit = ATTEMPT_TIMEOUT.as_secs_f64() + 10.0;
    for waited in stats.blackhole_waits() {
        assert!(
            waited < limit,
            "a black-holed attempt was held {waited} s: no attempt timeout"
        );
    }
}

/// Bounds for waits, so that a regression fails the test instead of hanging it for the
/// default 60 min stack timeout.
const TIMEOUTS: [&str; 4] = ["--changeset-timeout", "60s", "--stack-timeout", "120s"];

fn apply(proxy: &FaultProxy, file: &std::path::Path) -> Run {
    Run::of(
        proxy
            .operator()
            .arg("apply")
            .arg(file)
            .args(["--poll-interval", "100ms"])
            .args(TIMEOUTS),
    )
}

fn assert_quiet(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("stack demo: in sync") && run.stdout.contains(", 0 writes)"),
        "not converged: {}",
        run.stdout
    );
}

#[tokio::test]
async fn apply_converges_after_throttling_5xx_resets_and_stalls() {
    if skip_emulator_tests() {
        return;
    }
    let started = Instant::now();
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let (_dir, file) = desired_file(&example());
    proxy.configure(random_faults(0.3));

    // `apply` is one pass: under faults it may fail, and says so; the next run goes on
    // from what exists.
    let mut codes = Vec::new();
    while codes.len() < 4 || !every_kind_injected(&proxy.stats()) {
        assert!(
            codes.len() < 15,
            "not every kind injected after {} runs: {:?}",
            codes.len(),
            proxy.stats().faults()
        );
        let run = apply(&proxy, &file);
        run.assert_reported();
        codes.push(run.code);
    }
    proxy.configure(json!({"rate": 0.0}));
    let converge = apply(&proxy, &file);
    converge.assert_reported();
    assert_eq!(converge.code, 0, "{}\n{}", converge.stdout, converge.stderr);
    assert_quiet(&apply(&proxy, &file));

    let state = assert_no_duplicates(&moto).await;
    let stats = proxy.stats();
    assert_no_deletes(&stats);
    assert_blackholes_abandoned(&stats);
    assert!(stats.retries() > 0, "no SDK retry seen");
    record_results(
        "apply_faults",
        &stats.summary(
            "apply_converges_after_throttling_5xx_resets_and_stalls",
            json!({
                "apply_exit_codes_under_faults": codes,
                "state": state,
                "secs": started.elapsed().as_secs(),
            }),
        ),
    );
}

#[tokio::test]
async fn a_lost_answer_to_every_write_creates_nothing_twice() {
    if skip_emulator_tests() {
        return;
    }
    let started = Instant::now();
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let (_dir, file) = desired_file(&example());
    // Each write is done by moto once, and its answer lost: the SDK sends it again.
    proxy.configure(json!({"once_per_write": "reset_after"}));

    let run = apply(&proxy, &file);
    run.assert_reported();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let stats = proxy.stats();
    let lost: Vec<String> = stats
        .log()
        .iter()
        .filter(|e| e["fault"] == "reset_after")
        .map(fixture::op_name)
        .collect();
    for write in [
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:UpdateTerminationProtection",
        "backup:CreateBackupPlan",
        "s3:PutObject",
        "ecs:UpdateService",
    ] {
        assert!(
            lost.iter().any(|l| l == write),
            "{write} not faulted: {lost:?}"
        );
    }
    // Every lost answer was followed by the SDK's retry of that same call.
    for e in stats.log().iter().filter(|e| e["fault"] == "reset_after") {
        let again = stats.log().iter().any(|n| {
            n["invocation"] == e["invocation"]
                && n["attempt"].as_u64() == e["attempt"].as_u64().map(|a| a + 1)
        });
        assert!(again, "no retry after the lost answer of {e}");
    }
    assert_quiet(&apply(&proxy, &file));
    let state = assert_no_duplicates(&moto).await;
    let stats = proxy.stats();
    assert_no_deletes(&stats);
    record_results(
        "lost_answers",
        &stats.summary(
            "a_lost_answer_to_every_write_creates_nothing_twice",
            json!({"writes_with_lost_answer": lost, "state": state, "secs": started.elapsed().as_secs()}),
        ),
    );
}

#[tokio::test]
async fn apply_stopped_between_change_set_and_execution_finishes_the_create_next_run() {
    if skip_emulator_tests() {
        return;
    }
    let started = Instant::now();
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let (_dir, file) = desired_file(&example());
    // An AccessDenied while the change set is computed (a permission missing: no retry
    // helps, so neither the SDK nor the wait retries it): the pass fails with the stack
    // in REVIEW_IN_PROGRESS and its change set unexecuted.
    proxy.configure(json!({"once": {"cloudformation:DescribeChangeSet": "denied"}}));
    let stopped = apply(&proxy, &file);
    stopped.assert_reported();
    assert_eq!(stopped.code, 1, "{}", stopped.stdout);
    assert!(
        stopped.stdout.contains("DescribeChangeSet"),
        "{}",
        stopped.stdout
    );
    let resumed = apply(&proxy, &file);
    resumed.assert_reported();
    assert!(
        resumed.stdout.contains("stack demo: applied CreateStack"),
        "{}\n{}",
        resumed.stdout,
        resumed.stderr
    );
    assert_quiet(&apply(&proxy, &file));
    let state = assert_no_duplicates(&moto).await;
    let stats = proxy.stats();
    assert_no_deletes(&stats);
    assert_eq!(stats.count("denied"), 1);
    record_results(
        "stopped_before_execution",
        &stats.summary(
            "apply_stopped_between_change_set_and_execution_finishes_the_create_next_run",
            json!({
                "apply_stopped": stopped.stdout.trim(),
                "apply_resumed": resumed.stdout.trim(),
                "state": state,
                "secs": started.elapsed().as_secs(),
            }),
        ),
    );
}

/// Waits until the last `n` pass lines after `mark` are failures; returns their
/// announced delays (seconds).
fn wait_for_failed_streak(d: &Daemon, mark: usize, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let passes: Vec<String> = d
            .lines_from(mark)
            .into_iter()
            .filter(|l| pass_line(l))
            .collect();
        if passes.len() >= n && passes[passes.len() - n..].iter().all(|l| failed_pass(l)) {
            return passes[passes.len() - n..]
                .iter()
                .filter_map(|l| next_run_secs(l))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no {n} failed passes in a row: {passes:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn daemon_keeps_serving_and_converges_through_faults_and_an_outage() {
    if skip_emulator_tests() {
        return;
    }
    let started = Instant::now();
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let (_dir, file) = desired_file(&example());
    // Fewer than for `apply`: a pass makes more calls, and some passes should get through.
    proxy.configure(random_faults(0.2));
    let mut d = Daemon::start(
        &proxy,
        &file,
        &[&["--resync", "2s"][..], &TIMEOUTS].concat(),
    );

    // Faults from the first pass on, and the desired state changes under them.
    d.wait_from(0, "a first pass", pass_line);
    std::fs::write(
        &file,
        example().replace("DeploymentSize: small", "DeploymentSize: medium"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let passes = |d: &Daemon| d.lines_from(0).iter().filter(|l| pass_line(l)).count();
    while passes(&d) < 6 || !every_kind_injected(&proxy.stats()) {
        assert!(
            Instant::now() < deadline,
            "{} passes, faults {:?}",
            passes(&d),
            proxy.stats().faults()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let faulty_passes = d.lines_from(0).iter().filter(|l| pass_line(l)).count();
    let failed_under_faults = d.lines_from(0).iter().filter(|l| failed_pass(l)).count();
    proxy.configure(json!({"rate": 0.0}));
    let mark = d.mark();
    // Failed passes may have pushed the next one far out (the backoff doubles up to
    // 5 min); a person would ask for one now, as the test does.
    assert_eq!(d.http("POST", "/reconcile").0, 202);
    d.wait_from(mark, "an in-sync pass once the faults stop", |l| {
        l.contains("reconciled in") && l.contains(": in_sync")
    });
    assert_eq!(
        stack_parameter(&moto, "DeploymentSize").await.as_deref(),
        Some("medium"),
        "the edit made under faults was not applied"
    );
    assert_eq!(d.http("GET", "/readyz").0, 200);

    // An outage: the proxy resets every connection while moto keeps its state. Passes
    // fail, each announcing a longer wait (the reconcile backoff), and /readyz says so.
    let mark = d.mark();
    let outage_started = Instant::now();
    proxy.configure(json!({"outage": true}));
    let delays = wait_for_failed_streak(&d, mark, 3);
    assert_eq!(d.http("GET", "/readyz").0, 503, "/readyz during the outage");
    proxy.configure(json!({"outage": false}));
    let outage_secs = outage_started.elapsed().as_secs_f64();
    assert_eq!(delays.len(), 3, "delays announced: {delays:?}");
    assert!(
        delays.windows(2).all(|w| w[0] <= w[1]) && delays[2] > delays[0],
        "the retry delays do not grow: {delays:?}"
    );
    let mark = d.mark();
    d.wait_from(mark, "a good pass after the outage", good_pass);
    assert_eq!(d.http("GET", "/readyz").0, 200);

    d.assert_alive();
    let health = d.health();
    assert!(
        health.failed.is_empty() && health.ok > 0,
        "/healthz: {health:?}"
    );
    let metrics = d.http("GET", "/metrics").1;
    assert!(
        metrics.contains(r#"reconcile_total{stack="demo",result="failed"}"#),
        "{metrics}"
    );
    let state = assert_no_duplicates(&moto).await;
    let stats = proxy.stats();
    assert_no_deletes(&stats);
    assert_blackholes_abandoned(&stats);
    assert!(stats.count("outage") > 0);
    assert_eq!(d.stop(), 0, "SIGTERM exits 0");
    record_results(
        "daemon_faults",
        &stats.summary(
            "daemon_keeps_serving_and_converges_through_faults_and_an_outage",
            json!({
                "passes_under_faults": faulty_passes,
                "failed_passes_under_faults": failed_under_faults,
                "outage_secs": outage_secs,
                "backoff_delays_secs": delays,
                "healthz_ok": health.ok,
                "healthz_failed": health.failed.len(),
                "healthz_slowest_ms": health.slowest_ms,
                "state": state,
                "secs": started.elapsed().as_secs(),
            }),
        ),
    );
}

#[tokio::test]
async fn emulator_killed_mid_apply_comes_back_and_apply_converges() {
    if skip_emulator_tests() {
        return;
    }
    let started = Instant::now();
    let mut moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let (_dir, file) = desired_file(&example());

    let mut child = proxy
        .operator()
        .arg("apply")
        .arg(&file)
        .args(["--poll-interval", "100ms"])
        .args(TIMEOUTS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start apply");
    // moto dies while it executes the new stack's change set.
    let exec = proxy.wait_for_op(0, "ExecuteChangeSet", |e| e["op"] == "ExecuteChangeSet");
    moto.kill();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("apply's status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply did not end within 120 s of the kill");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("apply's exit");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    run.assert_reported();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        [
            "cannot connect to",
            "could not reach",
            "unreadable response"
        ]
        .iter()
        .any(|m| run.stdout.contains(m)),
        "the failure does not say AWS was unreachable: {}",
        run.stdout
    );

    // moto comes back on the same port with its state; until the replay is done the
    // proxy keeps the operator out (an endpoint that is down, not one that forgot).
    proxy.configure(json!({"outage": true}));
    let replayed = moto.restart();
    proxy.configure(json!({"outage": false}));
    let again = apply(&proxy, &file);
    again.assert_reported();
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_quiet(&apply(&proxy, &file));

    let state = assert_no_duplicates(&moto).await;
    let stats = proxy.stats();
    assert_no_deletes(&stats);
    assert!(
        stats.count("upstream_down") > 0,
        "the kill broke no request"
    );
    record_results(
        "kill_mid_apply",
        &stats.summary(
            "emulator_killed_mid_apply_comes_back_and_apply_converges",
            json!({
                "killed_during": fixture::op_name(&exec),
                "apply_after_kill": run.stdout.trim(),
                "apply_after_restart": again.stdout.trim(),
                "requests_replayed": replayed,
                "state": state,
                "secs": started.elapsed().as_secs(),
            }),
        ),
    );
}

#[tokio::test]
async fn emulator_killed_mid_daemon_pass_comes_back_and_the_daemon_converges() {
    if skip_emulator_tests() {
        return;
    }
    let started = Instant::now();
    let mut moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let (_dir, file) = desired_file(&example());
    let mut d = Daemon::start(
        &proxy,
        &file,
        &[&["--resync", "2s"][..], &TIMEOUTS].concat(),
    );
    d.wait_from(0, "the stack deployed", good_pass);

    // An edit starts an update; moto dies as the update's change set is being made.
    let from = proxy.stats().log().len();
    std::fs::write(
        &file,
        example().replace("DeploymentSize: small", "DeploymentSize: large"),
    )
    .unwrap();
    let create = proxy.wait_for_op(from, "the update's CreateChangeSet", |e| {
        e["op"] == "CreateChangeSet"
    });
    let mark = d.mark();
    moto.kill();
    let killed = Instant::now();
    // The daemon reports the failure and keeps trying, each time later.
    let delays = wait_for_failed_streak(&d, mark, 3);
    let (code, status) = d.http("GET", "/status");
    assert_eq!(code, 200);
    assert!(
        [
            "cannot connect to",
            "could not reach",
            "unreadable response"
        ]
        .iter()
        .any(|m| status.contains(m)),
        "/status does not carry the failure: {status}"
    );

    proxy.configure(json!({"outage": true}));
    let replayed = moto.restart();
    proxy.configure(json!({"outage": false}));
    let back = d.mark();
    d.wait_from(back, "a good pass after the restart", good_pass);
    let converged_after = killed.elapsed().as_secs_f64();
    let back = d.mark();
    d.wait_from(back, "an in-sync pass", |l| {
        l.contains("reconciled in") && l.contains(": in_sync")
    });
    assert_eq!(
        stack_parameter(&moto, "DeploymentSize").await.as_deref(),
        Some("large")
    );

    d.assert_alive();
    let health = d.health();
    assert!(
        health.failed.is_empty() && health.ok > 0,
        "/healthz: {health:?}"
    );
    let state = assert_no_duplicates(&moto).await;
    let stats = proxy.stats();
    assert_no_deletes(&stats);
    assert_eq!(d.stop(), 0, "SIGTERM exits 0");
    record_results(
        "kill_mid_daemon_pass",
        &stats.summary(
            "emulator_killed_mid_daemon_pass_comes_back_and_the_daemon_converges",
            json!({
                "killed_during": fixture::op_name(&create),
                "backoff_delays_secs": delays,
                "requests_replayed": replayed,
                "converged_secs_after_kill": converged_after,
                "healthz_ok": health.ok,
                "healthz_failed": health.failed.len(),
                "state": state,
                "secs": started.elapsed().as_secs(),
            }),
        ),
    );
}
