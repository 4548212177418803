//! Errors a person reads when AWS cannot even be asked: missing credentials say so in one
//! line (which chain was tried, what to set), a refused connection names the endpoint,
//! and the SDK's nested debug dump goes to debug logs only.

use std::process::Command;

use crate::common::{bin, repo_root};

fn plan(env: &[(&str, &str)]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["plan", "--skip-drift"])
        .arg(repo_root().join("desired-state/minimal.yaml"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_REGION", "us-west-2")
        // No instance metadata endpoint here: the chain would wait for it in vain.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("BCO_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The SDK's debug structures, which belong in debug logs.
const DUMP: &[&str] = &[
    "DispatchFailure(",
    "ConnectorError",
    "ProviderChainError",
    "hyper_util",
];

fn assert_no_dump(texts: &[&str]) {
    for text in texts {
        for dump in DUMP {
            assert!(!text.contains(dump), "{dump} shown:\n{text}");
        }
    }
}

#[test]
fn missing_credentials_are_said_in_one_line_with_the_fix() {
    let (code, stdout, stderr) = plan(&[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("! error:"))
        .unwrap_or_else(|| panic!("no error line: {stdout}"));
    assert!(
        line.ends_with(
            "no AWS credentials found (the default chain tried: Environment, Profile, WebIdentityToken, EcsContainer, Ec2InstanceMetadata); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached (ECS task role, EC2 instance profile)"
        ),
        "{line}"
    );
    assert_no_dump(&[&stdout, &stderr]);
}

#[test]
fn a_refused_connection_names_the_endpoint_and_the_detail_is_in_debug_logs() {
    let endpoint = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "unused"),
        ("AWS_SECRET_ACCESS_KEY", "unused"),
    ];
    let (code, stdout, stderr) = plan(&endpoint);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "CloudFormation.DescribeStacks on bedrock-image-chat-mini: cannot connect to http://127.0.0.1:9: connection refused\n"
        ),
        "{stdout}"
    );
    assert_no_dump(&[&stdout, &stderr]);
    // At debug level the SDK's own account is there, for whoever digs.
    let mut debug = endpoint.to_vec();
    debug.push(("BCO_LOG", "bedrock_chat_operator=debug"));
    let (_, _, stderr) = plan(&debug);
    assert!(
        stderr.contains("request not sent") && stderr.contains("Connection refused"),
        "{stderr}"
    );
}
