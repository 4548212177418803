//! `plan`: a dry run of every stack, printed for a terminal, as a versioned JSON document
//! for tools (docs/plan-schema.json), or as a pull-request comment in Markdown. Exit 0 in
//! sync, 2 changes pending (or drift, or a busy stack), 1 an error or a blocked stack.

mod document;
mod markdown;

use std::path::Path;
use std::process::ExitCode;

use document::PlanDocument;

use super::{AwsArgs, passes, selected, status};
use crate::act::Strategy;
use crate::controller::{Outcome, PassOptions, PassReport, Trigger};
use crate::observe::health::HealthDepth;
use crate::{Result, desired};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
    Markdown,
}

pub struct PlanArgs {
    pub drift: bool,
    pub output: Output,
    /// Preview stack updates through a temporary change set.
    pub changes: bool,
}

pub async fn plan_cmd(
    path: &Path,
    only: Option<&str>,
    args: PlanArgs,
    aws: &AwsArgs,
    rules: &desired::Rules,
) -> Result<ExitCode> {
    let stacks = selected(path, only, rules)?;
    let opts = PassOptions {
        strategy: Strategy::DryRun,
        detect_drift: args.drift,
        trigger: Trigger::Command,
        health: HealthDepth::Full,
        preview_changes: args.changes,
    };
    let reports = passes(&stacks, aws, opts).await;
    let code = exit_code(&reports);
    // Only over the whole desired state: with --stack, every other stack would look
    // orphaned.
    let orphans = match only {
        None => orphaned(&stacks, aws, rules).await,
        Some(_) => Orphans::default(),
    };
    match args.output {
        Output::Text => print_text(&reports, &orphans),
        Output::Json => {
            let doc = PlanDocument::new(&reports, code, args.changes, &orphans);
            println!("{}", super::pretty_json("plan", &doc)?.trim_end());
        }
        Output::Markdown => {
            let doc = PlanDocument::new(&reports, code, args.changes, &orphans);
            print!("{}", markdown::render(&doc));
        }
    }
    Ok(ExitCode::from(code))
}

/// Stacks the operator created (its managed-by tag) in the documents' regions that no
/// document names any more: left as they are, reported. A listing that fails (a role
/// that may only describe its own stacks) is said, not fatal.
#[derive(Debug, Default)]
pub struct Orphans {
    pub stacks: Vec<Orphan>,
    pub unchecked: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    pub stack_name: String,
    pub region: String,
    pub document: Option<String>,
}

async fn orphaned(
    docs: &[desired::ImageChatStack],
    aws: &AwsArgs,
    rules: &desired::Rules,
) -> Orphans {
    let ctx = crate::context::Context::from_env(aws.settings()).await;
    let regions: std::collections::BTreeSet<&str> =
        docs.iter().map(|d| d.spec.region.as_str()).collect();
    let mut out = Orphans::default();
    for region in regions {
        let clients = ctx.clients(region, &ctx.calls);
        match crate::observe::managed_stacks(&clients).await {
            Ok(found) => out.stacks.extend(
                found
                    .into_iter()
                    .filter(|m| {
                        !docs
                            .iter()
                            .any(|d| d.spec.region == region && d.spec.stack_name == m.stack_name)
                    })
                    .filter(|m| {
                        rules
                            .managed_prefix
                            .as_deref()
                            .is_none_or(|p| m.stack_name.starts_with(p))
                    })
                    .map(|m| Orphan {
                        stack_name: m.stack_name,
                        region: region.to_string(),
                        document: m.document,
                    }),
            ),
            Err(e) => out.unchecked.push(format!("{region}: {e}")),
        }
    }
    out
}

/// 1 when any stack failed or is blocked, else 2 when any has something pending (changes,
/// drift, a busy stack), else 0.
fn exit_code(reports: &[PassReport]) -> u8 {
    reports
        .iter()
        .map(|r| match r.outcome {
            Outcome::InSync | Outcome::Suspended => 0,
            Outcome::Pending | Outcome::Waiting | Outcome::Drifted | Outcome::Applied => 2,
            Outcome::Blocked | Outcome::Failed => 1,
        })
        // Errors outrank pending changes: 1 beats 2 beats 0.
        .fold(0, |worst, code| match (worst, code) {
            (1, _) | (_, 1) => 1,
            (2, _) | (_, 2) => 2,
            _ => 0,
        })
}

fn print_text(reports: &[PassReport], orphans: &Orphans) {
    for r in reports {
        if let Some(plan) = &r.plan {
            print!("{plan}");
            if let Some(h) = &r.health {
                print!("{}", status::health_table(h));
            }
        } else {
            println!("stack {}: {:?}", r.name, r.outcome);
        }
        if let Some(e) = &r.error_message {
            println!("  ! error: {e}");
        }
    }
    for o in &orphans.stacks {
        println!(
            "stack {} in {}: Orphaned — created by the operator{}, named by no document now; left as it is (nothing is deleted because a document went)",
            o.stack_name,
            o.region,
            o.document
                .as_deref()
                .map(|d| format!(" for document {d:?}"))
                .unwrap_or_default()
        );
    }
    for u in &orphans.unchecked {
        println!("  note: orphaned stacks not checked in {u}");
    }
    let count = |o: Outcome| reports.iter().filter(|r| r.outcome == o).count();
    println!(
        "Plan: {} with changes, {} in sync, {} waiting, {} drifted, {} blocked, {} failed.",
        count(Outcome::Pending),
        count(Outcome::InSync),
        count(Outcome::Waiting),
        count(Outcome::Drifted),
        count(Outcome::Blocked),
        count(Outcome::Failed)
    );
}
