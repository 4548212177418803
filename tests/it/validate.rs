//! Bad desired-state documents are refused the way a user needs: a non-zero exit, one
//! line per error at `file:line:col`, every error of a document at once, and no panic.

use crate::common;

use std::path::{Path, PathBuf};

use common::{repo_root, run_offline};

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/invalid")
}

fn validate(paths: &[&Path]) -> (i32, String, String) {
    let mut args = vec!["validate"];
    let strs: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(strs.iter().map(String::as_str));
    let out = run_offline(&args, &repo_root());
    (
        out.status.code().expect("exit code (no signal)"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_examples_validate() {
    let dir = repo_root().join("desired-state");
    let (code, stdout, stderr) = validate(&[&dir.join("example.yaml"), &dir.join("minimal.yaml")]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("2 documents valid"), "{stdout}");
    // The directory as a whole is valid too (names and stacks do not collide).
    let (code, _, stderr) = validate(&[&dir]);
    assert_eq!(code, 0, "{stderr}");
}

/// Each fixture marks every line that must be reported with `# ERR: <message part>`.
#[test]
fn every_marked_error_is_reported_at_its_line() {
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .flat_map(|(i, line)| {
                line.split("# ERR: ")
                    .skip(1)
                    .map(move |m| (i + 1, m.trim().to_string()))
            })
            .collect();
        if expected.is_empty() {
            continue;
        }
        let (code, _, stderr) = validate(&[&path]);
        assert_eq!(code, 1, "{}: exit {code}\n{stderr}", path.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
        let reported: Vec<&str> = stderr.lines().map(str::trim).collect();
        for (line, message) in &expected {
            let prefix = format!("{}:{line}:", path.display());
            assert!(
                reported
                    .iter()
                    .any(|r| r.starts_with(&prefix) && r.contains(message.as_str())),
                "{}: expected an error at line {line} containing {message:?}; got:\n{stderr}",
                path.display()
            );
        }
        // Nothing beyond what the fixture marks: no cascades of follow-on errors.
        let error_lines = reported
            .iter()
            .filter(|r| r.starts_with(&path.display().to_string()))
            .count();
        assert_eq!(error_lines, expected.len(), "{}:\n{stderr}", path.display());
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures checked");
}

#[test]
fn message_names_file_line_column_and_field() {
    let path = fixtures().join("count-range.yaml");
    let (_, _, stderr) = validate(&[&path]);
    let want = format!(
        "{}:8:21: spec.services.litellm.desiredCount: must be 0..10 (got 11)",
        path.display()
    );
    assert!(stderr.contains(&want), "want {want}\ngot {stderr}");
}

#[test]
fn empty_and_comment_only_files_are_refused() {
    for name in ["empty.yaml", "comment-only.yaml"] {
        let path = fixtures().join(name);
        let (code, _, stderr) = validate(&[&path]);
        assert_eq!(code, 1, "{name}");
        assert!(
            stderr.contains("no document: expected at least one ImageChatStack"),
            "{stderr}"
        );
    }
}

#[test]
fn documents_across_files_of_a_directory_must_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let doc = std::fs::read_to_string(repo_root().join("desired-state/minimal.yaml")).unwrap();
    std::fs::write(dir.path().join("a.yaml"), &doc).unwrap();
    std::fs::write(dir.path().join("b.yml"), &doc).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
    let (code, _, stderr) = validate(&[dir.path()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("b.yml:"), "{stderr}");
    assert!(
        stderr.contains("duplicate name \"bedrock-image-chat-mini\""),
        "{stderr}"
    );
}

#[test]
fn missing_path_and_empty_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = validate(&[&dir.path().join("nope.yaml")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nope.yaml: cannot read"), "{stderr}");
    let (code, _, stderr) = validate(&[dir.path()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("directory holds no *.yaml"), "{stderr}");
}

#[test]
fn hostile_files_are_refused_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Billion laughs: 10^9 nodes if expanded.
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("apiVersion: *a9\n");
    let big = format!("# {}\n", "x".repeat(3 * 1024 * 1024));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bomb.yaml",
            bomb.into_bytes(),
            "apiVersion: must be a string (got a list)",
        ),
        (
            "big.yaml",
            big.into_bytes(),
            "desired-state files are limited to 1048576 bytes",
        ),
        (
            "binary.yaml",
            vec![0x61, 0x3a, 0x20, 0xff, 0xfe, 0x00],
            "1:4: not UTF-8 text",
        ),
        (
            "deep.yaml",
            format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "nesting deeper than 64 levels",
        ),
        (
            "json.yaml",
            br#"{"apiVersion": "bedrockchat.dev/v1alpha1", "kind": 5}"#.to_vec(),
            "kind: must be ImageChatStack (got 5)",
        ),
        (
            "prose.yaml",
            b"This is not YAML: it is: prose.\n".to_vec(),
            "invalid YAML",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, _, stderr) = validate(&[&path]);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(stderr.contains(want), "{name}: want {want:?}, got {stderr}");
    }
}

/// The operator's IAM policies (charts/operator.yaml) reach only names that start with
/// its ManagedStackPrefix: with `--managed-prefix` (the operator's task sets it from that
/// parameter), a name outside it is refused at its line instead of failing on AWS.
#[test]
fn names_outside_the_managed_prefix_are_refused_where_they_are_written() {
    let examples = repo_root().join("desired-state");
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.yaml");
    std::fs::write(
        &outside,
        "apiVersion: bedrockchat.dev/v1alpha1\nkind: ImageChatStack\nmetadata: {name: team-a}\nspec:\n  region: us-west-2\n  stackName: bedrock-image-chat-a\n  parameters:\n    ProjectName: team-a-chat\n  models: [{name: nova-canvas, modelId: amazon.nova-canvas-v1:0, type: image}]\n---\napiVersion: bedrockchat.dev/v1alpha1\nkind: ImageChatStack\nmetadata: {name: team-b}\nspec:\n  region: us-west-2\n  models: [{name: nova-canvas, modelId: amazon.nova-canvas-v1:0, type: image}]\n",
    )
    .unwrap();
    let with_prefix = |args: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(common::bin());
        cmd.args(args)
            .current_dir(repo_root())
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_ACCESS_KEY_ID", "unused")
            .env("AWS_SECRET_ACCESS_KEY", "unused")
            .env_remove("BEDROCK_CHAT_OPERATOR_MANAGED_PREFIX");
        if let Some(prefix) = env {
            cmd.env("BEDROCK_CHAT_OPERATOR_MANAGED_PREFIX", prefix);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The shipped examples fit the default prefix.
    let (code, stdout, stderr) = with_prefix(
        &[
            "--managed-prefix",
            "bedrock-image-chat",
            "validate",
            examples.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");

    let file = outside.display().to_string();
    let (code, _, stderr) = with_prefix(&["validate", &file], Some("bedrock-image-chat"));
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with(&file))
        .collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{file}:8:18: spec.parameters.ProjectName: must start with \"bedrock-image-chat\", the prefix this operator manages (ManagedStackPrefix of charts/operator.yaml")),
        "{stderr}"
    );
    // The stack name defaults to metadata.name, so it is reported there.
    assert!(
        lines[1].starts_with(&format!(
            "{file}:13:18: metadata.name: must start with \"bedrock-image-chat\""
        )),
        "{stderr}"
    );
    // Bad input writes nothing: plan and apply stop before any AWS call (the endpoint
    // here is a closed port, so a call would show as a connection error instead).
    for cmd in ["plan", "apply"] {
        let (code, stdout, stderr) = with_prefix(
            &["--managed-prefix", "bedrock-image-chat", cmd, &file],
            None,
        );
        assert_eq!(code, 1, "{cmd}: {stdout}{stderr}");
        assert!(stderr.contains("ManagedStackPrefix"), "{cmd}: {stderr}");
        assert!(!stderr.contains("127.0.0.1:9"), "{cmd}: {stderr}");
    }
    // Without a prefix the same documents are valid: the rule is the deployment's.
    let (code, _, stderr) = with_prefix(&["validate", &file], None);
    assert_eq!(code, 0, "{stderr}");
}
