//! `plan` as a pull-request artefact, on moto: `--output json` validates against
//! docs/plan-schema.json (with the venv's jsonschema, Draft 2020-12) for a create, an
//! update and an in-sync stack; `--changes` reads a stack update's resource changes from
//! a change set it deletes afterwards (and makes none for a create, so no stack appears);
//! `--output markdown` is a comment with the changes in it.

use std::process::{Command, Stdio};

use crate::common::{Emulator, python, repo_root, skip_emulator_tests};
use crate::stack::{desired_file, example, run};

/// Fails with the validator's messages when `doc` does not match the schema.
pub(crate) fn assert_valid(doc: &str) {
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(json.load(sys.stdin))]
print("\n".join(errors))
sys.exit(1 if errors else 0)
"#;
    let mut child = Command::new(python())
        .args(["-c", script])
        .arg(repo_root().join("docs/plan-schema.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the schema check");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "plan --output json does not match docs/plan-schema.json:\n{}\n{doc}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The names of the stack's change sets.
async fn change_sets(emu: &Emulator) -> Vec<String> {
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    cfn.list_change_sets()
        .stack_name("bedrock-image-chat")
        .send()
        .await
        .unwrap()
        .summaries()
        .iter()
        .filter_map(|s| s.change_set_name().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn plan_json_matches_its_schema_and_changes_preview_leaves_no_change_set() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let (_dir, file) = desired_file(&example());

    // A stack to create: every template resource is an Add, and no change set (nor a
    // REVIEW_IN_PROGRESS stack) is made for it.
    let create = run(
        &emu,
        &["plan", "--skip-drift", "--output", "json", "--changes"],
        &file,
    );
    assert_eq!(create.code, 2, "{}", create.stderr);
    assert_valid(&create.stdout);
    let doc = json(&create.stdout);
    assert_eq!(doc["planVersion"], 1);
    assert_eq!(doc["exitCode"], 2);
    let stack = &doc["stacks"][0];
    assert_eq!(stack["actions"][0]["type"], "CreateStack");
    assert_eq!(stack["resourceChanges"]["source"], "newStack");
    let added = stack["resourceChanges"]["changes"].as_array().unwrap();
    assert!(added.len() > 30, "{added:?}");
    assert!(
        added
            .iter()
            .any(|c| c["logicalId"] == "EFSFileSystem" && c["stateful"] == true)
    );
    assert!(
        stack["parameterChanges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "DeploymentSize" && c["from"].is_null())
    );
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let listed = cfn.describe_stacks().send().await.unwrap();
    assert!(listed.stacks().is_empty(), "plan made a stack: {listed:?}");

    assert_eq!(run(&emu, &["apply"], &file).code, 0);
    let in_sync = run(&emu, &["plan", "--skip-drift", "--output", "json"], &file);
    assert_eq!(in_sync.code, 0, "{}", in_sync.stdout);
    assert_valid(&in_sync.stdout);
    let doc = json(&in_sync.stdout);
    assert_eq!(doc["stacks"][0]["outcome"], "inSync");
    assert!(doc["stacks"][0]["health"]["components"].is_array());

    // An update: the parameter change, the owned-field change and the change set's
    // resource changes, and the change set is gone after.
    std::fs::write(
        &file,
        example()
            .replace("DeploymentSize: small", "DeploymentSize: medium")
            .replace(
                "    litellm:\n      desiredCount: 1",
                "    litellm:\n      desiredCount: 2",
            ),
    )
    .unwrap();
    let update = run(
        &emu,
        &["plan", "--skip-drift", "--output", "json", "--changes"],
        &file,
    );
    assert_eq!(update.code, 2, "{}", update.stderr);
    assert_valid(&update.stdout);
    let doc = json(&update.stdout);
    let stack = &doc["stacks"][0];
    // CreateServicesAtZero flips to "false" with the first update (it rides on it).
    assert!(
        stack["parameterChanges"].as_array().unwrap().contains(
            &serde_json::json!({"key": "DeploymentSize", "from": "small", "to": "medium"})
        ),
        "{stack}"
    );
    assert!(
        stack["ownedFieldChanges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "liteLLM.desiredCount" && c["from"] == "1" && c["to"] == "2"),
        "{stack}"
    );
    assert_eq!(stack["resourceChanges"]["source"], "changeSet");
    // DeploymentSize sets the tasks' Cpu and Memory, which a task definition cannot
    // change in place (createOnlyProperties): CloudFormation replaces it, and the
    // services that refer to it are updated in place.
    let modified = stack["resourceChanges"]["changes"].as_array().unwrap();
    let change = |id: &str| {
        modified
            .iter()
            .find(|c| c["logicalId"] == id)
            .unwrap_or_else(|| panic!("{id} not in {modified:#?}"))
    };
    assert_eq!(change("OpenWebUITaskDefinition")["replacement"], "True");
    assert_eq!(change("OpenWebUIService")["replacement"], "False");
    assert_eq!(change("OpenWebUIService")["action"], "Modify");
    assert!(
        !modified
            .iter()
            .any(|c| c["stateful"] == true && c["replacement"] == "True")
    );
    let preview = stack["resourceChanges"]["changeSet"].as_str().unwrap();
    let left = change_sets(&emu).await;
    assert!(
        !left.iter().any(|n| n == preview),
        "the preview change set {preview} was not deleted: {left:?}"
    );
    assert!(
        update
            .stderr
            .contains("preview change set read and deleted"),
        "{}",
        update.stderr
    );

    // The same as a comment; without --changes no change set is made at all.
    let md = run(
        &emu,
        &["plan", "--skip-drift", "--output", "markdown"],
        &file,
    );
    assert_eq!(md.code, 2, "{}", md.stderr);
    let text = &md.stdout;
    assert!(text.starts_with("## bedrock-chat-operator plan"), "{text}");
    assert!(
        text.contains("| DeploymentSize | small | medium |"),
        "{text}"
    );
    assert!(text.contains("`plan --changes` lists them"), "{text}");
    assert!(!md.stderr.contains("change set ready"), "{}", md.stderr);
    assert_eq!(
        change_sets(&emu).await,
        left,
        "plan without --changes wrote nothing"
    );
    assert!(text.chars().count() < 65_536);
}
