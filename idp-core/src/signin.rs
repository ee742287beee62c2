//! The sign-in use cases the server's handlers call: may this browser's session be reused for a
//! new authorization request, and the completion of a sign-in, in one transaction.

use diesel::prelude::*;

use crate::crypto::{hash_token, random_token};
use crate::flows::{self, FlowError, LoginFlow};
use crate::model::User;
use crate::policy::{self, SessionRefusal};
use crate::sessions::{self, EndReason, EndedSession, SsoSession};
use crate::store::schema::sso_sessions as ss;
use crate::store::StoreError;
use crate::Idp;

/// A completed sign-in: the flow it consumed (with the pending authorization request), the new
/// session with its cookie secret, and the browser's previous session if this one replaced it.
#[derive(Debug)]
pub struct SignedIn {
    pub flow: LoginFlow,
    pub session: SsoSession,
    /// The cookie secret of the new session (only its hash is stored).
    pub secret: String,
    pub ended: Vec<EndedSession>,
}

impl Idp {
    /// The browser's session (by its cookie secret), slid, if it may serve a new authorization
    /// request without signing in again: live; younger than `max_age` when one is asked
    /// (`max_age=0` always asks again, OIDC Core 3.1.2.1); its user active; and, when the account
    /// requires MFA, its sign-in passed a second factor and the user still has a linked app. A
    /// session without the second factor its account requires is ended on the spot (with
    /// back-channel logout), as at refresh.
    pub fn reuse_session(
        &self,
        secret: &str,
        max_age: Option<i64>,
    ) -> Result<Option<SsoSession>, StoreError> {
        let Some(session) = self.session_by_secret(secret)? else {
            return Ok(None);
        };
        if max_age.is_some_and(|m| self.now() - session.auth_time >= m) {
            return Ok(None);
        }
        let Some((user, account)) = self.user_with_account(&session.user_id)? else {
            return Ok(None);
        };
        match policy::may_use_session(&user, &account, &session) {
            Ok(()) => {}
            Err(SessionRefusal::UserNotActive) => return Ok(None),
            Err(SessionRefusal::SecondFactorMissing) => {
                let now = self.now();
                self.store().tx(|conn| {
                    sessions::end_sessions(
                        conn,
                        now,
                        std::slice::from_ref(&session.id),
                        EndReason::MfaMissing,
                    )
                })?;
                return Ok(None);
            }
        }
        // MFA required and the app disconnected since: sign in again (and link a new one).
        if account.mfa_policy == crate::MfaPolicy::Required
            && self.mfa_step(&user)? != crate::mfa::MfaStep::Verify
        {
            return Ok(None);
        }
        let now = self.now();
        self.store()
            .tx(|conn| sessions::touch(conn, now, &session.id))
    }

    /// Completes a sign-in in one transaction: consumes the flow (once: a double submit cannot
    /// finish twice), ends the session this browser had (`browser_session`, its cookie secret),
    /// and starts the new one with the methods used (`amr`).
    pub fn complete_sign_in(
        &self,
        flow: &str,
        user: &User,
        amr: &[&str],
        browser_session: Option<&str>,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<SignedIn, FlowError> {
        let secret = random_token()?;
        let session = self
            .new_session(user, amr, ip, user_agent)
            .map_err(|e| match e {
                sessions::SessionError::Crypto(c) => FlowError::Crypto(c),
                sessions::SessionError::Store(s) => FlowError::Store(s),
                sessions::SessionError::Expired => FlowError::Expired,
            })?;
        let now = self.now();
        let (flow, ended) = self.store().tx(|conn| {
            let flow = flows::consume_in(conn, now, flow)?;
            let previous: Vec<String> = match browser_session {
                Some(s) => ss::table
                    .filter(ss::secret_hash.eq(hash_token(s)))
                    .filter(ss::ended_at.is_null())
                    .select(ss::id)
                    .load(conn)
                    .map_err(StoreError::from)?,
                None => Vec::new(),
            };
            let ended = sessions::end_sessions(conn, now, &previous, EndReason::Replaced)?;
            sessions::start_in(conn, now, user, &session, &secret, ip)?;
            Ok::<_, FlowError>((flow, ended))
        })?;
        Ok(SignedIn {
            flow,
            session,
            secret,
            ended,
        })
    }
}
