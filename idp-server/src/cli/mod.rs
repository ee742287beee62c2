//! The command line: `serve`, `check-config`, `migrate`, and the operator commands that carry out
//! support tickets (accounts, users, MFA, sessions, keys), one module each. Every command reads
//! the same config, answers in one line (or `--json`), exits non-zero with a one-line reason on
//! error (a [`CliError`]), and is safe to run twice.

/// `println!` for command output, through [`output::write_line`] (a closed pipe is no panic).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_line(format_args!($($arg)*))
    };
}

mod account;
mod args;
mod ceiling;
mod error;
mod import;
mod keys;
mod mfa;
mod output;
mod session;
mod user;

use serde_json::json;

pub use args::{
    AccountCmd, Cli, Command, EmailArg, KeysCmd, LogFormat, MfaCmd, SessionCmd, UserCmd,
};

pub use error::CliError;

use crate::config::Config;
use crate::Runtime;
use output::{operator, Output};

pub fn run(cli: Cli) -> Result<(), CliError> {
    let command = cli.command.as_ref().unwrap_or(&Command::Serve);
    // The server and check-config need every secret the file names; a support command does not
    // (a help-desk shell need not hold every app's secret to unlock a user).
    let config = match command {
        Command::Serve | Command::CheckConfig => Config::load(&cli.config)?,
        _ => Config::load_for_operator(&cli.config)?,
    };
    let out = Output { json: cli.json };
    let actor = operator(&cli);
    match command {
        Command::CheckConfig => {
            out.say(
                format!(
                    "{}: OK ({} client{})",
                    cli.config,
                    config.clients.len(),
                    if config.clients.len() == 1 { "" } else { "s" }
                ),
                json!({"ok": true, "clients": config.clients.len()}),
            );
            Ok(())
        }
        Command::Serve => serve(config),
        Command::Migrate => {
            let rt = Runtime::open_for_command(config, false)?;
            let applied = rt.idp.store().migrate()?;
            let text = if applied.is_empty() {
                "database is up to date".to_string()
            } else {
                format!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                )
            };
            out.say(text, json!({"applied": applied}));
            Ok(())
        }
        Command::Account(cmd) => {
            account::run(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
        Command::User(cmd) => {
            user::run(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
        Command::Mfa(cmd) => mfa::run(cmd, &Runtime::open_for_command(config, true)?, &out, &actor),
        Command::Session(cmd) => {
            session::run(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
        Command::Keys(cmd) => {
            keys::run(cmd, &Runtime::open_for_command(config, true)?, &out, &actor)
        }
        Command::Ceiling(args) => {
            ceiling::run(args, &Runtime::open_for_command(config, false)?, &out)
        }
        Command::Import(args) => import::run(
            args,
            &Runtime::open_for_command(config, true)?,
            &out,
            &actor,
        ),
    }
}

fn serve(config: Config) -> Result<(), CliError> {
    let rt = Runtime::open(config, true)?;
    let state = crate::app_state(&rt)?;
    let listener =
        std::net::TcpListener::bind(rt.config.listen).map_err(|source| CliError::Listen {
            addr: rt.config.listen,
            source,
        })?;
    let metrics = rt
        .config
        .metrics_listen
        .map(|addr| {
            std::net::TcpListener::bind(addr).map_err(|source| CliError::Listen { addr, source })
        })
        .transpose()?;
    let local = listener.local_addr()?;
    tracing::info!(issuer = %rt.config.issuer, listen = %local, metrics = ?rt.config.metrics_listen, database = rt.idp.store().backend_name(), "identity provider started");
    if let Some(warning) = rt.config.mail_warning() {
        tracing::warn!("{warning}");
    }
    Ok(actix_web::rt::System::new().block_on(crate::serve(state, listener, metrics))?)
}
