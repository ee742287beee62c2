//! What a signed-in user does for themselves on `/account`: see where they are signed in (each
//! live session with its browser, address, times and the apps signed in through it), sign one
//! session out or every other one (each reaching its apps by back-channel logout), see their
//! authenticator app, and choose the language of their mails. Every call starts from the
//! browser's session cookie and the session rule (`gate`), so a stolen *ended* cookie does
//! nothing and nobody acts on another user's sessions.

use crate::crypto::hash_token;
use crate::mfa::STEP_SECS;
use crate::model::{
    Account, Actor, AuditAction, AuditEvent, EndReason, EndedSession, SsoSession, User,
};
use crate::store::{self, audit, sessions, StoreError};
use crate::Idp;

/// A live session as `/account` and the console show it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session.
    pub session: SsoSession,
    /// The apps signed in through it (client ids, sorted).
    pub clients: Vec<String>,
    /// It is the browser's own session (the one asking).
    pub current: bool,
}

/// A user's linked authenticator app, as shown (never its secret).
#[derive(Debug, Clone, Copy)]
pub struct Authenticator {
    /// When it was linked (`None` for an app brought by an import before that was recorded).
    pub linked_at: Option<i64>,
    /// When it last gave an accepted code (the start of that code's 30-second step).
    pub last_used_at: Option<i64>,
}

/// What `/account` shows.
#[derive(Debug, Clone)]
pub struct OwnAccount {
    /// The user.
    pub user: User,
    /// Their company.
    pub account: Account,
    /// Their live sessions, newest first, the browser's own marked.
    pub sessions: Vec<SessionView>,
    /// Their linked app, if any.
    pub authenticator: Option<Authenticator>,
}

/// The live sessions of a user with the apps of each, `current` marked.
pub(crate) fn sessions_with_apps(
    conn: &mut store::DbConnection,
    user_id: &str,
    now: i64,
    current: Option<&str>,
) -> Result<Vec<SessionView>, StoreError> {
    let live = sessions::live_of_user(conn, user_id, now)?;
    let ids: Vec<&str> = live.iter().map(|s| s.id.as_str()).collect();
    let holders = store::grants::holders(conn, &ids)?;
    Ok(live
        .into_iter()
        .map(|session| SessionView {
            clients: holders
                .iter()
                .filter(|(sid, _)| *sid == session.id)
                .map(|(_, client)| client.clone())
                .collect(),
            current: Some(session.id.as_str()) == current,
            session,
        })
        .collect())
}

/// A user's linked app, as shown.
pub(crate) fn authenticator_of(
    conn: &mut store::DbConnection,
    user_id: &str,
) -> Result<Option<Authenticator>, StoreError> {
    Ok(
        store::totp::app_times(conn, user_id)?.map(|(linked_at, step)| Authenticator {
            linked_at,
            last_used_at: step.map(|s| s * STEP_SECS as i64),
        }),
    )
}

impl Idp {
    /// What `/account` shows to the browser whose session cookie secret this is; `None` when it
    /// is not signed in (or the session rule refuses its session).
    pub fn own_account(&self, secret: &str) -> Result<Option<OwnAccount>, StoreError> {
        let Some((user, current)) = self.signed_in_user(secret)? else {
            return Ok(None);
        };
        let now = self.now();
        let conn = &mut *self.store().conn()?;
        let Some(account) = store::accounts::by_id(conn, &user.account_id)? else {
            return Ok(None);
        };
        let sessions = sessions_with_apps(conn, &user.id, now, Some(&current.id))?;
        let authenticator = authenticator_of(conn, &user.id)?;
        Ok(Some(OwnAccount {
            user,
            account,
            sessions,
            authenticator,
        }))
    }

    /// Signs out one of the user's own sessions (`sid`), or every session but the browser's own
    /// (`sid` = `None`), each with back-channel logout to its apps. `None` when the browser is
    /// not signed in; an `sid` that is not a live session of this user ends nothing.
    pub fn end_own_sessions(
        &self,
        secret: &str,
        sid: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Option<Vec<EndedSession>>, StoreError> {
        let Some((user, current)) = self.signed_in_user(secret)? else {
            return Ok(None);
        };
        let now = self.now();
        let listeners = self.logout_listeners();
        let actor = Actor::User(user.id.clone());
        let ended = self.store().tx(|conn| {
            // Still the browser's live session (a sign-out racing this one).
            if sessions::live_by_secret(conn, &hash_token(secret), now)?.is_none() {
                return Ok::<_, StoreError>(Vec::new());
            }
            let ended = match sid {
                Some(sid) => {
                    let mine = sessions::by_id(conn, sid)?
                        .is_some_and(|s| s.user_id == user.id && s.is_live(now));
                    if !mine {
                        return Ok(Vec::new());
                    }
                    sessions::end(conn, now, &[sid.to_string()], EndReason::Logout, &listeners)?
                }
                None => sessions::end_all_of_user(
                    conn,
                    now,
                    &user.id,
                    Some(&current.id),
                    EndReason::Logout,
                    &listeners,
                )?,
            };
            if !ended.is_empty() {
                let sids: Vec<&str> = ended.iter().map(|e| e.sid.as_str()).collect();
                audit::record(
                    conn,
                    now,
                    &AuditEvent::new(AuditAction::SessionEnded, &actor)
                        .user(&user.account_id, &user.id)
                        .ip(ip)
                        .detail(format!(
                            "by the user on /account: sid={} reason=logout",
                            sids.join(",")
                        )),
                )?;
            }
            Ok(ended)
        })?;
        Ok(Some(ended))
    }

    /// Sets the language of the signed-in user's mails (`None`: the provider's default).
    /// `false` when the browser is not signed in.
    pub fn set_own_locale(&self, secret: &str, locale: Option<&str>) -> Result<bool, StoreError> {
        let Some((user, _)) = self.signed_in_user(secret)? else {
            return Ok(false);
        };
        let now = self.now();
        self.store()
            .tx(|conn| store::users::set_locale(conn, &user.id, locale, now))?;
        Ok(true)
    }
}
