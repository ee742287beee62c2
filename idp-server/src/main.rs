//! `idp-server`: the OpenID Connect provider and its operator commands, on one binary.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod backchannel;
mod cli;
mod config;
mod keys;
mod mail;
mod tokens;
mod web;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

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
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if args.log_format == cli::LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Everything built from the configuration: the domain, the keys, the mailer.
pub struct Runtime {
    pub config: Arc<config::Config>,
    pub idp: idp_core::Idp,
}

impl Runtime {
    /// Opens the database (migrating it when `migrate`), loads the master key.
    pub fn open(config: config::Config, migrate: bool) -> Result<Self, String> {
        let store = idp_core::Store::open(
            &config.database_url,
            idp_core::PoolOptions { max_size: config.pool_size, connection_timeout: config.db_connect_timeout },
        )
        .map_err(|e| e.to_string())?;
        if migrate {
            store.migrate().map_err(|e| e.to_string())?;
        }
        let secrets = keys::load_master_key(&config.key_dir).map_err(|e| e.to_string())?;
        let idp = idp_core::Idp::new(store, secrets, config.core_settings(), Arc::new(idp_core::SystemClock)).map_err(|e| e.to_string())?;
        Ok(Runtime { config: Arc::new(config), idp })
    }

    /// How long a retired signing key stays published: the longest token lifetime plus a margin.
    pub fn publish_retired_for(&self) -> i64 {
        self.config.id_token_ttl.max(self.config.access_token_ttl).as_secs() as i64 + 60
    }
}
