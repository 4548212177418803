//! The stack half of the job, end to end on moto: create from nothing, stay quiet when
//! in sync, converge a changed parameter, recreate a deleted stack, refuse a stack the
//! operator does not own, and write nothing for bad input or in observe mode.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bedrock_chat_operator::act::Strategy;
use bedrock_chat_operator::context::{Context, Settings};
use bedrock_chat_operator::controller::{self, Outcome, PassOptions, Trigger};
use bedrock_chat_operator::desired;
use bedrock_chat_operator::observe::health::HealthDepth;

use crate::common::{Emulator, repo_root, skip_emulator_tests};

pub fn example() -> String {
    std::fs::read_to_string(repo_root().join("desired-state/example.yaml")).unwrap()
}

/// `doc` loaded and validated (it must be valid).
pub fn load_stack(doc: &str) -> desired::ImageChatStack {
    let mut stacks = Vec::new();
    let mut diagnostics = Vec::new();
    desired::load_bytes(
        Path::new("stack.yaml"),
        doc.as_bytes(),
        &mut stacks,
        &mut diagnostics,
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    stacks.remove(0)
}

/// The names of `doc`'s models of `kind`: what that LiteLLM process must serve.
pub fn model_names(doc: &str, kind: desired::ModelType) -> std::collections::BTreeSet<String> {
    load_stack(doc)
        .spec
        .models
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.name.clone())
        .collect()
}

/// The example's placeholder database and Redis secret ARNs.
const EXAMPLE_DB_ARN: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:bedrock-image-chat/openwebui-database-url-AbCdEf";
const EXAMPLE_REDIS_ARN: &str = "arn:aws:secretsmanager:us-west-2:123456789012:secret:bedrock-image-chat/openwebui-redis-url-AbCdEf";

/// The example with its database and Redis URL secrets made on `emu` (holding `db_url`
/// and `redis_url`), as a user makes them before the stack that refers to them.
pub async fn example_with_secrets(emu: &Emulator, db_url: &str, redis_url: &str) -> String {
    let sm = aws_sdk_secretsmanager::Client::new(&emu.sdk_config().await);
    let mut doc = example();
    for (name, value, placeholder) in [
        ("bco-test/openwebui-database-url", db_url, EXAMPLE_DB_ARN),
        ("bco-test/openwebui-redis-url", redis_url, EXAMPLE_REDIS_ARN),
    ] {
        let arn = sm
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("secret ARN")
            .to_string();
        assert!(
            doc.contains(placeholder),
            "the example names no {name} secret ARN"
        );
        doc = doc.replace(placeholder, &arn);
    }
    doc
}

/// The example with a new model list: one image model gone, one text model added.
pub fn changed_models(doc: &str) -> String {
    let changed = doc
        .replace(
            "    - {name: stable-image-ultra, modelId: stability.stable-image-ultra-v1:1, type: image, region: us-west-2}\n",
            "",
        )
        .replace(
            "  imageGeneration:",
            "    - {name: nova-lite, modelId: amazon.nova-lite-v1:0, type: text, region: us-east-1}\n  imageGeneration:",
        );
    assert_ne!(
        changed, doc,
        "the example's model list moved; update this edit"
    );
    changed
}

/// Writes `doc` into a fresh directory and returns (dir guard, file path).
pub fn desired_file(doc: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(&path, doc).unwrap();
    (dir, path)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(emu: &Emulator, args: &[&str], file: &Path) -> Run {
    let out = emu
        .command()
        .args(args)
        .arg(file)
        .args(["--poll-interval", "100ms"])
        .output()
        .expect("run the operator");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub async fn context(emu: &Emulator) -> Context {
    Context::new(
        emu.sdk_config().await,
        Settings {
            poll_interval: Duration::from_millis(100),
            ..Settings::default()
        },
    )
}

pub fn enforce() -> PassOptions {
    PassOptions {
        strategy: Strategy::Enforce,
        detect_drift: false,
        trigger: Trigger::Command,
        health: HealthDepth::Quick,
        preview_changes: false,
    }
}

/// The outputs of the stack `name`, by key.
pub async fn outputs(emu: &Emulator, name: &str) -> std::collections::BTreeMap<String, String> {
    let stack = stack_tags(emu, name).await.expect("the stack exists");
    stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_string(),
                o.output_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn stack_tags(emu: &Emulator, name: &str) -> Option<aws_sdk_cloudformation::types::Stack> {
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    cfn.describe_stacks()
        .stack_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.stacks().first().cloned())
}

#[tokio::test]
async fn stack_is_created_from_nothing_and_a_second_pass_writes_nothing() {
    if skip_emulator_tests() {
        return;
    }
    created_from_nothing_then_quiet(&Emulator::start()).await;
}

/// The same with IAM enforced as on AWS: the operator holds exactly its task role's
/// policies from charts/operator.yaml and deploys through its CloudFormation role.
#[tokio::test]
async fn iam_enforced_stack_is_created_from_nothing_and_a_second_pass_writes_nothing() {
    if skip_emulator_tests() {
        return;
    }
    created_from_nothing_then_quiet(&Emulator::start_iam_enforced(&[])).await;
}

/// And the enforcement can fail: without s3:PutObject the model config is refused, and
/// the error names what was denied.
#[tokio::test]
async fn iam_enforced_apply_without_a_needed_permission_fails_and_says_so() {
    if skip_emulator_tests() {
        return;
    }
    let mut emu = Emulator::start_iam_enforced(&["s3:PutObject"]);
    let iam = emu.iam.as_mut().unwrap();
    iam.operator = iam.dropped.clone().unwrap();
    let (_dir, file) = desired_file(&example());
    let out = run(&emu, &["apply"], &file);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAILED: S3.PutObject on s3://")
            && out.stdout.contains("Access Denied"),
        "{}",
        out.stdout
    );
}

async fn created_from_nothing_then_quiet(emu: &Emulator) {
    let (_dir, file) = desired_file(&example());

    let first = run(emu, &["apply"], &file);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("stack demo: applied CreateStack, EnableTerminationProtection"),
        "{}",
        first.stdout
    );

    let stack = stack_tags(emu, "bedrock-image-chat")
        .await
        .expect("stack exists");
    assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE");
    assert_eq!(stack.enable_termination_protection(), Some(true));
    let tag = |k: &str| {
        stack
            .tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(
        tag("bedrock-chat-operator/managed-by").as_deref(),
        Some("bedrock-chat-operator")
    );
    assert_eq!(tag("bedrock-chat-operator/name").as_deref(), Some("demo"));
    assert_eq!(
        tag("bedrock-chat-operator/template-sha256").map(|s| s.len()),
        Some(64)
    );
    for output in [
        "ClusterName",
        "ConfigBucketName",
        "FileSystemArn",
        "BackupVaultName",
    ] {
        assert!(
            stack
                .outputs()
                .iter()
                .any(|o| o.output_key() == Some(output)
                    && !o.output_value().unwrap_or_default().is_empty()),
            "output {output} missing"
        );
    }

    // The converged state costs no write, measured by the call counter. Reads: the
    // stack 1 (DescribeStacks); services 1; autoscaling 2 (target, policy); config 2
    // (HeadObject of the chat and the image LiteLLM's objects); backup 4 on a cold start (ListBackupPlans, ListTags, GetBackupPlan,
    // ListBackupSelections), 2 once the plan's version is known to match — here 1: moto
    // answered that it has no ListBackupSelections, and the process does not ask again.
    let ctx = context(emu).await;
    let docs = desired::load(std::slice::from_ref(&file)).unwrap();
    let cold = controller::reconcile(&docs[0], &ctx, enforce()).await;
    assert_eq!(
        cold.outcome,
        Outcome::InSync,
        "{:?} {:?} {}",
        cold.error_message,
        cold.applied,
        cold.plan
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert_eq!(cold.calls.writes, 0, "{:?}", ctx.calls.snapshot());
    // …and, on a process's first pass over a stack, its stack policy (GetStackPolicy);
    // once found as desired it is read again only on the drift interval.
    assert_eq!(cold.calls.reads, 11, "{:?}", ctx.calls.snapshot());
    let cfn_reads: u64 = ctx
        .calls
        .snapshot()
        .iter()
        .filter(|((service, _, _), _)| service == "CloudFormation")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        cfn_reads, 2,
        "the stack part of a first in-sync pass is DescribeStacks and GetStackPolicy"
    );
    let warm = controller::reconcile(&docs[0], &ctx, enforce()).await;
    assert_eq!(warm.outcome, Outcome::InSync, "{:?}", warm.error_message);
    assert_eq!(
        (warm.calls.reads, warm.calls.writes),
        (7, 0),
        "{:?}",
        ctx.calls.snapshot()
    );
    assert!(ctx.calls.writes_since(&Default::default()).is_empty());

    let again = run(emu, &["apply"], &file);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("stack demo: in sync") && again.stdout.contains("0 writes"),
        "{}",
        again.stdout
    );
}

#[tokio::test]
async fn changed_parameter_is_planned_with_exit_2_then_applied() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    assert_eq!(run(&emu, &["apply"], &file).code, 0);

    let plan = run(&emu, &["plan", "--skip-drift"], &file);
    assert_eq!(plan.code, 0, "in sync plan: {}", plan.stdout);

    std::fs::write(
        &file,
        example().replace("DeploymentSize: small", "DeploymentSize: medium"),
    )
    .unwrap();
    let plan = run(&emu, &["plan", "--skip-drift"], &file);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("~ UpdateStack: parameters differ (DeploymentSize)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("DeploymentSize: small → medium"),
        "{}",
        plan.stdout
    );

    let apply = run(&emu, &["apply"], &file);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("applied UpdateStack"),
        "{}",
        apply.stdout
    );
    // Every stack event of the update is logged as one line with its resource and status.
    assert!(
        apply.stderr.contains(r#""message":"stack event""#),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains(r#""status":"UPDATE_COMPLETE""#),
        "{}",
        apply.stderr
    );

    let stack = stack_tags(&emu, "bedrock-image-chat").await.unwrap();
    let size = stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("DeploymentSize"))
        .and_then(|p| p.parameter_value());
    assert_eq!(size, Some("medium"));
    assert_eq!(run(&emu, &["plan", "--skip-drift"], &file).code, 0);
}

#[tokio::test]
async fn stack_deleted_out_of_band_is_recreated_and_its_file_system_kept() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    assert_eq!(run(&emu, &["apply"], &file).code, 0);

    let config = emu.sdk_config().await;
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let efs = aws_sdk_efs::Client::new(&config);
    let fs_before = efs
        .describe_file_systems()
        .send()
        .await
        .unwrap()
        .file_systems()
        .len();
    cfn.update_termination_protection()
        .stack_name("bedrock-image-chat")
        .enable_termination_protection(false)
        .send()
        .await
        .unwrap();
    cfn.delete_stack()
        .stack_name("bedrock-image-chat")
        .send()
        .await
        .unwrap();
    assert!(stack_tags(&emu, "bedrock-image-chat").await.is_none());

    let plan = run(&emu, &["plan", "--skip-drift"], &file);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("+ CreateStack: the stack does not exist"),
        "{}",
        plan.stdout
    );
    let apply = run(&emu, &["apply"], &file);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("applied CreateStack"),
        "{}",
        apply.stdout
    );
    assert_eq!(
        stack_tags(&emu, "bedrock-image-chat")
            .await
            .unwrap()
            .stack_status()
            .unwrap()
            .as_str(),
        "CREATE_COMPLETE"
    );
    // The old file system (DeletionPolicy: Retain) is still there next to the new one.
    let fs_after = efs
        .describe_file_systems()
        .send()
        .await
        .unwrap()
        .file_systems()
        .len();
    assert_eq!(fs_after, fs_before + 1);
}

const FOREIGN_TEMPLATE: &str =
    r#"{"Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}"#;

#[tokio::test]
async fn stack_not_created_by_the_operator_is_refused_unless_adopted() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    cfn.create_stack()
        .stack_name("bedrock-image-chat")
        .template_body(FOREIGN_TEMPLATE)
        .tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key("team")
                .value("web")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (_dir, file) = desired_file(&example());

    let ctx = context(&emu).await;
    let docs = desired::load(std::slice::from_ref(&file)).unwrap();
    let report = controller::reconcile(&docs[0], &ctx, enforce()).await;
    assert_eq!(report.outcome, Outcome::Blocked);
    assert_eq!(report.calls.writes, 0);
    let apply = run(&emu, &["apply"], &file);
    assert_eq!(apply.code, 1);
    assert!(
        apply
            .stdout
            .contains("was not created by bedrock-chat-operator"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("spec.policy.adopt: true"),
        "{}",
        apply.stdout
    );

    std::fs::write(&file, example().replace("adopt: false", "adopt: true")).unwrap();
    let apply = run(&emu, &["apply"], &file);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stdout
            .contains("applied UpdateStack, EnableTerminationProtection"),
        "{}",
        apply.stdout
    );
    let stack = stack_tags(&emu, "bedrock-image-chat").await.unwrap();
    let keys: Vec<&str> = stack.tags().iter().filter_map(|t| t.key()).collect();
    assert!(
        keys.contains(&"team"),
        "people's own tags are kept: {keys:?}"
    );
    assert!(
        keys.contains(&"bedrock-chat-operator/managed-by"),
        "{keys:?}"
    );
    let again = run(&emu, &["apply"], &file);
    assert!(
        again.stdout.contains("stack demo: in sync"),
        "{}",
        again.stdout
    );
}

#[tokio::test]
async fn invalid_document_or_observe_mode_writes_nothing() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) =
        desired_file(&example().replace("desiredCount: 1\n  models", "desiredCount: 11\n  models"));
    let apply = run(&emu, &["apply"], &file);
    assert_eq!(apply.code, 1);
    assert!(
        apply
            .stderr
            .contains("spec.services.litellm.desiredCount: must be 0..10 (got 11)"),
        "{}",
        apply.stderr
    );

    std::fs::write(&file, example().replace("mode: enforce", "mode: observe")).unwrap();
    let apply = run(&emu, &["apply"], &file);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        apply
            .stdout
            .contains("observe mode: changes pending, nothing written"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("0 writes"), "{}", apply.stdout);

    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let stacks = cfn.describe_stacks().send().await.unwrap();
    assert!(stacks.stacks().is_empty(), "something was created");
}
