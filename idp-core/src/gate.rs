//! The session rule applied: every path that uses a live session (reuse at `/authorize`, code
//! redemption, refresh, `/userinfo`, introspection, the signed-in pages) asks
//! [`policy::may_use_session`] through [`admit_in`] or [`Idp::admit_read`], and a session it
//! refuses ends here, for the reason it names, with back-channel logout like every end. One
//! home, so no path keeps using a session another path refused.

use crate::model::{Account, LogoutListeners, SsoSession, User};
use crate::policy::{self, SessionRefusal};
use crate::store::{sessions, DbConnection, StoreError};
use crate::Idp;

/// Ends a session the session rule refused, for the reason the refusal names (in the caller's
/// transaction). Of two racing enders exactly one ends it (`store::sessions::end`).
pub(crate) fn refuse_in(
    conn: &mut DbConnection,
    now: i64,
    sid: &str,
    why: SessionRefusal,
    listeners: &LogoutListeners,
) -> Result<(), StoreError> {
    sessions::end(conn, now, &[sid.to_string()], why.end_reason(), listeners)?;
    Ok(())
}

/// Whether the live `session` of `user` may be used now; a refused one is ended in the caller's
/// transaction (the refusal is returned for the caller's answer).
pub(crate) fn admit_in(
    conn: &mut DbConnection,
    now: i64,
    user: &User,
    account: &Account,
    session: &SsoSession,
    listeners: &LogoutListeners,
) -> Result<Result<(), SessionRefusal>, StoreError> {
    match policy::may_use_session(user, account, session.auth_method()) {
        Ok(()) => Ok(Ok(())),
        Err(why) => {
            refuse_in(conn, now, &session.id, why, listeners)?;
            Ok(Err(why))
        }
    }
}

impl Idp {
    /// [`admit_in`] for a path that read the session outside a transaction (`/userinfo`, the
    /// signed-in pages): only a refusal, which is rare, writes.
    pub(crate) fn admit_read(
        &self,
        user: &User,
        account: &Account,
        sid: &str,
        method: crate::model::AuthMethod,
    ) -> Result<Result<(), SessionRefusal>, StoreError> {
        match policy::may_use_session(user, account, method) {
            Ok(()) => Ok(Ok(())),
            Err(why) => {
                let now = self.now();
                let listeners = self.logout_listeners();
                self.store()
                    .tx(|conn| refuse_in(conn, now, sid, why, &listeners))?;
                Ok(Err(why))
            }
        }
    }
}
