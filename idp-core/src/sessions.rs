//! SSO sessions: one per browser sign-in, shared by every app the user reaches through it.
//!
//! A session is live while it has not ended and `now < idle_expires_at`, where `idle_expires_at`
//! is `min(last activity + idle timeout, absolute expiry)` (the `idle_exp` claim; the one rule is
//! `store::sessions::live`). Activity (an `/authorize` that reuses the session, a refresh) slides
//! it. Every way a session ends (logout, an operator, a disabled user, a password change or
//! reset, MFA turned on, the sweeper at idle or absolute expiry) goes through
//! `store::sessions::end`: of two racing enders exactly one ends it, its grants are revoked, and
//! a back-channel logout per app that holds a grant in it is queued in the durable outbox, all
//! in the ender's transaction.

use crate::crypto::{hash_token, random_id, CryptoError};
use crate::model::{Actor, AuditAction, AuditEvent, AuthMethod, User};
use crate::store::{self, audit, sessions, DbConnection, StoreError};
use crate::Idp;

pub use crate::model::{
    EndReason, EndedSession, LogoutListeners, SessionSettings, SsoSession, SweepReport, ACR_MFA,
    ACR_PASSWORD, AMR_MFA, AMR_OTP, AMR_PASSWORD,
};

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session has ended or expired.
    #[error("the session has ended or expired")]
    Expired,
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

/// A logout request, as the end-session endpoint received it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogoutRequest<'a> {
    /// The cookie secret of the browser's session, if it sent one.
    pub browser_session: Option<&'a str>,
    /// The person confirmed (the confirmation form came back with its CSRF token).
    pub confirmed: bool,
    /// The `sid` and `sub` of a verified `id_token_hint`.
    pub hint: Option<(&'a str, &'a str)>,
    /// The client address.
    pub ip: Option<&'a str>,
}

/// What a logout request leads to.
#[derive(Debug)]
pub enum Logout {
    /// Ask the person to confirm (nothing ended yet).
    Confirm,
    /// These sessions ended (none when there was nothing to end).
    Done(Vec<EndedSession>),
}

impl Idp {
    /// Starts a session after a completed sign-in. Returns it with the cookie secret.
    #[cfg(any(test, feature = "testing"))]
    pub fn start_session(
        &self,
        user: &User,
        method: AuthMethod,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(SsoSession, String), SessionError> {
        let secret = crate::crypto::random_token()?;
        let session = self.new_session(user, method, ip, user_agent)?;
        let now = self.now();
        self.store()
            .tx(|conn| start_in(conn, now, user, &session, &secret, ip))?;
        Ok((session, secret))
    }

    /// A session for `user`, starting now (not yet stored).
    pub(crate) fn new_session(
        &self,
        user: &User,
        method: AuthMethod,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<SsoSession, CryptoError> {
        let now = self.now();
        let s = &self.settings().sessions;
        let expires_at = now + s.max_lifetime_secs;
        Ok(SsoSession {
            id: random_id()?,
            user_id: user.id.clone(),
            auth_time: now,
            amr: method.amr().iter().map(|a| a.to_string()).collect(),
            created_at: now,
            last_active_at: now,
            idle_timeout_secs: s.idle_timeout_secs,
            expires_at,
            idle_expires_at: crate::model::idle_deadline(now, s.idle_timeout_secs, expires_at),
            ended_at: None,
            ip: ip.map(str::to_string),
            user_agent: user_agent.map(|u| u.chars().take(300).collect()),
        })
    }

    /// The session that takes over from `old` in its browser (a password change): the same
    /// sign-in (user, `auth_time`, `amr`, absolute expiry), a new id, active now (not stored).
    pub(crate) fn successor_of(&self, old: &SsoSession) -> Result<SsoSession, CryptoError> {
        let now = self.now();
        Ok(SsoSession {
            id: random_id()?,
            created_at: now,
            last_active_at: now,
            idle_expires_at: crate::model::idle_deadline(
                now,
                old.idle_timeout_secs,
                old.expires_at,
            ),
            ended_at: None,
            ..old.clone()
        })
    }

    /// The live session behind a cookie secret, without sliding it.
    pub(crate) fn session_by_secret(&self, secret: &str) -> Result<Option<SsoSession>, StoreError> {
        let now = self.now();
        sessions::live_by_secret(&mut *self.store().conn()?, &hash_token(secret), now)
    }

    /// A session by its public id, live or not.
    pub fn session_by_id(&self, sid: &str) -> Result<Option<SsoSession>, StoreError> {
        sessions::by_id(&mut *self.store().conn()?, sid)
    }

    /// Records activity: slides the idle expiry. `Expired` if the session is no longer live.
    #[cfg(any(test, feature = "testing"))]
    pub fn touch_session(&self, sid: &str) -> Result<SsoSession, SessionError> {
        let now = self.now();
        // A transaction for its write turn on SQLite (see `Store::tx`), though it is one statement.
        self.store()
            .tx(|conn| sessions::touch(conn, now, sid)?.ok_or(SessionError::Expired))
    }

    /// Ends a session (logout). Idempotent: an already ended session gives `None`.
    pub fn end_session(
        &self,
        sid: &str,
        actor: &Actor,
        ip: Option<&str>,
    ) -> Result<Option<EndedSession>, StoreError> {
        let now = self.now();
        let listeners = self.logout_listeners();
        self.store().tx(|conn| {
            let Some(ended) =
                sessions::end(conn, now, &[sid.to_string()], EndReason::Logout, &listeners)?.pop()
            else {
                return Ok(None);
            };
            let account = store::users::by_id(conn, &ended.user_id)?.map(|u| u.account_id);
            let mut ev = AuditEvent::new(AuditAction::SessionEnded, actor)
                .ip(ip)
                .detail(format!("sid={sid} reason={}", EndReason::Logout.as_str()));
            if let Some(a) = &account {
                ev = ev.user(a, &ended.user_id);
            }
            audit::record(conn, now, &ev)?;
            Ok(Some(ended))
        })
    }

    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 section 2-3): ends the
    /// browser's session and the one a valid ID token hint names, each recorded as its own
    /// user's action, with back-channel logout. A browser with a live session asks the person to
    /// confirm first, unless the request is confirmed (the confirmation form's CSRF token) or
    /// the hint names that session or its user: nobody else can sign a browser out by sending it
    /// a link.
    pub fn log_out(&self, request: &LogoutRequest<'_>) -> Result<Logout, StoreError> {
        let live = match request.browser_session {
            Some(secret) => self.session_by_secret(secret)?,
            None => None,
        };
        let hint_matches = request.hint.is_some_and(|(sid, sub)| {
            live.as_ref()
                .is_none_or(|s| s.id == sid || s.user_id == sub)
        });
        if live.is_some() && !request.confirmed && !hint_matches {
            return Ok(Logout::Confirm);
        }
        let mut sids: Vec<&str> = live.iter().map(|s| s.id.as_str()).collect();
        if let Some((sid, _)) = request.hint {
            if !sids.contains(&sid) {
                sids.push(sid);
            }
        }
        let mut ended = Vec::new();
        for sid in sids {
            let actor = self
                .session_by_id(sid)?
                .map(|s| Actor::User(s.user_id))
                .unwrap_or(Actor::Anonymous);
            ended.extend(self.end_session(sid, &actor, request.ip)?);
        }
        Ok(Logout::Done(ended))
    }

    /// The user of a browser's live session (by its cookie secret), with the session, if the
    /// session rule admits it (a session it refuses is ended, see `gate`).
    pub fn signed_in_user(&self, secret: &str) -> Result<Option<(User, SsoSession)>, StoreError> {
        let now = self.now();
        let (session, user, account) = {
            let conn = &mut *self.store().conn()?;
            let Some(session) = sessions::live_by_secret(conn, &hash_token(secret), now)? else {
                return Ok(None);
            };
            let Some((user, account)) = store::users::with_account(conn, &session.user_id)? else {
                return Ok(None);
            };
            (session, user, account)
        };
        Ok(self
            .admit_read(&user, &account, &session.id, session.auth_method())?
            .is_ok()
            .then_some((user, session)))
    }

    /// Ends every session of a user (operator revoke), with back-channel logout.
    pub fn end_user_sessions(
        &self,
        user: &User,
        actor: &Actor,
        except_sid: Option<&str>,
    ) -> Result<Vec<EndedSession>, StoreError> {
        let now = self.now();
        let listeners = self.logout_listeners();
        self.store().tx(|conn| {
            let ended = sessions::end_all_of_user(
                conn,
                now,
                &user.id,
                except_sid,
                EndReason::Revoked,
                &listeners,
            )?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::SessionsRevoked, actor)
                    .user(&user.account_id, &user.id)
                    .detail(format!("ended={}", ended.len())),
            )?;
            Ok(ended)
        })
    }

    /// Ends every session whose idle window or absolute lifetime has passed, and queues a
    /// back-channel logout to each app that holds a grant in it. Several replicas may sweep at
    /// once: each session is claimed by exactly one (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
    /// they do not wait on each other; on both backends the conditional update in
    /// `store::sessions::end` decides), so each app is told once per session.
    pub fn sweep_expired_sessions(&self) -> Result<SweepReport, StoreError> {
        const BATCH: i64 = 500;
        let mut report = SweepReport::default();
        loop {
            let now = self.now();
            let listeners = self.logout_listeners();
            let (found, ended) = self.store().tx(|conn| {
                let due = sessions::due(conn, now, BATCH)?;
                let ids = |absolute: bool| -> Vec<String> {
                    due.iter()
                        .filter(|d| (d.expires_at <= now) == absolute)
                        .map(|d| d.id.clone())
                        .collect()
                };
                let mut ended =
                    sessions::end(conn, now, &ids(false), EndReason::IdleTimeout, &listeners)?;
                ended.extend(sessions::end(
                    conn,
                    now,
                    &ids(true),
                    EndReason::MaxLifetime,
                    &listeners,
                )?);
                audit::record_expiries(conn, now, &ended)?;
                Ok::<_, StoreError>((due.len(), ended))
            })?;
            report.ended += ended.len();
            report.logouts_queued += ended.iter().map(|e| e.clients.len()).sum::<usize>();
            if (found as i64) < BATCH {
                return Ok(report);
            }
        }
    }

    /// The user's sessions that are still live, newest first.
    pub fn live_sessions(&self, user_id: &str) -> Result<Vec<SsoSession>, StoreError> {
        let now = self.now();
        sessions::live_of_user(&mut *self.store().conn()?, user_id, now)
    }

    /// Deletes sessions (with their grants and tokens) that ended or expired more than a day ago.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let cutoff = self.now() - 24 * 60 * 60;
        sessions::purge(&mut *self.store().conn()?, cutoff)
    }
}
/// Stores a new session and its sign-in event, in the caller's transaction.
pub(crate) fn start_in(
    conn: &mut DbConnection,
    now: i64,
    user: &User,
    session: &SsoSession,
    secret: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    sessions::insert(conn, session, &hash_token(secret))?;
    store::users::signed_in(conn, &user.id, now)?;
    audit::record(
        conn,
        now,
        &AuditEvent::new(AuditAction::SignInSucceeded, &Actor::User(user.id.clone()))
            .user(&user.account_id, &user.id)
            .ip(ip)
            .detail(format!("sid={} amr={}", session.id, session.amr.join(","))),
    )
}
