//! The command line: `validate` and `render` (and, as their issues land, `plan`,
//! `apply` and `run`, which share the daemon's code).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::desired::{self, ImageChatStack};
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
    /// Write what each stack would deploy: template, parameters, LiteLLM config, backup plan.
    Render {
        /// File or directory of desired-state documents.
        path: PathBuf,
        /// Output directory; one sub-directory per stack.
        #[arg(long, default_value = "rendered")]
        out: PathBuf,
    },
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
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::Render { path, out } => render_cmd(&path, &out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode> {
    let stacks = desired::load(paths)?;
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

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn render_cmd(path: &Path, out: &Path) -> Result<ExitCode> {
    let stacks = desired::load(&[path.to_path_buf()])?;
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
pub fn rendered_files(s: &ImageChatStack) -> Result<Vec<(&'static str, String)>> {
    let render_err = |what: &'static str, message: String| Error::Render { what, message };
    let params = render::stack_parameters(&s.spec)
        .map_err(|e| render_err("stack parameters", e.to_string()))?;
    // The CLI's `--parameters file://` shape, so the file is usable by hand too.
    let cfn_params: Vec<serde_json::Value> = params
        .iter()
        .map(|(k, v)| serde_json::json!({"ParameterKey": k, "ParameterValue": v}))
        .collect();
    let bedrock_region = params.get("BedrockRegion").cloned().unwrap_or_default();
    let litellm = render::litellm_config(&s.spec, &bedrock_region)
        .to_yaml()
        .map_err(|e| render_err("LiteLLM config", e.to_string()))?;
    // The vault exists once the stack does; `apply` fills in its output.
    let plan = render::backup_plan(&s.spec, "${BackupVaultName}");
    Ok(vec![
        ("stack.yaml", chart::STACK_TEMPLATE.to_string()),
        ("parameters.json", pretty_json("parameters", &cfn_params)?),
        ("litellm-config.yaml", litellm),
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
