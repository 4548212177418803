//! LiteLLM as ECS would run it: the emulator starts the real LiteLLM process from the
//! deployed task definition at the moment a task is due (tests/emulator/ecs_tasks.py),
//! across create → model change → redeploy by a stack update → a stack update after the
//! config bucket was emptied out of band. Every start must find its config object and
//! serve exactly the desired models; a start without its config exits, as on AWS.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Emulator, repo_root, skip_emulator_tests};
use crate::stack::{desired_file, example, run};

/// The emulator's task log: one JSON object per line.
struct TaskLog(PathBuf);

impl TaskLog {
    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON task event"))
            .collect()
    }

    fn count(&self, event: &str) -> usize {
        self.events().iter().filter(|e| e["event"] == event).count()
    }

    /// Waits until `n` tasks have served, failing at once on a task that exited.
    fn wait_serving(&self, n: usize) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let events = self.events();
            if let Some(e) = events.iter().find(|e| e["event"] == "exited") {
                panic!("a LiteLLM task exited:\n{}", pretty(e));
            }
            let serving: Vec<_> = events.iter().filter(|e| e["event"] == "serving").collect();
            if serving.len() >= n {
                return serving[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{n} LiteLLM task(s) did not serve within 240 s; events:\n{}",
                events.iter().map(pretty).collect::<Vec<_>>().join("\n")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The start event of the task that `serving` reports.
    fn start_of(&self, serving: &serde_json::Value) -> serde_json::Value {
        self.events()
            .into_iter()
            .find(|e| e["event"] == "start" && e["addr"] == serving["addr"])
            .expect("the task's start event")
    }
}

fn pretty(e: &serde_json::Value) -> String {
    serde_json::to_string_pretty(e).unwrap_or_default()
}

fn runner_config(log: &Path) -> String {
    let litellm = repo_root().join(".venv/litellm/bin/litellm");
    assert!(
        litellm.exists(),
        "LiteLLM is not installed ({} is missing): run scripts/test or scripts/setup-venv; \
         set BCO_SKIP_EMULATOR_TESTS=1 to skip emulator tests explicitly",
        litellm.display()
    );
    serde_json::json!({
        "log": log,
        "containers": {"litellm": {
            "command": [litellm],
            "port_arg": "--port",
            "args": ["--host", "127.0.0.1"],
            "health": "/health/liveliness",
            "probe": {"path": "/v1/models", "bearer_env": "LITELLM_MASTER_KEY"},
            "s3_object_env": ["LITELLM_CONFIG_BUCKET_NAME", "LITELLM_CONFIG_BUCKET_OBJECT_KEY"],
        }},
    })
    .to_string()
}

fn model_names(doc: &str) -> BTreeSet<String> {
    let mut stacks = Vec::new();
    let mut diagnostics = Vec::new();
    bedrock_chat_operator::desired::load_bytes(
        Path::new("stack.yaml"),
        doc.as_bytes(),
        &mut stacks,
        &mut diagnostics,
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    stacks[0]
        .spec
        .models
        .iter()
        .map(|m| m.name.clone())
        .collect()
}

/// The task found its config when it started and serves exactly `want`.
fn assert_started_with_config_and_serves(
    log: &TaskLog,
    serving: &serde_json::Value,
    want: &BTreeSet<String>,
) {
    let start = log.start_of(serving);
    assert_eq!(
        start["s3Object"]["present"],
        true,
        "a LiteLLM task started without its config object:\n{}",
        pretty(&start)
    );
    let probe = &serving["probe"];
    assert_eq!(probe["status"], 200, "{}", pretty(serving));
    let served: BTreeSet<String> = probe["body"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no model list: {}", pretty(serving)))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&served, want, "{}", pretty(serving));
}

fn apply(emu: &Emulator, file: &Path) -> String {
    let out = run(emu, &["apply"], file);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out.stdout
}

#[tokio::test]
async fn every_litellm_task_starts_with_its_config_across_create_model_change_and_redeploys() {
    if skip_emulator_tests() {
        return;
    }
    let logs = tempfile::tempdir().unwrap();
    let log = TaskLog(logs.path().join("tasks.jsonl"));
    let config = runner_config(&log.0);
    let emu = Emulator::start_with(&[("BCO_ECS_TASKS", &config)]);
    let doc = example();
    let (_dir, file) = desired_file(&doc);

    // Create: the services start at 0; the config goes to S3 before LiteLLM is scaled.
    apply(&emu, &file);
    let first = log.wait_serving(1);
    assert_started_with_config_and_serves(&log, &first, &model_names(&doc));

    // A model change: the new config is in S3 before the deployment that loads it.
    let changed = crate::stack::changed_models(&doc);
    std::fs::write(&file, &changed).unwrap();
    let out = apply(&emu, &file);
    assert!(out.contains("PushModelConfig, RedeployLiteLlm"), "{out}");
    let second = log.wait_serving(2);
    assert_started_with_config_and_serves(&log, &second, &model_names(&changed));

    // A redeploy by the stack: a new task definition revision rolls the service.
    let medium = changed.replace("DeploymentSize: small", "DeploymentSize: medium");
    std::fs::write(&file, &medium).unwrap();
    let out = apply(&emu, &file);
    assert!(out.contains("applied UpdateStack"), "{out}");
    let third = log.wait_serving(3);
    assert_started_with_config_and_serves(&log, &third, &model_names(&changed));
    assert_ne!(
        log.start_of(&third)["taskDefinition"],
        log.start_of(&second)["taskDefinition"],
        "the stack update registered a new task definition"
    );

    // The bucket emptied out of band (a delete marker, as `aws s3 rm` leaves), then a
    // stack update that rolls LiteLLM again: the config goes back first.
    let outputs = crate::stack::outputs(&emu, "bedrock-image-chat").await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emu.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    s3.delete_object()
        .bucket(&outputs["ConfigBucketName"])
        .key(&outputs["ConfigObjectKey"])
        .send()
        .await
        .unwrap();
    std::fs::write(&file, &changed).unwrap();
    let out = apply(&emu, &file);
    assert!(
        out.contains("applied RestoreModelConfig, UpdateStack"),
        "{out}"
    );
    let fourth = log.wait_serving(4);
    assert_started_with_config_and_serves(&log, &fourth, &model_names(&changed));

    // Every start, not only the ones waited for, found its config; none exited.
    let events = log.events();
    for e in events.iter().filter(|e| e["event"] == "start") {
        assert_eq!(e["s3Object"]["present"], true, "{}", pretty(e));
    }
    assert_eq!(log.count("exited"), 0);
    assert_eq!(log.count("start"), 4, "one task per step");
}
