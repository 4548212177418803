//! Data protection on moto: a new stack gets the operator's stack policy; an update that
//! would replace a resource holding data (a new ProjectName renames the secrets, whose
//! Name is create-only) is refused before it executes, with the resources named, its
//! change set deleted, and not tried again while the document stays the same; `plan
//! --changes` shows the refusal; a policy someone removed is put back.

use crate::common::{Daemon, Emulator, Options, run_args, skip_emulator_tests};
use crate::stack::{desired_file, example, run};

const STACK: &str = "bedrock-image-chat";

async fn policy(emu: &Emulator) -> Option<serde_json::Value> {
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let out = cfn
        .get_stack_policy()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    out.stack_policy_body()
        .filter(|b| !b.is_empty())
        .map(|b| serde_json::from_str(b).unwrap())
}

async fn project_name(emu: &Emulator) -> String {
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let out = cfn
        .describe_stacks()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    out.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("ProjectName"))
        .and_then(|p| p.parameter_value())
        .unwrap()
        .to_string()
}

fn denied(policy: &serde_json::Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .flat_map(|s| s["Resource"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_update_that_would_replace_data_is_refused_before_it_executes() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());
    let created = run(&emu, &["apply"], &file);
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    assert!(
        created.stdout.contains("SetStackPolicy"),
        "{}",
        created.stdout
    );
    let set = policy(&emu).await.expect("a stack policy on the new stack");
    assert!(
        denied(&set).contains(&"LogicalResourceId/EFSFileSystem".to_string()),
        "{set}"
    );

    let renamed = example().replace(
        "ProjectName: bedrock-image-chat",
        "ProjectName: bedrock-image-chat2",
    );
    std::fs::write(&file, &renamed).unwrap();
    let plan = run(&emu, &["plan", "--skip-drift", "--changes"], &file);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("apply refuses this update")
            && plan
                .stdout
                .contains("LiteLLMMasterKey (AWS::SecretsManager::Secret, Replacement True)"),
        "{}",
        plan.stdout
    );

    let refused = run(&emu, &["apply"], &file);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stdout
            .contains("the update would replace or delete what holds data")
            && refused.stdout.contains("LiteLLMMasterKey"),
        "{}",
        refused.stdout
    );
    assert!(
        !refused.stderr.contains("\"ExecuteChangeSet\""),
        "{}",
        refused.stderr
    );
    assert_eq!(
        project_name(&emu).await,
        "bedrock-image-chat",
        "nothing executed"
    );
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let left = cfn
        .list_change_sets()
        .stack_name(STACK)
        .send()
        .await
        .unwrap();
    assert!(
        left.summaries()
            .iter()
            .all(|s| s.execution_status().map(|e| e.as_str()) != Some("AVAILABLE")),
        "the refused change set was deleted: {left:?}"
    );

    // The daemon refuses it once and then stays blocked without a change set per pass.
    let d = Daemon::start(
        run_args(&mut emu.command(), &file).args(["--resync", "1s"]),
        Options::default(),
    );
    let (i, _) = d.wait_from(0, "a first refused pass", |l| {
        l.contains("reconcile failed") && l.contains("what holds data")
    });
    d.wait_from(i + 1, "a second blocked pass", |l| {
        l.contains("reconcile failed") && l.contains("refused earlier")
    });
    d.wait_from(i + 1, "a third blocked pass", |l| {
        l.contains("refused earlier")
    });
    assert_eq!(
        d.count(|l| l.contains("change set ready")),
        1,
        "one change set, then none"
    );
    assert_eq!(d.stop(), 0);

    // Someone removes the policy: the next pass (a new process reads it) puts it back.
    cfn.set_stack_policy()
        .stack_name(STACK)
        .stack_policy_body(r#"{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    std::fs::write(&file, example()).unwrap();
    let restored = run(&emu, &["apply"], &file);
    assert_eq!(restored.code, 0, "{}\n{}", restored.stdout, restored.stderr);
    assert!(
        restored.stdout.contains("SetStackPolicy"),
        "{}",
        restored.stdout
    );
    assert_eq!(policy(&emu).await, Some(set.clone()));

    // Allowed in the document: the update runs, the policy is opened for it and then
    // restored. (moto then loses track of the renamed ECS services, so the pass's own
    // outcome is not asserted: on moto a renamed service's output keeps the old name.)
    let allowed = renamed.replace(
        "recreateFailedStack: false}",
        "recreateFailedStack: false, allowDataLoss: [LiteLLMMasterKey, LiteLLMMasterKeySeed, OpenWebUISecretKey, ConfigBucket, BackupVault, EFSFileSystem, EFSAccessPoint]}",
    );
    std::fs::write(&file, &allowed).unwrap();
    let applied = run(&emu, &["apply"], &file);
    assert!(
        applied
            .stderr
            .contains("spec.policy.allowDataLoss: this update replaces")
            && applied.stderr.contains("stack policy restored"),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    assert_eq!(
        project_name(&emu).await,
        "bedrock-image-chat2",
        "{}",
        applied.stdout
    );
    assert_eq!(
        policy(&emu).await.as_ref(),
        Some(&set),
        "the policy is restored"
    );
}
