//! `idp-server`: the OpenID Connect provider and its operator commands, on one binary.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use idp_server::cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_tracing(&args);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(args: &cli::Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDP_LOG").unwrap_or_else(|_| {
        // Operator commands print their own results; keep the log quiet there.
        let default = if args.is_serve() { "info" } else { "warn" };
        tracing_subscriber::EnvFilter::new(default)
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.log_format == cli::LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}
