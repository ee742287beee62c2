//! SSO sessions: one per browser sign-in, shared by every app the user reaches through it.
//!
//! A session ends after `idle_timeout` without activity (default 30 minutes), after its absolute
//! lifetime (default 12 hours), or when it is ended (logout, operator revoke, password reset).
//! Activity (an `/authorize` that reuses the session, a refresh) slides the idle expiry. The
//! cookie carries a 256-bit secret stored only as its hash; the public id (`sid`) is another value.

use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::{hash_token, random_id, random_token, CryptoError};
use crate::store::schema::{grants, sso_sessions as ss};
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
    pub ended_at: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl SsoSession {
    /// When the session ends if nothing happens: the `idle_exp` claim.
    pub fn idle_expires_at(&self) -> i64 {
        (self.last_active_at + self.idle_timeout_secs).min(self.expires_at)
    }
    pub fn is_active(&self, now: i64) -> bool {
        self.ended_at.is_none() && now < self.idle_expires_at()
    }
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|a| a == AMR_OTP)
    }
}

type SessionRow = (
    String,
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn select() -> (
    ss::id,
    ss::user_id,
    ss::auth_time,
    ss::amr,
    ss::created_at,
    ss::last_active_at,
    ss::idle_timeout_secs,
    ss::expires_at,
    ss::ended_at,
    ss::ip,
    ss::user_agent,
) {
    (
        ss::id,
        ss::user_id,
        ss::auth_time,
        ss::amr,
        ss::created_at,
        ss::last_active_at,
        ss::idle_timeout_secs,
        ss::expires_at,
        ss::ended_at,
        ss::ip,
        ss::user_agent,
    )
}

fn from_row(r: SessionRow) -> SsoSession {
    SsoSession {
        id: r.0,
        user_id: r.1,
        auth_time: r.2,
        amr: r.3.split_whitespace().map(str::to_string).collect(),
        created_at: r.4,
        last_active_at: r.5,
        idle_timeout_secs: r.6,
        expires_at: r.7,
        ended_at: r.8,
        ip: r.9,
        user_agent: r.10,
    }
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| ss::table
        .find(id)
        .select(select())
        .get_result::<SessionRow>(c)
        .optional())?
    .map(from_row))
}

/// Slides the idle expiry of an active session and returns it as it now is (one statement,
/// `RETURNING`); `None` if it has ended or expired.
pub(crate) fn touch(
    conn: &mut DbConnection,
    now: i64,
    id: &str,
) -> Result<Option<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| diesel::update(
        ss::table
            .find(id)
            .filter(ss::ended_at.is_null())
            .filter((ss::last_active_at + ss::idle_timeout_secs).gt(now))
            .filter(ss::expires_at.gt(now)),
    )
    .set(ss::last_active_at.eq(now))
    .returning(select())
    .get_result::<SessionRow>(c)
    .optional())?
    .map(from_row))
}

/// Ends one session and revokes every grant (refresh token family) made in it.
/// Returns the client ids that received tokens in it (for back-channel logout).
pub(crate) fn end(
    conn: &mut DbConnection,
    now: i64,
    id: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    let n = diesel::update(ss::table.find(id).filter(ss::ended_at.is_null()))
        .set(ss::ended_at.eq(Some(now)))
        .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    diesel::update(
        grants::table
            .filter(grants::session_id.eq(id))
            .filter(grants::revoked_at.is_null()),
    )
    .set(grants::revoked_at.eq(Some(now)))
    .execute(conn)?;
    let mut clients: Vec<String> = grants::table
        .filter(grants::session_id.eq(id))
        .select(grants::client_id)
        .distinct()
        .load(conn)?;
    clients.sort();
    Ok(Some(clients))
}

/// Ends every live session of a user; returns (sid, clients) for each session ended.
pub(crate) fn end_all_for_user(
    conn: &mut DbConnection,
    now: i64,
    user_id: &str,
) -> Result<Vec<EndedSession>, StoreError> {
    let ids: Vec<String> = ss::table
        .filter(ss::user_id.eq(user_id))
        .filter(ss::ended_at.is_null())
        .select(ss::id)
        .load(conn)?;
    let mut ended = Vec::new();
    for sid in ids {
        if let Some(clients) = end(conn, now, &sid)? {
            ended.push(EndedSession {
                sid,
                user_id: user_id.to_string(),
                clients,
            });
        }
    }
    Ok(ended)
}

/// A session that was just ended, with the apps to notify by back-channel logout.
#[derive(Debug, Clone, Serialize)]
pub struct EndedSession {
    pub sid: String,
    pub user_id: String,
    pub clients: Vec<String>,
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
        let now = self.now();
        let s = &self.settings().sessions;
        let secret = random_token()?;
        let session = SsoSession {
            id: random_id()?,
            user_id: user.id.clone(),
            auth_time: now,
            amr: amr.iter().map(|a| a.to_string()).collect(),
            created_at: now,
            last_active_at: now,
            idle_timeout_secs: s.idle_timeout_secs,
            expires_at: now + s.max_lifetime_secs,
            ended_at: None,
            ip: ip.map(str::to_string),
            user_agent: user_agent.map(|u| u.chars().take(300).collect()),
        };
        self.store().tx(|conn| {
            diesel::insert_into(ss::table)
                .values((
                    ss::id.eq(&session.id),
                    ss::secret_hash.eq(hash_token(&secret)),
                    ss::user_id.eq(&session.user_id),
                    ss::auth_time.eq(session.auth_time),
                    ss::amr.eq(session.amr.join(" ")),
                    ss::created_at.eq(now),
                    ss::last_active_at.eq(now),
                    ss::idle_timeout_secs.eq(session.idle_timeout_secs),
                    ss::expires_at.eq(session.expires_at),
                    ss::ip.eq(&session.ip),
                    ss::user_agent.eq(&session.user_agent),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::SignInSucceeded, &Actor::User(user.id.clone()))
                    .user(&user.account_id, &user.id)
                    .ip(ip)
                    .detail(format!("sid={} amr={}", session.id, session.amr.join(","))),
            )?;
            Ok::<_, SessionError>(())
        })?;
        Ok((session, secret))
    }

    /// The live session behind a cookie secret, without sliding it.
    pub fn session_by_secret(&self, secret: &str) -> Result<Option<SsoSession>, StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        Ok(ss::table
            .filter(ss::secret_hash.eq(hash_token(secret)))
            .select(select())
            .get_result::<SessionRow>(&mut conn)
            .optional()?
            .map(from_row)
            .filter(|s| s.is_active(now)))
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
        let now = self.now();
        self.store().tx(|conn| {
            let Some(session) = by_id(conn, sid)? else {
                return Ok(None);
            };
            let Some(clients) = end(conn, now, sid)? else {
                return Ok(None);
            };
            let user = crate::users::by_id(conn, &session.user_id)?;
            let mut ev = AuditEvent::new(AuditAction::SessionEnded, actor)
                .ip(ip)
                .detail(format!("sid={sid}"));
            if let Some(u) = &user {
                ev = ev.user(&u.account_id, &u.id);
            }
            audit::record(conn, now, &ev)?;
            Ok(Some(EndedSession {
                sid: sid.to_string(),
                user_id: session.user_id,
                clients,
            }))
        })
    }

    /// Ends every session of a user (operator revoke, password reset, disable).
    pub fn end_user_sessions(
        &self,
        user: &crate::User,
        actor: &Actor,
        except_sid: Option<&str>,
    ) -> Result<Vec<EndedSession>, StoreError> {
        let now = self.now();
        self.store().tx(|conn| {
            let ids: Vec<String> = ss::table
                .filter(ss::user_id.eq(&user.id))
                .filter(ss::ended_at.is_null())
                .select(ss::id)
                .load(conn)?;
            let mut ended = Vec::new();
            for sid in ids.into_iter().filter(|s| Some(s.as_str()) != except_sid) {
                if let Some(clients) = end(conn, now, &sid)? {
                    ended.push(EndedSession {
                        sid,
                        user_id: user.id.clone(),
                        clients,
                    });
                }
            }
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

    /// The user's sessions that are still live, newest first.
    pub fn live_sessions(&self, user_id: &str) -> Result<Vec<SsoSession>, StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        Ok(ss::table
            .filter(ss::user_id.eq(user_id))
            .filter(ss::ended_at.is_null())
            .order(ss::created_at.desc())
            .select(select())
            .load::<SessionRow>(&mut conn)?
            .into_iter()
            .map(from_row)
            .filter(|s| s.is_active(now))
            .collect())
    }

    /// Deletes sessions (with their grants and tokens) that ended or expired more than a day ago.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let cutoff = self.now() - 24 * 60 * 60;
        let mut conn = self.store().conn()?;
        // Grants, codes and refresh tokens go with their session (ON DELETE CASCADE).
        Ok(diesel::delete(
            ss::table.filter(
                ss::ended_at
                    .lt(cutoff)
                    .or(ss::expires_at.lt(cutoff))
                    .or((ss::last_active_at + ss::idle_timeout_secs).lt(cutoff)),
            ),
        )
        .execute(&mut conn)?)
    }
}
