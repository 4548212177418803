//! Health on moto, end to end through the daemon: each fault is caused out of band and
//! seen in `/status`, `/metrics` and the log, and so is its recovery — a secret scheduled
//! for deletion (Ready False, naming it), an alarm in ALARM (Degraded, still Ready), an
//! Open WebUI target deregistered (Degraded with the reason), a mount target deleted, a
//! VPC endpoint deleted (Ready False). Each transition is logged once. The `status`
//! command reads the daemon's `/status` and computes its own against AWS.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Daemon, Emulator, Options, run_args, skip_emulator_tests};
use crate::stack::{desired_file, example_with_secrets, outputs};

const STACK: &str = "bedrock-image-chat";

fn component(status: &Value, name: &str) -> Value {
    status["stacks"]["demo"]["health"]
        .as_array()
        .and_then(|h| h.iter().find(|c| c["name"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

fn condition(status: &Value, kind: &str) -> Value {
    status["stacks"]["demo"]["conditions"]
        .as_array()
        .and_then(|h| h.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Polls `/status` until `pred` holds (60 s at most); returns that status.
fn until(d: &Daemon, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = d.status();
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; /status: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is(c: &Value, status: &str, reason: &str) -> bool {
    c["status"] == status && c["reason"] == reason
}

/// Log lines saying `component` became `to`.
fn transitions(d: &Daemon, component: &str, to: &str) -> usize {
    d.count(|l| {
        l.contains(&format!(r#""component":"{component}""#))
            && l.contains(&format!(r#""to":"{to}""#))
    })
}

#[tokio::test]
async fn out_of_band_faults_are_diagnosed_with_their_remedy_and_recovery_flips_back_logged_once() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let doc = example_with_secrets(
        &emu,
        "postgresql://u:p@db.internal:5432/chat",
        "redis://cache.internal:6379/0",
    )
    .await
    // Two Open WebUI tasks, so that one target gone leaves the other serving.
    .replace("minCapacity: 1", "minCapacity: 2");
    let (_dir, file) = desired_file(&doc);
    let d = Daemon::start(
        run_args(&mut emu.command(), &file).args(["--resync", "1s", "--health-interval", "1s"]),
        Options::default(),
    );
    // Ready once the stack is up: every component read says so; moto has no Bedrock
    // availability API, so the models are Unknown (said, not guessed).
    let s = until(&d, "Ready with every component healthy", |s| {
        condition(s, "Ready")["status"] == "True"
            && [
                "openwebui",
                "litellm",
                "loadBalancer",
                "efs",
                "secrets",
                "network",
                "alarms",
            ]
            .iter()
            .all(|n| component(s, n)["status"] == "Healthy")
    });
    assert_eq!(condition(&s, "Degraded")["status"], "False", "{s:#}");
    assert_eq!(component(&s, "models")["status"], "Unknown", "{s:#}");
    assert!(
        is(&component(&s, "loadBalancer"), "Healthy", "TargetsHealthy"),
        "{s:#}"
    );
    let line = d.wait_for("a summary that says ready", |l| {
        l.contains("reconciled in") && l.contains(r#""health":"ready""#)
    });
    assert!(line.contains(", ready"), "{line}");

    let config = emu.sdk_config().await;
    let out = outputs(&emu, STACK).await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let db_arn = doc
        .lines()
        .find_map(|l| l.trim().strip_prefix("databaseUrlSecretArn: "))
        .unwrap()
        .trim_matches('"')
        .to_string();

    // 1. The user's database secret scheduled for deletion: no new task could start.
    sm.delete_secret()
        .secret_id(&db_arn)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let s = until(&d, "Ready False for the secret", |s| {
        condition(s, "Ready")["status"] == "False"
    });
    let ready = condition(&s, "Ready");
    assert_eq!(ready["reason"], "SecretScheduledForDeletion", "{s:#}");
    let msg = ready["message"].as_str().unwrap();
    assert!(
        msg.contains(&db_arn)
            && msg.contains("openwebui/DATABASE_URL")
            && msg.contains("restore-secret"),
        "{msg}"
    );
    let (_, metrics) = d.http("GET", "/metrics");
    assert!(
        metrics
            .contains(r#"component_health{stack="demo",component="secrets",status="Degraded"} 1"#),
        "{metrics}"
    );
    sm.restore_secret().secret_id(&db_arn).send().await.unwrap();
    until(&d, "Ready again after the restore", |s| {
        condition(s, "Ready")["status"] == "True" && component(s, "secrets")["status"] == "Healthy"
    });

    // 2. An alarm fires: serving, but a person should look.
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let alarm = format!("{STACK}-litellm-high-cpu");
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed: 3 datapoints were greater than the threshold (80.0)")
        .send()
        .await
        .unwrap();
    let s = until(&d, "Degraded for the alarm", |s| {
        condition(s, "Degraded")["status"] == "True"
    });
    assert_eq!(condition(&s, "Degraded")["reason"], "AlarmFiring", "{s:#}");
    assert_eq!(
        condition(&s, "Ready")["status"],
        "True",
        "an alarm does not stop the chat: {s:#}"
    );
    assert!(
        component(&s, "alarms")["message"]
            .as_str()
            .unwrap()
            .contains(&alarm)
    );
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
        .state_reason("Threshold no longer crossed")
        .send()
        .await
        .unwrap();
    until(&d, "Degraded False again", |s| {
        condition(s, "Degraded")["status"] == "False"
    });

    // 3. One Open WebUI target deregistered by hand.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let group = elb
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let health = elb
        .describe_target_health()
        .target_group_arn(&group)
        .send()
        .await
        .unwrap();
    let targets = health.target_health_descriptions();
    assert_eq!(
        targets.len(),
        2,
        "one target per running Open WebUI task, as ECS registers them: {:#}",
        d.status()
    );
    let gone = targets[0].target().unwrap().clone();
    elb.deregister_targets()
        .target_group_arn(&group)
        .targets(gone.clone())
        .send()
        .await
        .unwrap();
    let s = until(&d, "the load balancer degraded", |s| {
        component(s, "loadBalancer")["status"] == "Degraded"
    });
    let lb = component(&s, "loadBalancer");
    assert_eq!(lb["reason"], "TargetsMissing", "{lb:#}");
    assert!(lb["message"].as_str().unwrap().contains("1 of 2"), "{lb:#}");
    assert!(
        lb["remedy"]
            .as_str()
            .unwrap()
            .contains("force-new-deployment"),
        "{lb:#}"
    );
    assert_eq!(
        condition(&s, "Ready")["status"],
        "True",
        "the other task serves: {s:#}"
    );
    elb.register_targets()
        .target_group_arn(&group)
        .targets(gone)
        .send()
        .await
        .unwrap();
    until(&d, "the load balancer healthy again", |s| {
        component(s, "loadBalancer")["status"] == "Healthy"
    });

    // The recoveries were each logged once, and so were the faults.
    for (c, to) in [
        ("secrets", "Degraded"),
        ("secrets", "Healthy"),
        ("alarms", "Degraded"),
        ("alarms", "Healthy"),
        ("loadBalancer", "Degraded"),
        ("loadBalancer", "Healthy"),
    ] {
        assert_eq!(transitions(&d, c, to), 1, "{c} → {to} logged once");
    }

    // `status` from the daemon, as a table and as JSON; and computed against AWS.
    let server = format!("http://{}", d.addr);
    let table = emu
        .command()
        .args(["status", "--server", &server])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(table.status.code(), Some(0), "{text}");
    for needle in [
        "COMPONENT",
        "loadBalancer",
        "TargetsHealthy",
        "Ready",
        "True",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let json = emu
        .command()
        .args(["status", "--server", &server, "--output", "json"])
        .output()
        .unwrap();
    let parsed: Value = serde_json::from_slice(&json.stdout).expect("status JSON");
    assert_eq!(component(&parsed, "efs")["status"], "Healthy");

    // 4. A mount target deleted: EFS degraded, the other zone still mounts.
    let efs = aws_sdk_efs::Client::new(&config);
    let fs_id = out["FileSystemId"].clone();
    let mounts = efs
        .describe_mount_targets()
        .file_system_id(&fs_id)
        .send()
        .await
        .unwrap();
    let mt = mounts.mount_targets()[0].mount_target_id().to_string();
    efs.delete_mount_target()
        .mount_target_id(&mt)
        .send()
        .await
        .unwrap();
    // 5. A VPC endpoint deleted: new tasks could not reach the service behind it.
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let endpoints = ec2.describe_vpc_endpoints().send().await.unwrap();
    let vpce = endpoints.vpc_endpoints()[0]
        .vpc_endpoint_id()
        .unwrap()
        .to_string();
    ec2.delete_vpc_endpoints()
        .vpc_endpoint_ids(&vpce)
        .send()
        .await
        .unwrap();
    d.http("POST", "/reconcile");
    let s = until(&d, "efs and network degraded", |s| {
        component(s, "efs")["status"] == "Degraded"
            && component(s, "network")["status"] == "Degraded"
    });
    assert_eq!(
        component(&s, "efs")["reason"],
        "MountTargetsMissing",
        "{s:#}"
    );
    let net = component(&s, "network");
    assert!(net["message"].as_str().unwrap().contains(&vpce), "{net:#}");
    assert_eq!(condition(&s, "Ready")["reason"], "PathUnavailable", "{s:#}");

    // Computed once against AWS: the same diagnosis, exit 1 (not ready).
    let once = emu.command().args(["status"]).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&once.stdout);
    assert_eq!(
        once.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&once.stderr)
    );
    for needle in [
        "MountTargetsMissing",
        "PathUnavailable",
        &vpce,
        "what to do:",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // `plan` prints the health below the changes.
    let plan = emu
        .command()
        .args(["plan", "--skip-drift"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("health:") && text.contains("PathUnavailable"),
        "{text}"
    );
    d.stop();
}
