//! The fault suite's fixture: a moto server that can be killed and restarted on the
//! same port with its state (moto's request recorder, replayed), the fault-injecting
//! proxy in front of it (tests/emulator/fault_proxy.py), the operator's binary pointed at
//! the proxy, the daemon (`common::Daemon`) with a /healthz poller, and the checks every
//! fault test makes: no panic, no delete, no duplicate resource.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Options, http, log_dir, new_log, python, repo_root, spawn_reporting};

/// Every fault kind the proxy injects (its KINDS).
pub const KINDS: [&str; 8] = [
    "throttle",
    "http429",
    "http500",
    "plain500",
    "reset_before",
    "reset_after",
    "stall",
    "blackhole",
];

/// The stack the example document describes.
pub const STACK: &str = "bedrock-image-chat";

/// What the control endpoints of moto and of the proxy are sent.
const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];

/// A moto server that records every request, so that after a kill it comes back on the
/// same port with its state: moto keeps state in memory only, and its recorder
/// (MOTO_ENABLE_RECORDING) plus /moto-api/recorder/replay-recording rebuild it. The
/// recording starts with /moto-api/seed, so the replay draws the same ids.
pub struct Moto {
    child: Option<Child>,
    pub port: u16,
    pub endpoint: String,
    recording: PathBuf,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let dir = tempfile::tempdir().expect("moto's recording directory");
        let recording = dir.path().join("recording.jsonl");
        let log = new_log("moto-faults-");
        let mut moto = Moto {
            child: None,
            port: 0,
            endpoint: String::new(),
            recording,
            log,
            _dir: dir,
        };
        moto.spawn();
        let (code, _) = http(&moto.addr(), "POST", "/moto-api/seed?a=20251127", JSON, "");
        assert_eq!(code, 200, "seeding moto");
        moto
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        // A port just released may still be held for a moment; try again briefly.
        for _ in 0..20 {
            let mut cmd = Command::new(python());
            cmd.arg(repo_root().join("tests/emulator/moto_launcher.py"))
                .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
                .env("MOTO_ENABLE_RECORDING", "1")
                .env("MOTO_RECORDER_FILEPATH", &self.recording);
            let (mut child, line) = spawn_reporting(cmd, &self.log);
            if let Some(endpoint) = line.and_then(|l| {
                l.strip_prefix("moto listening on ")
                    .map(|e| e.trim().to_string())
            }) {
                self.port = endpoint
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("moto's port");
                self.endpoint = endpoint;
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("moto did not start; its log: {}", self.log.display());
    }

    /// SIGKILL: requests in flight die with it; its memory is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts moto again on the same port and replays the recording; returns how many
    /// requests were replayed.
    pub fn restart(&mut self) -> usize {
        assert!(self.child.is_none(), "kill moto first");
        self.spawn();
        let replayed = std::fs::read_to_string(&self.recording)
            .map(|r| r.lines().count())
            .unwrap_or(0);
        let (code, body) = http(
            &self.addr(),
            "POST",
            "/moto-api/recorder/replay-recording",
            JSON,
            "",
        );
        assert_eq!(code, 200, "replaying moto's recording: {body}");
        replayed
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        common::sdk_config(&self.endpoint).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("emulator log: {}", self.log.display());
        }
        self.kill();
    }
}

/// The fault-injecting proxy, in front of `upstream`. Its seed comes from
/// BCO_FAULT_SEED when set (to replay a run), else it is random; either way it is printed.
pub struct FaultProxy {
    child: Child,
    pub endpoint: String,
    addr: String,
    pub seed: u64,
    pub log: PathBuf,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> FaultProxy {
        let log = log_dir().join(format!(
            "fault-proxy-{}-{}.log",
            std::process::id(),
            upstream.rsplit(':').next().unwrap_or("0")
        ));
        let mut cmd = Command::new(python());
        cmd.arg(repo_root().join("tests/emulator/fault_proxy.py"))
            .args(["--upstream", upstream, "--port", "0"]);
        if let Ok(seed) = std::env::var("BCO_FAULT_SEED") {
            cmd.args(["--seed", &seed]);
        }
        let (child, line) = spawn_reporting(cmd, &log);
        let line = line
            .unwrap_or_else(|| panic!("the fault proxy did not start; its log: {}", log.display()));
        // "fault proxy listening on http://127.0.0.1:PORT seed N"
        let rest = line
            .strip_prefix("fault proxy listening on ")
            .unwrap_or_else(|| panic!("unexpected proxy output: {line:?}"));
        let (endpoint, seed) = rest.split_once(" seed ").expect("endpoint and seed");
        let seed: u64 = seed.trim().parse().expect("seed");
        eprintln!("fault proxy seed {seed} (BCO_FAULT_SEED={seed} replays this run's choices)");
        FaultProxy {
            child,
            addr: endpoint.trim_start_matches("http://").to_string(),
            endpoint: endpoint.to_string(),
            seed,
            log,
        }
    }

    /// Merges `settings` into the proxy's (rate, kinds, limits, outage, once_per_write).
    pub fn configure(&self, settings: Value) {
        let (code, body) = http(
            &self.addr,
            "POST",
            "/__faults/config",
            JSON,
            &settings.to_string(),
        );
        assert_eq!(code, 200, "configuring the fault proxy: {body}");
    }

    pub fn stats(&self) -> Stats {
        let (code, body) = http(&self.addr, "GET", "/__faults/stats", JSON, "");
        assert_eq!(code, 200, "reading the fault proxy's stats: {body}");
        Stats(serde_json::from_str(&body).expect("stats JSON"))
    }

    /// Waits until the log has an operation matching `pred`, from entry `from` on.
    pub fn wait_for_op(&self, from: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stats = self.stats();
            if let Some(e) = stats.log().iter().skip(from).find(|e| pred(e)) {
                return e.clone();
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The operator's binary, configured as a user would for this endpoint, with the
    /// SDK's own retry settings: a retry setting in the test's environment would change
    /// what the faults meet.
    pub fn operator(&self) -> Command {
        let mut cmd = common::operator(&self.endpoint);
        cmd.env_remove("AWS_MAX_ATTEMPTS")
            .env_remove("AWS_RETRY_MODE");
        cmd
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "fault proxy seed {}; its log: {}",
                self.seed,
                self.log.display()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy's counters and operation log.
pub struct Stats(pub Value);

impl Stats {
    pub fn log(&self) -> &[Value] {
        self.0["log"].as_array().map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn count(&self, kind: &str) -> u64 {
        self.0["faults"][kind].as_u64().unwrap_or(0)
    }

    /// Faults injected by kind (outage and upstream_down included when they happened).
    pub fn faults(&self) -> serde_json::Map<String, Value> {
        self.0["faults"].as_object().cloned().unwrap_or_default()
    }

    /// The deletes the proxy saw (its rule: Delete*/Deregister*/… or HTTP DELETE, but not
    /// DeleteChangeSet), as "service:Operation".
    pub fn deletes(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|e| e["delete"] == true)
            .map(op_name)
            .collect()
    }

    /// How often each operation was called whose name matches `pred`.
    pub fn calls(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.log().iter().filter(|e| pred(&op_name(e))).count()
    }

    /// SDK retries: requests that were a second or later attempt of one call.
    pub fn retries(&self) -> usize {
        self.log()
            .iter()
            .filter(|e| e["attempt"].as_u64().unwrap_or(0) > 1)
            .count()
    }

    /// SDK retries of a call whose previous attempt met an injected fault (or found the
    /// emulator gone), rather than one of moto's own 500s for what it lacks.
    pub fn retries_after_faults(&self) -> usize {
        let log = self.log();
        log.iter()
            .filter(|e| {
                let attempt = e["attempt"].as_u64().unwrap_or(0);
                attempt > 1
                    && log.iter().any(|p| {
                        p["invocation"] == e["invocation"]
                            && p["attempt"].as_u64() == Some(attempt - 1)
                            && (!p["fault"].is_null() || p["status"] == "upstream-down")
                    })
            })
            .count()
    }

    /// Seconds between an attempt and the next attempt of the same call, for attempts
    /// that failed at once (injected errors and resets before forwarding): the SDK's
    /// backoff plus the request's own time.
    pub fn retry_gaps(&self) -> Vec<f64> {
        let log = self.log();
        let mut gaps = Vec::new();
        for (i, e) in log.iter().enumerate() {
            let instant = matches!(
                e["fault"].as_str(),
                Some("throttle" | "http500" | "plain500" | "reset_before")
            );
            let id = e["invocation"].as_str().unwrap_or("");
            if !instant || id.is_empty() {
                continue;
            }
            let attempt = e["attempt"].as_u64().unwrap_or(0);
            if let Some(next) = log[i + 1..].iter().find(|n| {
                n["invocation"].as_str() == Some(id) && n["attempt"].as_u64() == Some(attempt + 1)
            }) {
                gaps.push(next["t"].as_f64().unwrap_or(0.0) - e["t"].as_f64().unwrap_or(0.0));
            }
        }
        gaps
    }

    pub fn blackhole_waits(&self) -> Vec<f64> {
        self.0["blackhole_waits"]
            .as_array()
            .map(|w| w.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }

    /// Requests made while a fault or an outage was being injected, by kind, as a
    /// compact record for docs/RELIABILITY.md.
    pub fn summary(&self, test: &str, extra: Value) -> Value {
        let mut gaps = self.retry_gaps();
        gaps.sort_by(f64::total_cmp);
        let median = gaps.get(gaps.len() / 2).copied();
        json!({
            "test": test,
            "seed": self.0["seed"],
            "requests": self.0["requests"],
            "faults": self.0["faults"],
            "sdk_retries": self.retries(),
            "sdk_retries_after_faults": self.retries_after_faults(),
            "retry_gap_secs": {
                "min": gaps.first(),
                "median": median,
                "max": gaps.last(),
            },
            "blackhole_waits": self.0["blackhole_waits"],
            "deletes": self.deletes(),
            "delete_change_sets": self.calls(|o| o == "cloudformation:DeleteChangeSet"),
            "extra": extra,
        })
    }
}

pub fn op_name(e: &Value) -> String {
    format!(
        "{}:{}",
        e["service"].as_str().unwrap_or("?"),
        e["op"].as_str().unwrap_or("?")
    )
}

/// Writes a test's figures to target/fault-suite/NAME.json (docs/RELIABILITY.md is
/// written from them) and prints them.
pub fn record_results(name: &str, summary: &Value) {
    let dir = repo_root().join("target/fault-suite");
    std::fs::create_dir_all(&dir).expect("create target/fault-suite");
    let text = serde_json::to_string_pretty(summary).expect("results JSON");
    std::fs::write(dir.join(format!("{name}.json")), &text).expect("write results");
    eprintln!("{name}: {text}");
}

/// One run of the operator's command line.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(cmd: &mut Command) -> Run {
        let out = cmd.output().expect("run the operator");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Exit 0 or 1 with its summary line, and no panic: what every run must show,
    /// whatever was injected.
    pub fn assert_reported(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "the operator panicked:\n{}",
            self.stderr
        );
        assert!(
            matches!(self.code, 0 | 1),
            "exit {}:\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(
            self.stdout.contains("stack demo: "),
            "no summary line:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        if self.code == 1 {
            assert!(self.stdout.contains("FAILED: "), "{}", self.stdout);
        }
    }
}

/// What moto holds after the runs, counted by name: each must be exactly one.
pub async fn assert_no_duplicates(moto: &Moto) -> Value {
    let config = moto.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let stacks: Vec<_> = cfn
        .list_stacks()
        .send()
        .await
        .expect("ListStacks")
        .stack_summaries()
        .iter()
        .filter(|s| {
            s.stack_status()
                .is_some_and(|st| st.as_str() != "DELETE_COMPLETE")
        })
        .map(|s| {
            (
                s.stack_name().unwrap_or_default().to_string(),
                s.stack_status().map(|st| st.as_str().to_string()),
            )
        })
        .collect();
    assert_eq!(stacks.len(), 1, "stacks: {stacks:?}");
    assert_eq!(stacks[0].0, STACK);
    let status = stacks[0].1.clone().unwrap_or_default();
    assert!(
        matches!(status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE"),
        "stack status {status}"
    );
    let stack = cfn
        .describe_stacks()
        .stack_name(STACK)
        .send()
        .await
        .expect("DescribeStacks");
    let stack = &stack.stacks()[0];
    assert_eq!(
        stack.enable_termination_protection(),
        Some(true),
        "termination protection"
    );
    let change_sets = cfn
        .list_change_sets()
        .stack_name(STACK)
        .send()
        .await
        .expect("ListChangeSets")
        .summaries()
        .len();

    let ecs = aws_sdk_ecs::Client::new(&config);
    let clusters = ecs
        .list_clusters()
        .send()
        .await
        .expect("ListClusters")
        .cluster_arns()
        .to_vec();
    assert_eq!(clusters.len(), 1, "clusters: {clusters:?}");
    let services = ecs
        .list_services()
        .cluster(&clusters[0])
        .send()
        .await
        .expect("ListServices")
        .service_arns()
        .len();
    assert_eq!(services, 2, "ECS services");

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let buckets = s3
        .list_buckets()
        .send()
        .await
        .expect("ListBuckets")
        .buckets()
        .len();
    assert_eq!(buckets, 1, "S3 buckets");

    let backup = aws_sdk_backup::Client::new(&config);
    let plans: Vec<String> = backup
        .list_backup_plans()
        .send()
        .await
        .expect("ListBackupPlans")
        .backup_plans_list()
        .iter()
        .filter_map(|p| p.backup_plan_name().map(str::to_string))
        .collect();
    assert_eq!(plans, [format!("{STACK}-efs")], "backup plans");

    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let ecs_ns = aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs;
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ecs_ns.clone())
        .send()
        .await
        .expect("DescribeScalableTargets")
        .scalable_targets()
        .len();
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ecs_ns)
        .send()
        .await
        .expect("DescribeScalingPolicies")
        .scaling_policies()
        .len();
    assert_eq!((targets, policies), (1, 1), "scalable targets, policies");
    json!({
        "stacks": stacks.len(),
        "change_sets_left": change_sets,
        "clusters": clusters.len(),
        "services": services,
        "buckets": buckets,
        "backup_plans": plans.len(),
        "scalable_targets": targets,
        "scaling_policies": policies,
    })
}

/// The stack's parameter `key` in moto.
pub async fn stack_parameter(moto: &Moto, key: &str) -> Option<String> {
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk_config().await);
    let out = cfn.describe_stacks().stack_name(STACK).send().await.ok()?;
    out.stacks()
        .first()?
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
        .map(str::to_string)
}

/// The daemon (`run`, through the proxy), with a thread that polls /healthz all along;
/// the rest of the harness is `common::Daemon`'s.
pub struct Daemon {
    // Before `inner`, so that it is dropped first: the poller stops before the process
    // is killed rather than count the dead daemon's refusals.
    health: Arc<Mutex<Health>>,
    inner: common::Daemon,
}

/// What the /healthz poller saw.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub ok: u64,
    pub failed: Vec<String>,
    pub slowest_ms: u128,
}

impl Daemon {
    pub fn start(proxy: &FaultProxy, file: &Path, extra: &[&str]) -> Daemon {
        let inner = common::Daemon::start(
            common::run_args(&mut proxy.operator(), file).args(extra),
            Options {
                // Passes through faults and outages take their retries and backoffs.
                timeout: Duration::from_secs(180),
                ..Options::default()
            },
        );
        let health = Arc::new(Mutex::new(Health::default()));
        let (addr, poll) = (inner.addr.clone(), Arc::downgrade(&health));
        // Polls for as long as the Daemon, the only other owner of `health`, lives.
        std::thread::spawn(move || {
            while let Some(health) = poll.upgrade() {
                let started = Instant::now();
                let got = std::panic::catch_unwind(|| http(&addr, "GET", "/healthz", &[], ""));
                let took = started.elapsed().as_millis();
                let mut h = health.lock().unwrap();
                h.slowest_ms = h.slowest_ms.max(took);
                match got {
                    Ok((200, _)) => h.ok += 1,
                    Ok((code, body)) => h.failed.push(format!("{code} {body}")),
                    Err(_) => h.failed.push("no answer".into()),
                }
                drop(h);
                drop(health);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Daemon { health, inner }
    }

    pub fn health(&self) -> Health {
        self.health.lock().unwrap().clone()
    }

    /// No panic so far, and the process is still running.
    pub fn assert_alive(&mut self) {
        let panicked: Vec<String> = self
            .inner
            .lines_from(0)
            .into_iter()
            .filter(|l| l.contains("panicked"))
            .collect();
        assert!(panicked.is_empty(), "the daemon panicked: {panicked:?}");
        assert!(self.inner.running(), "the daemon exited");
    }

    /// Stops the poller, then SIGTERM; the exit code.
    pub fn stop(self) -> i32 {
        let Daemon { health, inner } = self;
        drop(health);
        inner.stop()
    }
}

impl Deref for Daemon {
    type Target = common::Daemon;

    fn deref(&self) -> &common::Daemon {
        &self.inner
    }
}

/// A pass summary line: "reconciled in N ms: OUTCOME" or "reconcile failed in N ms".
pub fn pass_line(l: &str) -> bool {
    l.contains("reconciled in") || l.contains("reconcile failed in")
}

pub fn failed_pass(l: &str) -> bool {
    l.contains("reconcile failed in")
}

pub fn good_pass(l: &str) -> bool {
    l.contains("reconciled in") && (l.contains(": in_sync") || l.contains(": applied"))
}

/// The delay a pass line announces ("next run in 2s"), in seconds.
pub fn next_run_secs(l: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(l).ok()?;
    let message = v["message"].as_str()?;
    let text = message.split("next run in ").nth(1)?;
    humantime::parse_duration(text.trim())
        .ok()
        .map(|d| d.as_secs())
}
