//! Relinking by email (`[mfa] relink_requires_email`): after a help-desk disconnect the
//! enrollment page is reachable only from a sign-in opened by a single-use link mailed to the
//! user's authentication email (valid 24 hours, ended by a newer link or by the enrollment).
//! A caller who talked the help desk into a disconnect with a phished password still lacks the
//! mailbox, so cannot link their own phone. The gate ([`may_enroll_in`]) sits inside the
//! enrollment use cases themselves, whichever way a sign-in reaches them.

use crate::crypto::{hash_token, CryptoError};
use crate::model::{FlowStage, Locked, LoginFlow, Purpose, User};
use crate::store::{self, DbConnection, StoreError};
use crate::Idp;

/// Why a relink link could not be used or sent.
#[derive(Debug, thiserror::Error)]
pub enum RelinkError {
    /// The link is invalid, has expired, was used, or a newer one was sent.
    #[error("the link is invalid, has expired or has already been used")]
    Invalid,
    /// The sign-in has expired, or is not waiting for a relink.
    #[error("the sign-in has expired")]
    Expired,
    /// Too many links were sent to this user lately.
    #[error("too many links were sent; try again after {}", .0.until)]
    TooMany(Locked),
    #[error(transparent)]
    /// The random generator failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

/// Whether `user` may enroll (see a QR code, link an app) in `flow`: always, unless linking by
/// email is required of them (the help desk disconnected their app with
/// `relink_requires_email` on, or they were granted a role before linking any); then only in a
/// sign-in opened by a live relink link of theirs.
pub(crate) fn may_enroll_in(
    conn: &mut DbConnection,
    user: &User,
    flow: &LoginFlow,
    now: i64,
) -> Result<bool, StoreError> {
    if !user.relink_by_email {
        return Ok(true);
    }
    let Some(hash) = flow.relink_token_hash.as_deref() else {
        return Ok(false);
    };
    let owner = store::email_tokens::peek(conn, hash, Purpose::Relink, now)?;
    Ok(owner.as_deref() == Some(user.id.as_str()))
}

/// What enrolling completes: the relink links still out end and the mark goes (in the
/// enrollment's transaction).
pub(crate) fn relinked_in(
    conn: &mut DbConnection,
    user: &User,
    now: i64,
) -> Result<(), StoreError> {
    if user.relink_by_email {
        store::email_tokens::revoke(conn, &user.id, Purpose::Relink, now)?;
        store::users::set_relink_by_email(conn, &user.id, false)?;
    }
    Ok(())
}

impl Idp {
    /// Whether the relink gate lets `user` enroll in the flow with this handle (no query unless
    /// linking by email is required of them).
    pub(crate) fn may_enroll(&self, user: &User, flow: &str) -> Result<bool, StoreError> {
        if !user.relink_by_email {
            return Ok(true);
        }
        let now = self.now();
        let conn = &mut *self.store().conn()?;
        let Some(f) = store::flows::live(conn, &hash_token(flow), now)? else {
            return Ok(false);
        };
        may_enroll_in(conn, user, &f, now)
    }

    /// The stage a sign-in that must link an app goes to: enrollment, or, behind the relink
    /// gate, the page that asks for the mailed link.
    pub(crate) fn enroll_stage(&self, user: &User, flow: &str) -> Result<FlowStage, StoreError> {
        Ok(if self.may_enroll(user, flow)? {
            FlowStage::MfaEnroll
        } else {
            FlowStage::RelinkByEmail
        })
    }
}
