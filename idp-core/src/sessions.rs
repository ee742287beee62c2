//! SSO sessions: one per browser sign-in, shared by every app the user reaches through it.
//!
//! A session is live while it has not ended and `now < idle_expires_at`, where `idle_expires_at`
//! is `min(last activity + idle timeout, absolute expiry)` (the `idle_exp` claim), kept as a
//! column so that this rule is one comparison, in one place ([`live`]). Activity (an
//! `/authorize` that reuses the session, a refresh) slides it.
//!
//! Every way a session ends (logout, an operator, a disabled user, a password change or reset,
//! MFA turned on, the sweeper at idle or absolute expiry) goes through [`end_sessions`]: one
//! conditional `UPDATE ... RETURNING` marks it ended (so of two racing enders, on one replica or
//! many, exactly one gets it), its grants are revoked, and a back-channel logout for every app
//! that holds a grant in it is queued in the durable outbox, all in the caller's transaction.

use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::{hash_token, random_id, random_token, CryptoError};
use crate::store::schema::{grants, sso_sessions as ss, users};
use crate::store::{DbConnection, StoreError};
use crate::Idp;

#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub idle_timeout_secs: i64,
    pub max_lifetime_secs: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_timeout_secs: 30 * 60,
            max_lifetime_secs: 12 * 60 * 60,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the session has ended or expired")]
    Expired,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for SessionError {
    fn from(e: diesel::result::Error) -> Self {
        SessionError::Store(e.into())
    }
}

/// Authentication methods references (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_OTP: &str = "otp";
pub const AMR_MFA: &str = "mfa";

/// Why a session ended (stored with it, in the audit log and in the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The user logged out (RP-initiated logout or the sign-out page).
    Logout,
    /// A new sign-in in the same browser replaced it.
    Replaced,
    /// An operator ended it.
    Revoked,
    UserDisabled,
    /// The user changed their password (their other sessions end).
    PasswordChanged,
    /// A password reset by email link.
    PasswordReset,
    /// An operator set a new password.
    PasswordSet,
    /// MFA was turned on for the account and this session never passed a second factor.
    MfaEnabled,
    /// Found in use without the second factor its account requires (defence in depth).
    MfaMissing,
    /// A registration was completed in the same browser.
    Registration,
    /// 30 minutes (by default) without activity.
    IdleTimeout,
    /// The absolute lifetime (12 hours by default) passed.
    MaxLifetime,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Replaced => "replaced",
            EndReason::Revoked => "revoked",
            EndReason::UserDisabled => "user_disabled",
            EndReason::PasswordChanged => "password_changed",
            EndReason::PasswordReset => "password_reset",
            EndReason::PasswordSet => "password_set",
            EndReason::MfaEnabled => "mfa_enabled",
            EndReason::MfaMissing => "mfa_missing",
            EndReason::Registration => "registration",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::MaxLifetime => "max_lifetime",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SsoSession {
    /// Public session id (`sid` claim).
    pub id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub last_active_at: i64,
    pub idle_timeout_secs: i64,
    pub expires_at: i64,
    /// When the session ends if nothing happens: the `idle_exp` claim.
    pub idle_expires_at: i64,
    pub ended_at: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl SsoSession {
    pub fn is_active(&self, now: i64) -> bool {
        self.ended_at.is_none() && now < self.idle_expires_at
    }
    /// Whether the sign-in behind this session passed a second factor.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|a| a == AMR_OTP)
    }
}

/// A session's row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ss)]
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    auth_time: i64,
    amr: String,
    created_at: i64,
    last_active_at: i64,
    idle_timeout_secs: i64,
    expires_at: i64,
    idle_expires_at: i64,
    ended_at: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRow> for SsoSession {
    fn from(r: SessionRow) -> Self {
        SsoSession {
            id: r.id,
            user_id: r.user_id,
            auth_time: r.auth_time,
            amr: r.amr.split_whitespace().map(str::to_string).collect(),
            created_at: r.created_at,
            last_active_at: r.last_active_at,
            idle_timeout_secs: r.idle_timeout_secs,
            expires_at: r.expires_at,
            idle_expires_at: r.idle_expires_at,
            ended_at: r.ended_at,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

/// The one liveness rule, as SQL: not ended, and inside its idle and absolute limits.
pub(crate) fn live(
    now: i64,
) -> diesel::dsl::And<diesel::dsl::IsNull<ss::ended_at>, diesel::dsl::Gt<ss::idle_expires_at, i64>>
{
    ss::ended_at.is_null().and(ss::idle_expires_at.gt(now))
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| ss::table
        .find(id)
        .select(SessionRow::as_select())
        .get_result(c)
        .optional())?
    .map(SsoSession::from))
}

/// Slides the idle expiry of a live session and returns it as it now is (one statement,
/// `RETURNING`); `None` if it has ended or expired.
pub(crate) fn touch(
    conn: &mut DbConnection,
    now: i64,
    id: &str,
) -> Result<Option<SsoSession>, StoreError> {
    use diesel::dsl::case_when;
    Ok(crate::on_backend!(conn, |c| diesel::update(
        ss::table.find(id).filter(live(now)),
    )
    .set((
        ss::last_active_at.eq(now),
        ss::idle_expires_at.eq(case_when(
            (ss::idle_timeout_secs + now).lt(ss::expires_at),
            ss::idle_timeout_secs + now
        )
        .otherwise(ss::expires_at)),
    ))
    .returning(SessionRow::as_returning())
    .get_result(c)
    .optional())?
    .map(SsoSession::from))
}

/// Live-looking sessions whose time is up, oldest first: id, absolute expiry, user. (A macro:
/// the PostgreSQL variant adds a locking clause that SQLite's query builder does not have.)
macro_rules! due_sessions {
    ($now:expr, $limit:expr) => {
        ss::table
            .filter(ss::ended_at.is_null().and(ss::idle_expires_at.le($now)))
            .select((ss::id, ss::expires_at, ss::user_id))
            .order(ss::idle_expires_at.asc())
            .limit($limit)
    };
}

/// A session that was just ended, with the apps that hold a grant in it (each is sent a
/// back-channel logout through the outbox).
#[derive(Debug, Clone, Serialize)]
pub struct EndedSession {
    pub sid: String,
    pub user_id: String,
    pub clients: Vec<String>,
    pub reason: EndReason,
}

/// Ends those of `ids` that have not ended yet: marks them ended (the conditional update decides
/// between racing callers), revokes their grants and queues a back-channel logout per app that
/// holds a grant in them. Returns what this call ended. Runs in the caller's transaction.
pub(crate) fn end_sessions(
    conn: &mut DbConnection,
    now: i64,
    ids: &[String],
    reason: EndReason,
) -> Result<Vec<EndedSession>, StoreError> {
    let mut ended = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = crate::on_backend!(&mut *conn, |c| diesel::update(
            ss::table
                .filter(ss::id.eq_any(chunk))
                .filter(ss::ended_at.is_null()),
        )
        .set((
            ss::ended_at.eq(Some(now)),
            ss::end_reason.eq(Some(reason.as_str())),
        ))
        .returning((ss::id, ss::user_id))
        .get_results(c))?;
        if rows.is_empty() {
            continue;
        }
        let sids: Vec<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
        diesel::update(
            grants::table
                .filter(grants::session_id.eq_any(&sids))
                .filter(grants::revoked_at.is_null()),
        )
        .set(grants::revoked_at.eq(Some(now)))
        .execute(conn)?;
        let mut holders: Vec<(String, String)> = grants::table
            .filter(grants::session_id.eq_any(&sids))
            .select((grants::session_id, grants::client_id))
            .distinct()
            .load(conn)?;
        holders.sort();
        for (sid, user_id) in rows {
            let clients = holders
                .iter()
                .filter(|(s, _)| *s == sid)
                .map(|(_, c)| c.clone())
                .collect();
            ended.push(EndedSession {
                sid,
                user_id,
                clients,
                reason,
            });
        }
    }
    crate::outbox::enqueue(conn, now, &ended)?;
    Ok(ended)
}

/// The ids of a user's sessions that have not ended.
fn unended_of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(ss::table
        .filter(ss::user_id.eq(user_id))
        .filter(ss::ended_at.is_null())
        .select(ss::id)
        .load(conn)?)
}

/// Ends every session of a user but `except` (the one making the change, if it stays).
pub(crate) fn end_user_sessions_in(
    conn: &mut DbConnection,
    now: i64,
    user_id: &str,
    except: Option<&str>,
    reason: EndReason,
) -> Result<Vec<EndedSession>, StoreError> {
    let ids: Vec<String> = unended_of_user(conn, user_id)?
        .into_iter()
        .filter(|s| Some(s.as_str()) != except)
        .collect();
    end_sessions(conn, now, &ids, reason)
}

/// What one sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Sessions ended now because their idle window or absolute lifetime had passed.
    pub ended: usize,
    /// Back-channel logouts queued for them.
    pub logouts_queued: usize,
}

impl Idp {
    /// Starts a session after a completed sign-in. Returns it with the cookie secret.
    pub fn start_session(
        &self,
        user: &crate::User,
        amr: &[&str],
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(SsoSession, String), SessionError> {
        let secret = random_token()?;
        let session = self.new_session(user, amr, ip, user_agent)?;
        let now = self.now();
        self.store().tx(|conn| {
            insert_session(conn, &session, &secret)?;
            record_sign_in(conn, now, user, &session, ip)?;
            Ok::<_, SessionError>(())
        })?;
        Ok((session, secret))
    }

    pub(crate) fn new_session(
        &self,
        user: &crate::User,
        amr: &[&str],
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<SsoSession, SessionError> {
        let now = self.now();
        let s = &self.settings().sessions;
        let expires_at = now + s.max_lifetime_secs;
        Ok(SsoSession {
            id: random_id()?,
            user_id: user.id.clone(),
            auth_time: now,
            amr: amr.iter().map(|a| a.to_string()).collect(),
            created_at: now,
            last_active_at: now,
            idle_timeout_secs: s.idle_timeout_secs,
            expires_at,
            idle_expires_at: (now + s.idle_timeout_secs).min(expires_at),
            ended_at: None,
            ip: ip.map(str::to_string),
            user_agent: user_agent.map(|u| u.chars().take(300).collect()),
        })
    }

    /// The live session behind a cookie secret, without sliding it.
    pub fn session_by_secret(&self, secret: &str) -> Result<Option<SsoSession>, StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        Ok(crate::on_backend!(&mut *conn, |c| ss::table
            .filter(ss::secret_hash.eq(hash_token(secret)))
            .filter(live(now))
            .select(SessionRow::as_select())
            .get_result(c)
            .optional())?
        .map(SsoSession::from))
    }

    pub fn session_by_id(&self, sid: &str) -> Result<Option<SsoSession>, StoreError> {
        let mut conn = self.store().conn()?;
        by_id(&mut conn, sid)
    }

    /// Records activity: slides the idle expiry. `Expired` if the session is no longer live.
    pub fn touch_session(&self, sid: &str) -> Result<SsoSession, SessionError> {
        let now = self.now();
        // A transaction for its write turn on SQLite (see `Store::tx`), though it is one statement.
        self.store()
            .tx(|conn| touch(conn, now, sid)?.ok_or(SessionError::Expired))
    }

    /// Ends a session (logout). Idempotent: an already ended session gives `None`.
    pub fn end_session(
        &self,
        sid: &str,
        actor: &Actor,
        ip: Option<&str>,
    ) -> Result<Option<EndedSession>, StoreError> {
        self.end_session_for(sid, actor, ip, EndReason::Logout)
    }

    pub(crate) fn end_session_for(
        &self,
        sid: &str,
        actor: &Actor,
        ip: Option<&str>,
        reason: EndReason,
    ) -> Result<Option<EndedSession>, StoreError> {
        let now = self.now();
        self.store().tx(|conn| {
            let Some(ended) = end_sessions(conn, now, &[sid.to_string()], reason)?.pop() else {
                return Ok(None);
            };
            let account: Option<String> = users::table
                .find(&ended.user_id)
                .select(users::account_id)
                .get_result(conn)
                .optional()?;
            let mut ev = AuditEvent::new(AuditAction::SessionEnded, actor)
                .ip(ip)
                .detail(format!("sid={sid} reason={}", reason.as_str()));
            if let Some(a) = &account {
                ev = ev.user(a, &ended.user_id);
            }
            audit::record(conn, now, &ev)?;
            Ok(Some(ended))
        })
    }

    /// Ends every session of a user (operator revoke), with back-channel logout.
    pub fn end_user_sessions(
        &self,
        user: &crate::User,
        actor: &Actor,
        except_sid: Option<&str>,
    ) -> Result<Vec<EndedSession>, StoreError> {
        let now = self.now();
        self.store().tx(|conn| {
            let ended = end_user_sessions_in(conn, now, &user.id, except_sid, EndReason::Revoked)?;
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
    /// [`end_sessions`] decides), so each app is told once per session.
    pub fn sweep_expired_sessions(&self) -> Result<SweepReport, StoreError> {
        const BATCH: i64 = 500;
        let mut report = SweepReport::default();
        loop {
            let now = self.now();
            let (found, ended) = self.store().tx(|conn| {
                let due: Vec<(String, i64, String)> = match conn {
                    DbConnection::Postgres(c) => due_sessions!(now, BATCH)
                        .for_update()
                        .skip_locked()
                        .load(c)?,
                    DbConnection::Sqlite(c) => due_sessions!(now, BATCH).load(c)?,
                };
                let ids = |absolute: bool| -> Vec<String> {
                    due.iter()
                        .filter(|(_, expires_at, _)| (*expires_at <= now) == absolute)
                        .map(|(id, ..)| id.clone())
                        .collect()
                };
                let mut ended = end_sessions(conn, now, &ids(false), EndReason::IdleTimeout)?;
                ended.extend(end_sessions(conn, now, &ids(true), EndReason::MaxLifetime)?);
                record_expiries(conn, now, &ended)?;
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
        let mut conn = self.store().conn()?;
        Ok(crate::on_backend!(&mut *conn, |c| ss::table
            .filter(ss::user_id.eq(user_id))
            .filter(live(now))
            .order(ss::created_at.desc())
            .select(SessionRow::as_select())
            .load(c))?
        .into_iter()
        .map(SsoSession::from)
        .collect())
    }

    /// Deletes sessions (with their grants and tokens) that ended or expired more than a day ago.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let cutoff = self.now() - 24 * 60 * 60;
        let mut conn = self.store().conn()?;
        // Grants, codes and refresh tokens go with their session (ON DELETE CASCADE).
        Ok(diesel::delete(
            ss::table.filter(ss::ended_at.lt(cutoff).or(ss::idle_expires_at.lt(cutoff))),
        )
        .execute(&mut conn)?)
    }
}

/// One audit event per session the sweeper ended (batched).
fn record_expiries(
    conn: &mut DbConnection,
    now: i64,
    ended: &[EndedSession],
) -> Result<(), StoreError> {
    if ended.is_empty() {
        return Ok(());
    }
    let user_ids: Vec<&str> = ended.iter().map(|e| e.user_id.as_str()).collect();
    let accounts: Vec<(String, String)> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::account_id))
        .load(conn)?;
    let details: Vec<String> = ended
        .iter()
        .map(|e| format!("sid={} reason={}", e.sid, e.reason.as_str()))
        .collect();
    let system = Actor::System;
    let events: Vec<AuditEvent<'_>> = ended
        .iter()
        .zip(&details)
        .map(|(e, detail)| {
            let ev = AuditEvent::new(AuditAction::SessionExpired, &system).detail(detail.as_str());
            match accounts.iter().find(|(u, _)| *u == e.user_id) {
                Some((u, a)) => ev.user(a, u),
                None => ev,
            }
        })
        .collect();
    audit::record_all(conn, now, &events)
}

fn insert_session(
    conn: &mut DbConnection,
    session: &SsoSession,
    secret: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(ss::table)
        .values((
            ss::id.eq(&session.id),
            ss::secret_hash.eq(hash_token(secret)),
            ss::user_id.eq(&session.user_id),
            ss::auth_time.eq(session.auth_time),
            ss::amr.eq(session.amr.join(" ")),
            ss::created_at.eq(session.created_at),
            ss::last_active_at.eq(session.last_active_at),
            ss::idle_timeout_secs.eq(session.idle_timeout_secs),
            ss::expires_at.eq(session.expires_at),
            ss::idle_expires_at.eq(session.idle_expires_at),
            ss::ip.eq(&session.ip),
            ss::user_agent.eq(&session.user_agent),
        ))
        .execute(conn)?;
    Ok(())
}

fn record_sign_in(
    conn: &mut DbConnection,
    now: i64,
    user: &crate::User,
    session: &SsoSession,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        now,
        &AuditEvent::new(AuditAction::SignInSucceeded, &Actor::User(user.id.clone()))
            .user(&user.account_id, &user.id)
            .ip(ip)
            .detail(format!("sid={} amr={}", session.id, session.amr.join(","))),
    )
}

/// Starts a session inside a caller's transaction (sign-in completion).
pub(crate) fn start_in(
    conn: &mut DbConnection,
    now: i64,
    user: &crate::User,
    session: &SsoSession,
    secret: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    insert_session(conn, session, secret)?;
    record_sign_in(conn, now, user, session, ip)
}
