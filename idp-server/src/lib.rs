//! The identity provider's server side: configuration, signing keys, tokens, the HTTP layer,
//! mail and the operator CLI. `main.rs` only parses arguments and calls `cli::run`.

pub mod alg;
pub mod backchannel;
pub mod background;
pub mod cli;
pub mod config;
pub mod i18n;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod tokens;
pub mod user_agent;
pub mod web;

use std::sync::{Arc, RwLock};

/// Why the provider (or a command) could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] idp_core::StoreError),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Setup(#[from] idp_core::SetupError),
    #[error(transparent)]
    Mail(#[from] mail::MailError),
}

/// Everything built from the configuration: the domain, the keys, the mailer.
pub struct Runtime {
    pub config: Arc<config::Config>,
    pub idp: idp_core::Idp,
}

impl Runtime {
    /// Opens the database (migrating it when `migrate`), loads the master key.
    pub fn open(config: config::Config, migrate: bool) -> Result<Self, StartError> {
        let pool = idp_core::PoolOptions {
            max_size: config.pool_size,
            connection_timeout: config.db_connect_timeout,
            min_idle: 1,
        };
        Self::open_with(config, migrate, pool)
    }

    /// For a one-shot operator command: a small pool with no background connection work, so
    /// nothing is opening a database connection while the process exits.
    pub fn open_for_command(config: config::Config, migrate: bool) -> Result<Self, StartError> {
        let pool = idp_core::PoolOptions {
            max_size: 2,
            connection_timeout: config.db_connect_timeout,
            min_idle: 0,
        };
        Self::open_with(config, migrate, pool)
    }

    fn open_with(
        config: config::Config,
        migrate: bool,
        pool: idp_core::PoolOptions,
    ) -> Result<Self, StartError> {
        let store = idp_core::Store::open(&config.database_url, pool)?;
        if migrate {
            store.migrate()?;
        }
        let secrets = keys::load_master_key(&config.key_dir)?;
        let idp = idp_core::Idp::new(
            store,
            secrets,
            config.core_settings(),
            Arc::new(idp_core::SystemClock),
        )?;
        idp.set_logout_listeners(config.clients.logout_listeners());
        Ok(Runtime {
            config: Arc::new(config),
            idp,
        })
    }

    /// How long a retired signing key stays published (see [`config::Config::publish_retired_for`]).
    pub fn publish_retired_for(&self) -> i64 {
        self.config.publish_retired_for()
    }
}

/// Builds the HTTP state from an opened runtime: loads (or creates) the signing keys.
pub fn app_state(rt: &Runtime) -> Result<web::AppState, StartError> {
    let keyring = keys::Keyring::load_or_create(&rt.idp, rt.publish_retired_for())?;
    let mailer = mail::Mailer::new(&rt.config)?;
    Ok(web::AppState {
        discovery: Arc::new(web::discovery_document(&rt.config)),
        idp: rt.idp.clone(),
        config: rt.config.clone(),
        keys: Arc::new(RwLock::new(Arc::new(keyring))),
        mailer: Arc::new(mailer),
        metrics: Arc::new(metrics::Metrics::new()),
        outbox: Arc::new(tokio::sync::Notify::new()),
        verified_tokens: Arc::default(),
    })
}

/// Runs the HTTP server until SIGTERM/SIGINT; in-flight requests finish (10 s at most).
/// SIGHUP reloads the configuration file (see [`reload_config`]).
pub async fn serve(
    state: web::AppState,
    listener: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
) -> std::io::Result<()> {
    let server = web::build_server(state.clone(), listener, None)?;
    let metrics = metrics
        .map(|l| web::build_metrics_server(state.clone(), l))
        .transpose()?;
    let metrics_handle = metrics.as_ref().map(|m| m.handle());
    let metrics_task = metrics.map(actix_web::rt::spawn);
    let bg = actix_web::rt::spawn(background::run(state.clone()));
    let hup = actix_web::rt::spawn(reload_on_hangup(state));
    let result = server.await;
    if let Some(h) = metrics_handle {
        h.stop(true).await;
    }
    if let Some(t) = metrics_task {
        t.abort();
    }
    bg.abort();
    hup.abort();
    result
}

async fn reload_on_hangup(state: web::AppState) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reloading needs a restart");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let s = state.clone();
        if actix_web::web::block(move || reload_config(&s))
            .await
            .is_err()
        {
            tracing::error!("configuration reload did not run");
        }
    }
}

/// Re-reads the configuration file. A valid file replaces the clients atomically (sessions,
/// codes and tokens survive; a removed client's grants stop working at once); the other
/// settings take effect at the next restart. An invalid file is refused with the message
/// `check-config` prints, and the running configuration stays.
pub fn reload_config(state: &web::AppState) -> Result<usize, config::ConfigError> {
    match config::Config::load(&state.config.path) {
        Ok(fresh) => {
            state.config.clients.replace_with(&fresh.clients);
            state
                .idp
                .set_logout_listeners(fresh.clients.logout_listeners());
            state.metrics.config_reload("ok");
            let n = fresh.clients.len();
            tracing::info!(path = %state.config.path, clients = n, "configuration reloaded: clients replaced; other settings apply at the next restart");
            Ok(n)
        }
        Err(e) => {
            state.metrics.config_reload("error");
            tracing::error!(error = %e, "configuration reload refused; the running configuration stays");
            Err(e)
        }
    }
}
