//! The identity provider's domain and storage: accounts with their MFA policy, users and their
//! passwords, TOTP, SSO sessions, authorization codes and refresh tokens, audit events.
//! It knows nothing of HTTP; the API is synchronous and the caller decides which threads run it.
#![warn(missing_docs)]

pub mod accounts;
pub mod audit;
pub mod clients;
pub mod clock;
pub mod console;
pub mod crypto;
pub mod email_tokens;
pub mod flows;
mod gate;
pub mod import;
pub mod introspection;
pub mod keys;
pub mod lifecycle;
pub mod mfa;
pub mod model;
pub mod oauth;
pub mod outbox;
pub mod password;
pub mod policy;
pub mod relink;
pub mod roles;
pub mod self_service;
pub mod sessions;
pub mod signin;
pub mod store;
pub mod support;
pub mod throttle;
pub mod token;
pub mod users;

use std::sync::{Arc, RwLock};

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::SecretBox;
pub use model::{Account, Actor, AuditAction, AuthMethod, MfaPolicy, User, UserStatus};
pub use password::{Argon2Params, PasswordPolicy, PasswordRejection};
pub use store::{PoolOptions, Store, StoreError};

/// Everything the domain needs to be configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// argon2id parameters for new hashes.
    pub argon2: Argon2Params,
    /// The password policy's minimum length.
    pub password_min_length: usize,
    /// TOTP issuer label and tolerated drift.
    pub totp: model::TotpSettings,
    /// Idle timeout and absolute lifetime of sessions.
    pub sessions: model::SessionSettings,
    /// Every throttle limit.
    pub throttle: model::ThrottleSettings,
    /// Lifetime of an authorization code (RFC 6749 recommends at most 10 minutes; we use 60 s).
    pub code_ttl_secs: i64,
    /// How long a half-finished sign-in (password given, code not yet) stays usable.
    pub login_flow_ttl_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            argon2: Argon2Params::default(),
            password_min_length: password::DEFAULT_MIN_LENGTH,
            totp: model::TotpSettings::default(),
            sessions: model::SessionSettings::default(),
            throttle: model::ThrottleSettings::default(),
            code_ttl_secs: 60,
            login_flow_ttl_secs: 600,
        }
    }
}

/// Errors of setting up the domain.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The password policy's minimum length is out of bounds.
    #[error(transparent)]
    Policy(#[from] password::PolicyError),
    #[error(transparent)]
    /// Password hashing failed.
    Hash(#[from] password::HashError),
}

/// The entry point the server and the CLI use: one value holding the store, the clock,
/// the password hasher, the master key and the settings.
#[derive(Debug, Clone)]
pub struct Idp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    hasher: password::PasswordHasher,
    policy: PasswordPolicy,
    secrets: SecretBox,
    settings: Settings,
    logout_listeners: RwLock<Arc<model::LogoutListeners>>,
}

impl Idp {
    /// The domain over a store, with the master key, the settings and a clock.
    pub fn new(
        store: Store,
        secrets: SecretBox,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SetupError> {
        let policy =
            PasswordPolicy::new(settings.password_min_length).map_err(SetupError::Policy)?;
        let hasher = password::PasswordHasher::new(settings.argon2)?;
        Ok(Idp {
            inner: Arc::new(Inner {
                store,
                clock,
                hasher,
                policy,
                secrets,
                settings,
                logout_listeners: RwLock::default(),
            }),
        })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    /// Now, in Unix seconds (from the injected clock).
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }
    /// The settings the domain runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
    /// The rules for new passwords.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.inner.policy
    }
    /// The master key that seals secrets at rest.
    pub fn secrets(&self) -> &SecretBox {
        &self.inner.secrets
    }
    pub(crate) fn hasher(&self) -> &password::PasswordHasher {
        &self.inner.hasher
    }
    /// Sets which apps are queued a back-channel logout when a session they hold a grant in
    /// ends (the server: those with a `backchannel_logout_uri`, at start and at every reload).
    /// Until set, every app holding a grant is.
    pub fn set_logout_listeners(&self, listeners: model::LogoutListeners) {
        *self
            .inner
            .logout_listeners
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(listeners);
    }
    /// The apps told of ended sessions (see [`Idp::set_logout_listeners`]).
    pub(crate) fn logout_listeners(&self) -> Arc<model::LogoutListeners> {
        self.inner
            .logout_listeners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;
