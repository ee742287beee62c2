//! Why a command failed.

use crate::config::ConfigError;

/// Why a command failed: said in one line on stderr, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] crate::StartError),
    #[error(transparent)]
    Store(#[from] idp_core::StoreError),
    #[error(transparent)]
    Account(#[from] idp_core::accounts::AccountError),
    #[error(transparent)]
    User(#[from] idp_core::users::UserError),
    #[error(transparent)]
    Mfa(#[from] idp_core::mfa::MfaError),
    #[error(transparent)]
    Link(#[from] idp_core::email_tokens::EmailTokenError),
    #[error(transparent)]
    Role(#[from] idp_core::roles::RoleError),
    #[error(transparent)]
    Reseal(#[from] idp_core::keys::ResealError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A refusal with its reason (bad input, a state the command cannot act on).
    #[error("{0}")]
    Refused(String),
    /// Done, but some lines of the input were refused (each was reported).
    #[error("{0} line(s) were refused (see above)")]
    Partial(usize),
}
