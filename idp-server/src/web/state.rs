//! What every handler can reach, and the way handlers run blocking domain work.

use std::sync::Arc;

use actix_web::web;
use idp_core::Idp;

use super::error::AppError;
use crate::config::Config;
use crate::keys::{self, SharedKeyring};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub idp: Idp,
    pub config: Arc<Config>,
    pub keys: SharedKeyring,
    pub discovery: Arc<Vec<u8>>,
    pub mailer: Arc<crate::mail::Mailer>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Wakes this replica's back-channel deliverer (see `background`).
    pub outbox: Arc<tokio::sync::Notify>,
    /// Access tokens that verified with the current keyring (see `tokens::verify_access_token`).
    pub verified_tokens: Arc<crate::tokens::VerifiedAccessTokens>,
}

impl AppState {
    pub fn keyring(&self) -> Result<Arc<keys::Keyring>, AppError> {
        keys::current(&self.keys).ok_or(AppError::Internal)
    }

    /// Sessions were ended here: deliver their back-channel logouts now.
    pub fn deliver_logouts(&self) {
        self.outbox.notify_one();
    }
}

/// Runs blocking domain work on actix's blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, AppError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await.map_err(|_| AppError::Internal)
}

/// [`blocking`] for work that can fail with an error that becomes an [`AppError`] (a database
/// outage becomes a 503, and so on): one `Result`, one `?`.
pub async fn blocking_try<T, E, F>(f: F) -> Result<T, AppError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
    AppError: From<E>,
{
    Ok(blocking(f).await??)
}
