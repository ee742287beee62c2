//! What the import's steps share: a line checked and ready, why a line fails, why an import
//! stops.

use crate::crypto::CryptoError;
use crate::model::User;
use crate::password::legacy::HashFormatError;
use crate::store::StoreError;

/// Why one line was not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line is not a JSON object of the expected fields.
    #[error("not a valid record: {0}")]
    Json(String),
    /// The line is not UTF-8 (one bad line, not the end of the import).
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// The line is longer than 16 KiB.
    #[error("the line is longer than 16 KiB")]
    TooLong,
    /// An invalid field.
    #[error("{field}: {reason}")]
    Field {
        /// Which.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The account does not exist (and `create_accounts` is off).
    #[error("no account with the slug {0:?} (use --create-accounts)")]
    NoSuchAccount(String),
    /// The line names another account than the one the import is for (`ImportScope::Account`).
    #[error("the line is for the account {line:?}, and this import is for {only:?} only (--all-accounts imports a file of several accounts)")]
    OutsideScope {
        /// The line's account.
        line: String,
        /// The import's.
        only: String,
    },
    /// The email is in the file twice.
    #[error("the email is already on line {0}")]
    Duplicate(usize),
    /// The user exists in another account.
    #[error("the user exists in another account")]
    OtherAccount,
    /// The password hash is refused.
    #[error("password_hash: {0}")]
    Hash(HashFormatError),
    /// The user changed (a password set, a disable) between the batch's read and its write.
    #[error("the user changed while the import ran; run the import again")]
    ChangedMeanwhile,
}

pub(super) fn field(field: &'static str, reason: impl std::fmt::Display) -> LineError {
    LineError::Field {
        field,
        reason: reason.to_string(),
    }
}

/// Why an import stopped (the lines before it are stored).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read.
    #[error("cannot read the input: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
}

/// A line checked and ready: the user as it will be stored, and its sealed secret.
pub(super) struct Prepared {
    pub(super) line: usize,
    pub(super) slug: String,
    pub(super) user: User,
    pub(super) totp: Option<Vec<u8>>,
    /// The line gave `status` / `email_verified` / `name` / `work_email` (else an update keeps
    /// the user's own).
    pub(super) status_given: bool,
    pub(super) verified_given: bool,
    pub(super) name_given: bool,
    pub(super) work_email_given: bool,
}
