//! Entry point: parse arguments, set up logging, run the command.

use std::process::ExitCode;

use bedrock_chat_operator::cli::{self, Cli};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_telemetry(cli.log_format);
    cli::run(cli).await
}
