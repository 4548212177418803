//! LiteLLM as ECS would run it: the emulator starts the real LiteLLM process from the
//! deployed task definition at the moment a task is due (tests/emulator/ecs_tasks.py),
//! across create → model change → redeploy by a stack update → a stack update after the
//! config bucket was emptied out of band. Every start of either LiteLLM process (chat:
//! the text models; images: the image models) must find its config object and serve
//! exactly its desired models; a start without its config exits, as on AWS.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bedrock_chat_operator::desired::ModelType;

use crate::common::{Emulator, repo_root, skip_emulator_tests};
use crate::stack::{desired_file, example, model_names, run};

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

    /// Waits until `n` containers named `container` have served, failing at once on any
    /// container that exited.
    fn wait_serving(&self, container: &str, n: usize) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let events = self.events();
            if let Some(e) = events.iter().find(|e| e["event"] == "exited") {
                panic!("a LiteLLM task exited:\n{}", pretty(e));
            }
            let serving: Vec<_> = events
                .iter()
                .filter(|e| e["event"] == "serving" && e["container"] == container)
                .collect();
            if serving.len() >= n {
                return serving[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{n} {container} container(s) did not serve within 240 s; events:\n{}",
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
    let litellm_container = serde_json::json!({
        "command": [litellm],
        "port_arg": "--port",
        "args": ["--host", "127.0.0.1"],
        "health": "/health/liveliness",
        "probe": {"path": "/v1/models", "bearer_env": "LITELLM_MASTER_KEY"},
        "s3_object_env": ["LITELLM_CONFIG_BUCKET_NAME", "LITELLM_CONFIG_BUCKET_OBJECT_KEY"],
    });
    serde_json::json!({
        "log": log,
        "containers": {"litellm": litellm_container, "litellm-images": litellm_container},
    })
    .to_string()
}

/// Waits for the `n`-th start of both processes and checks each.
fn assert_nth_task_serves(log: &TaskLog, n: usize, doc: &str) -> serde_json::Value {
    let chat = log.wait_serving("litellm", n);
    assert_started_with_config_and_serves(log, &chat, &model_names(doc, ModelType::Text));
    let images = log.wait_serving("litellm-images", n);
    assert_started_with_config_and_serves(log, &images, &model_names(doc, ModelType::Image));
    assert_ne!(
        log.start_of(&chat)["s3Object"]["key"],
        log.start_of(&images)["s3Object"]["key"],
        "each process has its own config object"
    );
    chat
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

    // Create: the services start at 0; the configs go to S3 before LiteLLM is scaled.
    apply(&emu, &file);
    assert_nth_task_serves(&log, 1, &doc);

    // A model change: the new configs are in S3 before the deployment that loads them.
    let changed = crate::stack::changed_models(&doc);
    std::fs::write(&file, &changed).unwrap();
    let out = apply(&emu, &file);
    assert!(out.contains("PushModelConfig, RedeployLiteLlm"), "{out}");
    let second = assert_nth_task_serves(&log, 2, &changed);

    // A redeploy by the stack: a new task definition revision rolls the service.
    let medium = changed.replace("DeploymentSize: small", "DeploymentSize: medium");
    std::fs::write(&file, &medium).unwrap();
    let out = apply(&emu, &file);
    assert!(out.contains("applied UpdateStack"), "{out}");
    let third = assert_nth_task_serves(&log, 3, &changed);
    assert_ne!(
        log.start_of(&third)["taskDefinition"],
        log.start_of(&second)["taskDefinition"],
        "the stack update registered a new task definition"
    );

    // The bucket emptied out of band (delete markers, as `aws s3 rm` leaves), then a
    // stack update that rolls LiteLLM again: the configs go back first.
    let outputs = crate::stack::outputs(&emu, "bedrock-image-chat").await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emu.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    for key in ["ConfigObjectKey", "ImagesConfigObjectKey"] {
        s3.delete_object()
            .bucket(&outputs["ConfigBucketName"])
            .key(&outputs[key])
            .send()
            .await
            .unwrap();
    }
    std::fs::write(&file, &changed).unwrap();
    let out = apply(&emu, &file);
    assert!(
        out.contains("applied RestoreModelConfig, UpdateStack"),
        "{out}"
    );
    assert_nth_task_serves(&log, 4, &changed);

    // Every start, not only the ones waited for, found its config; none exited.
    let events = log.events();
    for e in events.iter().filter(|e| e["event"] == "start") {
        assert_eq!(e["s3Object"]["present"], true, "{}", pretty(e));
    }
    assert_eq!(log.count("exited"), 0);
    assert_eq!(log.count("start"), 8, "one task (two processes) per step");
}
