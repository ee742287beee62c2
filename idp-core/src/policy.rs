//! The rules that decide who may sign in and who may go on using a session, in one place: the
//! completion of a sign-in, `/authorize` (session reuse), `/token` (code redemption and refresh)
//! and `/userinfo` all ask these, inside the transaction that reads the user and the session.

use crate::model::{Account, AuthMethod, MfaPolicy, SsoSession, User, UserStatus};

/// Why a live session may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// The user is disabled (or has not completed registration).
    UserNotActive,
    /// The account requires MFA and this session's sign-in never passed a second factor.
    SecondFactorMissing,
}

/// Whether this user may sign in at all.
pub fn may_sign_in(user: &User) -> bool {
    user.status == UserStatus::Active
}

/// Whether this user may be sent, and may use, an invitation or reset link (not while disabled:
/// a link would be a way back in).
pub fn may_use_links(user: &User) -> bool {
    user.status != UserStatus::Disabled
}

/// Whether a session whose sign-in did (or did not) pass a second factor satisfies the account.
pub fn meets_mfa_policy(account: &Account, passed_second_factor: bool) -> bool {
    account.mfa_policy == MfaPolicy::Off || passed_second_factor
}

/// Whether `user` may hold a session signed in with `method`: the one predicate behind a new
/// sign-in's completion and every later use of its session.
pub fn may_hold_session(
    user: &User,
    account: &Account,
    method: AuthMethod,
) -> Result<(), SessionRefusal> {
    if !may_sign_in(user) {
        return Err(SessionRefusal::UserNotActive);
    }
    if !meets_mfa_policy(account, method.passed_second_factor()) {
        return Err(SessionRefusal::SecondFactorMissing);
    }
    Ok(())
}

/// Whether a live session of `user` may be used (reused, refreshed, or read through).
pub fn may_use_session(
    user: &User,
    account: &Account,
    session: &SsoSession,
) -> Result<(), SessionRefusal> {
    may_hold_session(user, account, session.auth_method())
}
