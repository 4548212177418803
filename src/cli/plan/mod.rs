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
    match args.output {
        Output::Text => print_text(&reports),
        Output::Json => {
            let doc = PlanDocument::new(&reports, code, args.changes);
            println!("{}", super::pretty_json("plan", &doc)?.trim_end());
        }
        Output::Markdown => {
            let doc = PlanDocument::new(&reports, code, args.changes);
            print!("{}", markdown::render(&doc));
        }
    }
    Ok(ExitCode::from(code))
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

fn print_text(reports: &[PassReport]) {
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
