//! A document removed from the desired state: its stack is left as it is and reported
//! `Orphaned` in `/status` and the metrics (nothing is deleted because a file moved);
//! the document put back makes it managed again. `plan` over a desired state that no
//! longer names a stack the operator created lists it as orphaned.

use std::time::Duration;

use crate::common::{Daemon, Emulator, Options, run_args, skip_emulator_tests};
use crate::stack::{example, run};

/// A second document the daemon reads but never acts on (suspended): no AWS work.
fn other() -> String {
    example()
        .replace("name: demo", "name: other")
        .replace(
            "stackName: bedrock-image-chat\n",
            "stackName: bedrock-image-chat-other\n",
        )
        .replace(
            "ProjectName: bedrock-image-chat ",
            "ProjectName: bedrock-image-chat-o ",
        )
        .replace("suspend: false", "suspend: true")
}

fn orphaned(d: &Daemon) -> Option<String> {
    let status = d.status();
    status["stacks"]["other"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Orphaned")
        .map(|c| format!("{} {}", c["status"], c["reason"]))
}

fn wait(what: &str, pred: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !pred() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited 30 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn a_removed_document_leaves_its_stack_orphaned_and_reported() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("demo.yaml"), example()).unwrap();
    std::fs::write(dir.path().join("other.yaml"), other()).unwrap();
    let d = Daemon::start(run_args(&mut emu.command(), dir.path()), Options::default());
    d.wait_for("the demo stack deployed", |l| {
        l.contains("reconciled in") && l.contains(": applied")
    });
    assert_eq!(orphaned(&d), None, "{}", d.status());

    std::fs::remove_file(dir.path().join("other.yaml")).unwrap();
    wait("Orphaned True", || {
        orphaned(&d).as_deref() == Some("\"True\" \"DocumentRemoved\"")
    });
    let (code, metrics) = d.http("GET", "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("stack_orphaned{stack=\"other\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        d.status()["stacks"]["demo"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "Orphaned")
            .count(),
        0
    );

    std::fs::write(dir.path().join("other.yaml"), other()).unwrap();
    wait("Orphaned False", || {
        orphaned(&d).as_deref() == Some("\"False\" \"DocumentRestored\"")
    });
    assert_eq!(d.stop(), 0);

    // `plan` over a desired state that no longer names the demo stack reports it, and
    // leaves it.
    let only_other = tempfile::tempdir().unwrap();
    std::fs::write(only_other.path().join("other.yaml"), other()).unwrap();
    let plan = run(
        &emu,
        &["plan", "--skip-drift", "--output", "json"],
        only_other.path(),
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    crate::plan_output::assert_valid(&plan.stdout);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        doc["orphaned"],
        serde_json::json!([{"stackName": "bedrock-image-chat", "region": "us-west-2", "document": "demo"}])
    );
    assert_eq!(doc["summary"]["orphaned"], 1);
    let text = run(&emu, &["plan", "--skip-drift"], only_other.path());
    assert!(
        text.stdout
            .contains("stack bedrock-image-chat in us-west-2: Orphaned"),
        "{}",
        text.stdout
    );
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let left = cfn
        .describe_stacks()
        .stack_name("bedrock-image-chat")
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.stacks().len(),
        1,
        "the orphaned stack is left as it is"
    );
}
