//! No secret value reaches what the operator shows: its logs (at the most verbose level,
//! the AWS SDK's and HTTP stack's own trace logs included), `/status` and `/metrics`, and
//! the output of `plan` and `apply`.
//!
//! On moto: a PostgreSQL URL secret with a known, distinctive value is created first and
//! named in `databaseUrlSecretArn`; the daemon deploys the example, whose stack generates
//! the LiteLLM master key (from a generated seed) and Open WebUI's secret key. Their
//! values are read back from Secrets Manager afterwards, and neither any of them nor a
//! distinctive piece of one may appear anywhere the operator wrote. The operator's own
//! AWS secret access key and session token are distinctive too and checked alike.
//!
//! The scan is shown able to fail: it finds every needle in the secret values themselves
//! and in a log line carrying one the way the operator's JSON logs would; and the logs
//! scanned are shown to be the real, verbose ones (they hold TRACE lines from the SDK and
//! the database secret's ARN, which flows from the document into the logs).

use std::time::{Duration, Instant};

use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::common::{Daemon, Emulator, Options, run_args, skip_emulator_tests};
use crate::stack::desired_file;

/// Leaked pieces this long or longer are found: a needle is every 12-character piece of
/// a secret (at a 12-character stride), so any 23 consecutive characters of one contain a
/// whole needle. Alphanumeric pieces survive JSON escaping and URL encoding unchanged.
const PIECE: usize = 12;

fn random(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A secret and the needles that would show it leaked: the whole value and its pieces.
struct Secret {
    what: String,
    value: String,
    needles: Vec<String>,
}

impl Secret {
    /// `distinctive` are the parts worth hunting on their own (a URL's password, not
    /// its `postgresql://` scheme); pieces are cut from them.
    fn new(what: &str, value: &str, distinctive: &[&str]) -> Secret {
        let mut needles = vec![value.to_string()];
        for part in distinctive {
            needles.push(part.to_string());
            let chars: Vec<char> = part.chars().collect();
            for piece in chars.chunks(PIECE).filter(|c| c.len() == PIECE) {
                needles.push(piece.iter().collect());
            }
        }
        needles.sort();
        needles.dedup();
        Secret {
            what: what.to_string(),
            value: value.to_string(),
            needles,
        }
    }
}

/// Every (secret, needle) found in `haystack`, described without the value itself.
fn leaks(secrets: &[Secret], where_: &str, haystack: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in secrets {
        for needle in &s.needles {
            if let Some(at) = haystack.find(needle.as_str()) {
                let line = haystack[..at].matches('\n').count() + 1;
                out.push(format!(
                    "{where_}: {} ({} characters of it) at line {line}",
                    s.what,
                    needle.chars().count()
                ));
            }
        }
    }
    out
}

/// The operator's own last `n` lines of `log` (not its dependencies' trace lines), for
/// failure messages that stay readable.
fn own_tail(log: &str, n: usize) -> String {
    let own: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with('{') || l.contains(r#""target":"bedrock_chat_operator"#))
        .collect();
    own[own.len().saturating_sub(n)..].join("\n")
}

/// A secret's value, by ARN or name.
async fn secret_value(sm: &aws_sdk_secretsmanager::Client, id: &str) -> String {
    sm.get_secret_value()
        .secret_id(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetSecretValue {id}: {e:?}"))
        .secret_string()
        .unwrap_or_else(|| panic!("{id} has no SecretString"))
        .to_string()
}

/// Every secret in the account (moto's region) by name, with its ARN.
async fn all_secrets(sm: &aws_sdk_secretsmanager::Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pages = sm.list_secrets().into_paginator().send();
    while let Some(page) = pages.next().await {
        for s in page.expect("ListSecrets").secret_list() {
            out.push((
                s.name().unwrap_or_default().to_string(),
                s.arn().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn no_secret_value_appears_in_logs_status_metrics_or_command_output() {
    if skip_emulator_tests() {
        return;
    }
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let cfn = aws_sdk_cloudformation::Client::new(&config);

    // The database and Redis URL secrets, made before the stack that refers to them.
    let password = format!("S3cr3t-{}", random(24));
    let db_url = format!("postgresql://leaky:{password}@db.internal:5432/chat");
    let redis_password = format!("R3d1s-{}", random(24));
    let redis_url = format!("redis://:{redis_password}@cache.internal:6379/0");
    let doc = crate::stack::example_with_secrets(&emu, &db_url, &redis_url).await;
    let (_dir, file) = desired_file(&doc);

    // The operator's own credentials: distinctive, so that signing logs would show them.
    let access_key_secret = format!("bcoSAK{}", random(34));
    let session_token = format!("bcoTOKEN{}", random(56));
    let operator = |args: &[&str]| {
        let mut cmd = emu.command();
        cmd.args(args)
            .env("AWS_SECRET_ACCESS_KEY", &access_key_secret)
            .env("AWS_SESSION_TOKEN", &session_token)
            // The most verbose level, for every crate: the SDK's request and response
            // traces, hyper's, rustls's (through tracing's log bridge).
            .env("BCO_LOG", "trace")
            .env("BCO_LOG_FORMAT", "json");
        cmd
    };
    let once = |args: &[&str]| {
        let started = Instant::now();
        let out = operator(args)
            .arg(&file)
            .args(["--poll-interval", "100ms"])
            .output()
            .expect("run the operator");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "{} took {:?}, {} bytes of output",
            args.join(" "),
            started.elapsed(),
            text.len()
        );
        (out.status.code().unwrap_or(-1), text)
    };

    let mut shown: Vec<(String, String)> = Vec::new();
    let (code, out) = once(&["plan"]);
    assert_eq!(
        code,
        2,
        "plan before the deploy: changes pending\n{}",
        own_tail(&out, 40)
    );
    shown.push(("plan before the deploy".into(), out));

    let d = Daemon::start(
        run_args(&mut operator(&[]), &file).args(["--resync", "2s"]),
        Options {
            // Both streams: whatever the operator writes is scanned.
            stdout: true,
            // Trace logging slows the daemon.
            timeout: Duration::from_secs(120),
            show: |lines| own_tail(&lines.join("\n"), 40),
        },
    );
    let get = |path: &str| {
        let (code, body) = d.http("GET", path);
        assert_eq!(code, 200, "GET {path}: {body}");
        body
    };
    let (i, _) = d.wait_from(0, "the stack deployed", |l| {
        l.contains("reconciled in") && l.contains(": applied")
    });
    d.wait_from(i + 1, "an in-sync pass after it", |l| {
        l.contains("reconciled in") && l.contains(": in_sync")
    });
    let status = get("/status");
    let metrics = get("/metrics");
    assert!(status.contains("bedrock-image-chat"), "{status}");
    assert!(metrics.contains("reconcile_total"), "{metrics}");
    let (code, daemon_log) = d.stop_with_log();
    assert_eq!(code, 0, "SIGTERM exits 0");
    shown.push(("/status".into(), status));
    shown.push(("/metrics".into(), metrics));

    let (code, out) = once(&["apply"]);
    assert_eq!(
        code,
        0,
        "apply after the daemon: in sync\n{}",
        own_tail(&out, 40)
    );
    shown.push(("apply".into(), out));
    let (code, out) = once(&["plan"]);
    assert_eq!(
        code,
        0,
        "plan after the deploy: in sync\n{}",
        own_tail(&out, 40)
    );
    shown.push(("plan after the deploy".into(), out));
    // The pull-request artefacts too: the versioned document with the change set's
    // resource changes, and the Markdown comment, of a pending change.
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("DeploymentSize: small", "DeploymentSize: medium");
    std::fs::write(&file, edited).unwrap();
    for args in [
        &["plan", "--output", "json", "--changes"][..],
        &["plan", "--output", "markdown", "--changes"][..],
    ] {
        let (code, out) = once(args);
        assert_eq!(
            code,
            2,
            "{}: changes pending\n{}",
            args.join(" "),
            own_tail(&out, 40)
        );
        shown.push((args.join(" "), out));
    }

    // The values the stack generated, read back from Secrets Manager: found by the
    // names charts/stack.yaml gives them (moto's DescribeStackResource fails on this
    // stack), the master key checked against the stack's output.
    let stack = "bedrock-image-chat";
    let secrets_in_account = all_secrets(&sm).await;
    let arn_of = |name: &str| {
        secrets_in_account
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, arn)| arn.clone())
            .unwrap_or_else(|| panic!("no secret {name}: {secrets_in_account:?}"))
    };
    let master_arn = arn_of("bedrock-image-chat/litellm-master-key");
    let seed_arn = arn_of("bedrock-image-chat/litellm-master-key-seed");
    let webui_arn = arn_of("bedrock-image-chat/openwebui-secret-key");
    let outputs = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("DescribeStacks");
    let output_arn = outputs.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("LiteLLMMasterKeySecretArn"))
        .and_then(|o| o.output_value());
    assert_eq!(output_arn, Some(master_arn.as_str()));
    let master = secret_value(&sm, &master_arn).await;
    let seed = secret_value(&sm, &seed_arn).await;
    let webui = secret_value(&sm, &webui_arn).await;
    let db_arn = arn_of("bco-test/openwebui-database-url");
    assert_eq!(secret_value(&sm, &db_arn).await, db_url);
    // Generated as charts/stack.yaml says: long, random, the key is "sk-" + seed.
    assert_eq!(master, format!("sk-{seed}"), "master key");
    assert!(seed.len() >= 48 && webui.len() >= 64, "{seed} {webui}");

    let mut secrets = vec![
        Secret::new("the database URL", &db_url, &[&password]),
        Secret::new("the Redis URL", &redis_url, &[&redis_password]),
        Secret::new("the LiteLLM master key", &master, &[&seed]),
        Secret::new(
            "the operator's AWS secret access key",
            &access_key_secret,
            &[&access_key_secret],
        ),
        Secret::new(
            "the operator's AWS session token",
            &session_token,
            &[&session_token],
        ),
    ];
    // Every other secret in the account (the seed, Open WebUI's key, any the template
    // gains later), whole.
    for (name, arn) in &secrets_in_account {
        if [&db_arn, &master_arn].contains(&arn) {
            continue;
        }
        let value = secret_value(&sm, arn).await;
        secrets.push(Secret::new(&format!("secret {name}"), &value, &[&value]));
    }
    assert!(
        secrets.len() >= 6,
        "the stack's seed and Open WebUI key are scanned too"
    );

    // The scan can fail: every needle is found in the value it was cut from, and in a
    // log line that carries the value as the operator's JSON logs would.
    for s in &secrets {
        assert!(s.needles.len() >= 3, "{}: too few needles", s.what);
        for needle in &s.needles {
            assert!(s.value.contains(needle.as_str()), "{}", s.what);
        }
        let line = serde_json::json!({"level": "DEBUG", "fields": {"body": s.value}}).to_string();
        let found = leaks(std::slice::from_ref(s), "control", &line);
        assert_eq!(found.len(), s.needles.len(), "{}: {found:?}", s.what);
    }
    // And what is scanned is the real, most verbose output: the SDK's TRACE lines (with
    // response bodies), and the database secret's ARN — not a secret, but it goes from
    // the document into the logs — which the same scan finds there.
    assert!(
        daemon_log.contains(r#""level":"TRACE""#) && daemon_log.contains("aws_smithy"),
        "the daemon's log is not at trace level"
    );
    shown.push(("the daemon's log".into(), daemon_log));
    let arn = Secret::new("the database secret's ARN", &db_arn, &[]);
    for (where_, text) in &shown {
        if !where_.starts_with('/') {
            assert!(
                !leaks(std::slice::from_ref(&arn), where_, text).is_empty(),
                "the ARN is not in {where_}: the scan does not see what the operator wrote"
            );
        }
    }

    let mut found = Vec::new();
    for (where_, text) in &shown {
        eprintln!("scanned {where_}: {} bytes", text.len());
        found.extend(leaks(&secrets, where_, text));
    }
    assert!(
        found.is_empty(),
        "secret values leaked:\n  {}",
        found.join("\n  ")
    );
}
