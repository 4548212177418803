//! The command line: `validate` and `render` (and, as their issues land, `plan`,
//! `apply` and `run`, which share the daemon's code).

mod plan;
mod run;
mod status;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::act::Strategy;
use crate::context::{Context, Settings};
use crate::controller::{self, Outcome, PassOptions, PassReport, Trigger};
use crate::desired::{self, ImageChatStack};
use crate::observe::health::HealthDepth;
use crate::{Error, Result, chart, render};

#[derive(Debug, Parser)]
#[command(
    name = "bedrock-chat-operator",
    version,
    about = "Keeps Open WebUI + LiteLLM on ECS Fargate (Amazon Bedrock) equal to a desired state in Git"
)]
pub struct Cli {
    /// Log format; defaults to json when stderr is not a terminal.
    #[arg(long, global = true, value_enum, env = "BCO_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Refuse documents whose stack name or ProjectName does not start with this: the
    /// operator's IAM policies (charts/operator.yaml, ManagedStackPrefix) reach only
    /// those names, so others would fail on AWS with AccessDenied.
    #[arg(long, global = true, env = "BEDROCK_CHAT_OPERATOR_MANAGED_PREFIX")]
    pub managed_prefix: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check desired-state files; exit 0 when valid, 1 with every error when not.
    Validate {
        /// Files or directories of *.yaml / *.yml documents.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Write what each stack would deploy: template, parameters, LiteLLM configs (chat and
    /// images), backup plan.
    Render {
        /// File or directory of desired-state documents.
        path: PathBuf,
        /// Output directory; one sub-directory per stack.
        #[arg(long, default_value = "rendered")]
        out: PathBuf,
    },
    /// Show what `apply` would change (a dry run against AWS, with drift detection).
    /// Exit 0 in sync, 2 changes pending (or drift, or a busy stack), 1 error or blocked.
    Plan {
        /// File or directory of desired-state documents.
        path: PathBuf,
        /// Only this stack (metadata.name or spec.stackName).
        #[arg(long)]
        stack: Option<String>,
        /// Skip CloudFormation drift detection (it is slow on large stacks).
        #[arg(long)]
        skip_drift: bool,
        /// text for a terminal; json (schema docs/plan-schema.json, `planVersion`) for
        /// tools; markdown for a pull-request comment.
        #[arg(long, value_enum, default_value = "text")]
        output: plan::Output,
        /// Also list CloudFormation's resource-level changes (Add / Modify / Remove,
        /// Replacement) of a stack update. THIS WRITES: it creates a temporary change
        /// set, reads it and deletes it (never executes it); it needs
        /// cloudformation:CreateChangeSet and DeleteChangeSet. Without it `plan` only
        /// reads.
        #[arg(long)]
        changes: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Make AWS match the desired state: one pass over every stack, then exit.
    /// Exit 0 when every stack is in sync or was converged, 1 otherwise.
    Apply {
        /// File or directory of desired-state documents.
        path: PathBuf,
        /// Only this stack (metadata.name or spec.stackName).
        #[arg(long)]
        stack: Option<String>,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Show each stack's conditions and health: from a running daemon (`--server URL`)
    /// or computed once against AWS (a dry run). Exit 0 ready, 2 ready but degraded, 1
    /// not ready.
    Status {
        /// File or directory of desired-state documents (to compute the status here).
        #[arg(required_unless_present = "server", conflicts_with = "server")]
        path: Option<PathBuf>,
        /// A running daemon's address, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: Option<String>,
        /// Only this stack (metadata.name or spec.stackName).
        #[arg(long)]
        stack: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        output: status::Output,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Keep every stack reconciled: watch the desired state (or poll Git), resync on a
    /// timer, serve health, metrics and status; exit 0 on SIGTERM/SIGINT.
    Run(Box<RunArgs>),
}

/// The daemon's options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Desired state: a file or directory (watched); with --git-url, a path in the repository.
    #[arg(long, env = "BCO_DESIRED_STATE")]
    pub desired_state: PathBuf,
    /// Poll this Git repository for the desired state (any URL `git clone` takes).
    #[arg(long)]
    pub git_url: Option<String>,
    #[arg(long, default_value = "main")]
    pub git_ref: String,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub git_interval: Duration,
    /// Where the Git checkout lives (default: $HOME/bedrock-chat-operator-git).
    #[arg(long)]
    pub git_workdir: Option<PathBuf>,
    /// Re-check every stack this often (±10 % jitter), even when nothing changed.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub resync: Duration,
    /// Stacks reconciled at the same time, at most.
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: usize,
    /// CloudFormation drift detection at most this often per stack (slow, rate-limited).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub drift_interval: Duration,
    /// The full health of a steady stack (target health, EFS, secrets, network, models,
    /// alarms) at most this often; a stack that is not steady is read every pass.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub health_interval: Duration,
    /// Address of /healthz, /readyz, /metrics, /status (open), POST /reconcile (a bearer
    /// token beyond loopback: --api-token-file) and POST /hooks/git (the Git host's push
    /// webhook: --webhook-secret-file).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// File holding the bearer token of POST /reconcile (or set BCO_API_TOKEN to the
    /// token itself). Required beyond loopback, where POST /reconcile answers 403 without
    /// it; on loopback, required once set.
    #[arg(long, env = "BCO_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// File holding the secret of the Git host's push webhook, POST /hooks/git (or set
    /// BCO_WEBHOOK_SECRET to the secret itself); without it the hook answers 404.
    #[arg(long, env = "BCO_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// DynamoDB table of the single-writer lease (created if missing); without it this
    /// process always writes.
    #[arg(long)]
    pub lease_table: Option<String>,
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
    /// On SIGTERM/SIGINT, how long passes in flight may take to finish.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Quiet time after a file change before the desired state is reloaded.
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    pub debounce: Duration,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// How the operator talks to CloudFormation; shared by every command that does.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// CloudFormation service role to deploy with (the operator's own role then needs only
    /// iam:PassRole on it; see charts/operator.yaml).
    #[arg(long, env = "BEDROCK_CHAT_OPERATOR_CFN_ROLE_ARN")]
    pub cfn_role_arn: Option<String>,
    /// How often to poll CloudFormation while waiting.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// Longest wait for a change set to be computed.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub changeset_timeout: Duration,
    /// Longest wait for a stack create or update.
    #[arg(long, default_value = "60m", value_parser = humantime::parse_duration)]
    pub stack_timeout: Duration,
}

impl AwsArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            poll_interval: self.poll_interval,
            changeset_timeout: self.changeset_timeout,
            stack_timeout: self.stack_timeout,
            cfn_role_arn: self.cfn_role_arn.clone().filter(|r| !r.is_empty()),
        }
    }
}

/// Sets up `tracing` on stderr (stdout stays for command output).
pub fn init_telemetry(format: Option<LogFormat>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BCO_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Pretty) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let rules = desired::Rules {
        managed_prefix: cli.managed_prefix.filter(|p| !p.is_empty()),
    };
    let result = match cli.command {
        Command::Validate { paths } => validate(&paths, &rules),
        Command::Render { path, out } => render_cmd(&path, &out, &rules),
        Command::Plan {
            path,
            stack,
            skip_drift,
            output,
            changes,
            aws,
        } => {
            let opts = plan::PlanArgs {
                drift: !skip_drift,
                output,
                changes,
            };
            plan::plan_cmd(&path, stack.as_deref(), opts, &aws, &rules).await
        }
        Command::Apply { path, stack, aws } => {
            apply_cmd(&path, stack.as_deref(), &aws, &rules).await
        }
        Command::Status {
            path,
            server,
            stack,
            output,
            aws,
        } => {
            status::status_cmd(
                path.as_deref(),
                server.as_deref(),
                stack.as_deref(),
                output,
                &aws,
                &rules,
            )
            .await
        }
        Command::Run(args) => run::run(*args, rules).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn validate(paths: &[PathBuf], rules: &desired::Rules) -> Result<ExitCode> {
    let stacks = desired::load_with(paths, rules)?;
    for s in &stacks {
        println!(
            "ok {}: stack {} in {} ({})",
            s.name, s.spec.stack_name, s.spec.region, s.source
        );
    }
    println!(
        "{} document{} valid",
        stacks.len(),
        if stacks.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// The documents under `path`, optionally only the one named `only`. Everything is
/// validated before any AWS call, so a bad document writes nothing.
fn selected(
    path: &Path,
    only: Option<&str>,
    rules: &desired::Rules,
) -> Result<Vec<ImageChatStack>> {
    let stacks = desired::load_with(&[path.to_path_buf()], rules)?;
    let Some(only) = only else { return Ok(stacks) };
    let picked: Vec<_> = stacks
        .iter()
        .filter(|s| s.name == only || s.spec.stack_name == only)
        .cloned()
        .collect();
    if picked.is_empty() {
        let names: Vec<&str> = stacks.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "no document named {only:?} in {} (have: {})",
            path.display(),
            names.join(", ")
        )));
    }
    Ok(picked)
}

async fn passes(stacks: &[ImageChatStack], aws: &AwsArgs, opts: PassOptions) -> Vec<PassReport> {
    let ctx = Context::from_env(aws.settings()).await;
    let mut reports = Vec::with_capacity(stacks.len());
    // One stack after the other: output stays readable and CloudFormation's per-account
    // limits are not hit by a CLI run; the daemon runs stacks concurrently.
    for doc in stacks {
        let report = controller::reconcile(doc, &ctx, opts).await;
        controller::log_summary(&report, None);
        reports.push(report);
    }
    reports
}

async fn apply_cmd(
    path: &Path,
    only: Option<&str>,
    aws: &AwsArgs,
    rules: &desired::Rules,
) -> Result<ExitCode> {
    let stacks = selected(path, only, rules)?;
    let opts = PassOptions {
        strategy: Strategy::Enforce,
        detect_drift: false,
        trigger: Trigger::Command,
        health: HealthDepth::Quick,
        preview_changes: false,
    };
    let reports = passes(&stacks, aws, opts).await;
    let mut failed = false;
    for r in &reports {
        let actions: Vec<&str> = r.applied.iter().map(|a| a.action.as_str()).collect();
        let what = match r.outcome {
            Outcome::Applied => format!("applied {}", actions.join(", ")),
            Outcome::InSync => "in sync".to_string(),
            Outcome::Pending => "observe mode: changes pending, nothing written".to_string(),
            Outcome::Waiting => "waiting: CloudFormation is busy with the stack".to_string(),
            Outcome::Drifted => "drifted (see plan)".to_string(),
            Outcome::Suspended => "suspended".to_string(),
            Outcome::Blocked | Outcome::Failed => {
                failed = true;
                format!(
                    "FAILED: {}",
                    r.error_message.as_deref().unwrap_or("unknown error")
                )
            }
        };
        println!(
            "stack {}: {what} ({} ms; AWS calls: {} reads, {} writes)",
            r.name, r.duration_ms, r.calls.reads, r.calls.writes
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn render_cmd(path: &Path, out: &Path, rules: &desired::Rules) -> Result<ExitCode> {
    let stacks = desired::load_with(&[path.to_path_buf()], rules)?;
    for s in &stacks {
        let dir = out.join(&s.name);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
        for (file, contents) in rendered_files(s)? {
            write(&dir.join(file), &contents)?;
        }
        println!("rendered {} → {}", s.name, dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The files `render` writes for one stack, by name.
pub(crate) fn rendered_files(s: &ImageChatStack) -> Result<Vec<(&'static str, String)>> {
    let render_err = |what: &'static str, message: String| Error::Render { what, message };
    let params = render::stack_parameters(&s.spec)
        .map_err(|e| render_err("stack parameters", e.to_string()))?;
    // The CLI's `--parameters file://` shape, so the file is usable by hand too.
    let cfn_params: Vec<serde_json::Value> = params
        .iter()
        .map(|(k, v)| serde_json::json!({"ParameterKey": k, "ParameterValue": v}))
        .collect();
    let bedrock_region = params.get("BedrockRegion").cloned().unwrap_or_default();
    let litellm = |kind| {
        render::litellm_config(&s.spec, &bedrock_region, kind)
            .to_yaml()
            .map_err(|e| render_err("LiteLLM config", e.to_string()))
    };
    // The vault exists once the stack does; `apply` fills in its output.
    let plan = render::backup_plan(&s.spec, "${BackupVaultName}");
    Ok(vec![
        ("stack.yaml", chart::STACK_TEMPLATE.to_string()),
        ("parameters.json", pretty_json("parameters", &cfn_params)?),
        ("litellm-config.yaml", litellm(desired::ModelType::Text)?),
        ("litellm-images.yaml", litellm(desired::ModelType::Image)?),
        ("backup-plan.json", pretty_json("backup plan", &plan)?),
    ])
}

fn pretty_json(what: &'static str, value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| Error::Render {
            what,
            message: e.to_string(),
        })
}
