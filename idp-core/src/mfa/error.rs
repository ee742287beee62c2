//! Why a code or an enrollment was refused.

use crate::crypto::CryptoError;
use crate::model::Locked;
use crate::store::StoreError;

/// Why a code or an enrollment was refused. (What a person reads is the server's business.)
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The code is not 6 digits.
    #[error("the code is not 6 digits")]
    InvalidFormat,
    /// The code is not correct.
    #[error("the code is not correct")]
    InvalidCode,
    /// The code has already been used.
    #[error("the code has already been used")]
    CodeReplayed,
    #[error("too many wrong codes; locked until {}", .0.until)]
    /// Too many wrong codes: locked until then.
    Locked(Locked),
    /// An authenticator app is already linked to this user.
    #[error("an authenticator app is already linked to this user")]
    AlreadyLinked,
    /// No authenticator app is linked to this user (or the sign-in shows none).
    #[error("no authenticator app is linked to this user (or the sign-in shows none)")]
    NotEnrolled,
    /// The TOTP parameters were refused (a secret too short, a label with a `:`).
    #[error("invalid TOTP settings: {0}")]
    Settings(#[from] totp_rs::TotpUrlError),
    /// Linking a new app after a help-desk disconnect needs the link mailed to the user
    /// (`relink_requires_email`), and this sign-in was not opened by it.
    #[error("a new authenticator app can only be linked through the link mailed to the user")]
    RelinkByEmail,
    /// A disconnect without an acceptable reason.
    #[error(transparent)]
    Reason(#[from] crate::model::ReasonError),
    /// The actor reached `[support] disconnects_per_hour`: refused (and audited) until then.
    #[error("too many authenticator disconnects by this operator; try again after {}", .0.until)]
    TooManyDisconnects(Locked),
    /// The QR code could not be made (the URL is too long for a QR code).
    #[error("the QR code could not be made: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}
