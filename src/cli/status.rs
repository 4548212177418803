//! `status`: a stack's conditions and health for a person at a terminal, as `flux get`
//! or `argocd app get` show theirs — read from a running daemon's `/status`, or computed
//! once against AWS (a dry run with the full health read). A table, or `--output json`.
//! Exit 0 when every stack is Ready and nothing is Degraded, 2 when serving but
//! Degraded, 1 when a stack is not Ready (or the status cannot be had).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::Value;

use super::{AwsArgs, passes, selected};
use crate::act::Strategy;
use crate::controller::status::{StackStatus, Status};
use crate::controller::{PassOptions, Trigger};
use crate::desired;
use crate::observe::health::HealthDepth;
use crate::plan::health::Health;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// GET `<server>/status` from a running daemon.
async fn fetch(server: &str) -> Result<Value> {
    let url = format!("{}/status", server.trim_end_matches('/'));
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| Error::Usage(format!("--server {server:?} is not a URL: {e}")))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let unreachable = |e: String| Error::Usage(format!("cannot read {url}: {e}"));
    let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
        .await
        .map_err(|_| unreachable("no answer in 10 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        return Err(unreachable(format!("HTTP {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| unreachable(format!("not a status document: {e}")))
}

/// One dry-run pass per stack with the full health, folded as the daemon folds them.
async fn compute(
    path: &Path,
    only: Option<&str>,
    aws: &AwsArgs,
    rules: &desired::Rules,
) -> Result<Value> {
    let stacks = selected(path, only, rules)?;
    let opts = PassOptions {
        strategy: Strategy::DryRun,
        detect_drift: false,
        trigger: Trigger::Command,
        health: HealthDepth::Full,
        preview_changes: false,
    };
    let reports = passes(&stacks, aws, opts).await;
    let mut status = Status::default();
    for (doc, report) in stacks.iter().zip(&reports) {
        let mut s = StackStatus {
            name: doc.name.clone(),
            stack_name: doc.spec.stack_name.clone(),
            region: doc.spec.region.clone(),
            ..StackStatus::default()
        };
        s.record(report, Duration::ZERO);
        s.next_run = None;
        status.stacks.insert(doc.name.clone(), s);
    }
    serde_json::to_value(&status).map_err(|e| Error::Internal(format!("status as JSON: {e}")))
}

pub(super) async fn status_cmd(
    path: Option<&Path>,
    server: Option<&str>,
    only: Option<&str>,
    output: Output,
    aws: &AwsArgs,
    rules: &desired::Rules,
) -> Result<ExitCode> {
    let mut doc = match (server, path) {
        (Some(server), _) => fetch(server).await?,
        (None, Some(path)) => compute(path, only, aws, rules).await?,
        (None, None) => {
            return Err(Error::Usage(
                "status needs a desired-state path or --server URL".into(),
            ));
        }
    };
    if let (Some(only), Some(stacks)) = (only, doc.get_mut("stacks").and_then(Value::as_object_mut))
    {
        stacks.retain(|name, s| name == only || s["stackName"] == only);
    }
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default()),
        Output::Table => print!("{}", table(&doc)),
    }
    Ok(ExitCode::from(exit_code(&doc)))
}

fn condition<'a>(stack: &'a Value, kind: &str) -> Option<&'a Value> {
    stack["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn exit_code(doc: &Value) -> u8 {
    let stacks: Vec<&Value> = doc["stacks"]
        .as_object()
        .map(|m| m.values().collect())
        .unwrap_or_default();
    if stacks.is_empty() {
        return 1;
    }
    let is =
        |s: &Value, kind: &str, want: &str| condition(s, kind).is_some_and(|c| c["status"] == want);
    if stacks.iter().any(|s| !is(s, "Ready", "True")) {
        1
    } else if stacks.iter().any(|s| is(s, "Degraded", "True")) {
        2
    } else {
        0
    }
}

/// Conditions, then one row per component, columns aligned.
pub(crate) fn table(doc: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let Some(stacks) = doc["stacks"].as_object() else {
        return "no stacks\n".into();
    };
    for (name, s) in stacks {
        out.push_str(&format!(
            "stack {name} ({} in {}): {}\n",
            text(&s["stackName"]),
            text(&s["region"]),
            text(&s["lastOutcome"])
        ));
        let conditions = rows(&s["conditions"], &["type", "status", "reason", "message"]);
        out.push_str(&columns(
            &["CONDITION", "STATUS", "REASON", "MESSAGE"],
            &conditions,
        ));
        let health = rows(
            &s["health"],
            &["name", "status", "reason", "since", "message"],
        );
        if !health.is_empty() {
            out.push('\n');
            out.push_str(&columns(
                &["COMPONENT", "HEALTH", "REASON", "SINCE", "MESSAGE"],
                &health,
            ));
        }
        let remedies: Vec<String> = s["health"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|c| c["status"] == "Degraded")
            .filter_map(|c| Some(format!("  {}: {}", text(&c["name"]), c["remedy"].as_str()?)))
            .collect();
        if !remedies.is_empty() {
            out.push_str("\nwhat to do:\n");
            out.push_str(&remedies.join("\n"));
            out.push('\n');
        }
        if let Some(e) = s["lastError"].as_str() {
            out.push_str(&format!("\nlast error: {e}\n"));
        }
        out.push('\n');
    }
    out
}

/// The `fields` of each object of the array `list`, as text.
fn rows(list: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    list.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|item| {
            fields
                .iter()
                .map(|f| item[*f].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect()
}

/// Rows under a header, each column as wide as its widest cell (the last one free).
pub(crate) fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate().take(n - 1) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 < n {
                l.push_str(&format!("{cell:<w$}  ", w = width[i]));
            } else {
                l.push_str(cell);
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

/// The health below a plan: one row per component read.
pub(crate) fn health_table(h: &Health) -> String {
    let rows: Vec<Vec<String>> = h
        .components
        .iter()
        .map(|c| {
            vec![
                c.name.to_string(),
                c.status.label().to_string(),
                c.reason.clone(),
                c.message.clone(),
            ]
        })
        .collect();
    format!(
        "  health:\n{}",
        columns(&["COMPONENT", "HEALTH", "REASON", "MESSAGE"], &rows)
    )
}
