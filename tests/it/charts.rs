//! Both templates of `charts/` deploy on the emulator: CREATE_COMPLETE, every output
//! set, the resources present in moto's services (secrets, Cloud Map service, backup
//! vault, ECS services without a template count, EFS retained after deletion…).
//! The detailed checks live in tests/emulator/check_stacks.py (boto3, 80+ checks).

use std::process::Command;

use crate::common::{Emulator, repo_root, skip_emulator_tests};

#[test]
fn both_templates_reach_create_complete_with_their_outputs_and_resources() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let root = repo_root();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/emulator/check_stacks.py"))
        .args(["--endpoint", &emu.endpoint])
        .output()
        .expect("run check_stacks.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "check_stacks.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("check_stacks: OK"), "{stdout}");
}
