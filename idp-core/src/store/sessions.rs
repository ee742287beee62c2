//! The `sso_sessions` table. The one liveness rule ([`live`]) and the one way a session ends
//! ([`end`]): every caller that ends sessions, for whatever reason, comes through it.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

pub(crate) use super::live::live;
use super::live::{due as due_at, ended_before, slid_idle_expiry, unended_past};
use super::schema::{sso_sessions as ss, users};
use super::session_row::SessionRow;
use super::{grants, outbox, DbConnection, StoreError};
use crate::model::{AuthMethod, EndReason, EndedSession, LogoutListeners, SsoSession};

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| ss::table
        .find(id)
        .select(SessionRow::as_select())
        .get_result(c)
        .optional())?
    .map(SsoSession::from))
}

/// The live session whose cookie secret hashes to `secret_hash`.
pub(crate) fn live_by_secret(
    conn: &mut DbConnection,
    secret_hash: &str,
    now: i64,
) -> Result<Option<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| ss::table
        .filter(ss::secret_hash.eq(secret_hash))
        .filter(live(now))
        .select(SessionRow::as_select())
        .get_result(c)
        .optional())?
    .map(SsoSession::from))
}

/// The ids of the not-yet-ended sessions behind a cookie secret (a browser's session to end).
pub(crate) fn unended_by_secret(
    conn: &mut DbConnection,
    secret_hash: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(ss::table
        .filter(ss::secret_hash.eq(secret_hash))
        .filter(ss::ended_at.is_null())
        .select(ss::id)
        .load(conn)?)
}

pub(crate) fn insert(
    conn: &mut DbConnection,
    session: &SsoSession,
    secret_hash: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(ss::table)
        .values((
            ss::id.eq(&session.id),
            ss::secret_hash.eq(secret_hash),
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

/// Slides the idle expiry of a live session and returns it as it now is (one statement,
/// `RETURNING`); `None` if it has ended or expired.
pub(crate) fn touch(
    conn: &mut DbConnection,
    now: i64,
    id: &str,
) -> Result<Option<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| diesel::update(
        ss::table.find(id).filter(live(now)),
    )
    .set((
        ss::last_active_at.eq(now),
        ss::idle_expires_at.eq(slid_idle_expiry!(now)),
    ))
    .returning(SessionRow::as_returning())
    .get_result(c)
    .optional())?
    .map(SsoSession::from))
}

/// Ends those of `ids` that have not ended yet: marks them ended (the conditional update decides
/// between racing callers, on one replica or many), revokes their grants and queues a
/// back-channel logout per app that holds a grant in them and is one of `listeners`. Returns
/// what this call ended. Runs in the caller's transaction.
pub(crate) fn end(
    conn: &mut DbConnection,
    now: i64,
    ids: &[String],
    reason: EndReason,
    listeners: &LogoutListeners,
) -> Result<Vec<EndedSession>, StoreError> {
    let mut ended = Vec::new();
    for chunk in ids.chunks(500) {
        // Each ended session with its user's account, read in the same statement (the logout
        // and the audit event name the account).
        let account = diesel::dsl::sql::<Nullable<Text>>(
            "(SELECT users.account_id FROM users WHERE users.id = sso_sessions.user_id)",
        );
        let rows: Vec<(String, String, Option<String>)> =
            crate::on_backend!(&mut *conn, |c| diesel::update(
                ss::table
                    .filter(ss::id.eq_any(chunk))
                    .filter(ss::ended_at.is_null()),
            )
            .set((
                ss::ended_at.eq(Some(now)),
                ss::end_reason.eq(Some(reason.as_str())),
            ))
            .returning((ss::id, ss::user_id, account.clone()))
            .get_results(c))?;
        if rows.is_empty() {
            continue;
        }
        let sids: Vec<&str> = rows.iter().map(|(s, _, _)| s.as_str()).collect();
        grants::revoke_in_sessions(conn, now, &sids)?;
        let mut told: HashMap<String, Vec<String>> = HashMap::new();
        for (sid, client) in grants::holders(conn, &sids)? {
            if listeners.listens(&client) {
                told.entry(sid).or_default().push(client);
            }
        }
        for (sid, user_id, account_id) in rows {
            ended.push(EndedSession {
                clients: told.remove(&sid).unwrap_or_default(),
                account_id,
                sid,
                user_id,
                reason,
            });
        }
    }
    outbox::enqueue(conn, now, &ended)?;
    Ok(ended)
}

/// Ends every session of a user but `keep` (with back-channel logout) and, when the reason
/// says so ([`EndReason::cancels_sign_ins`]: a password set, a disconnected app, an operator's
/// revoke), cancels their sign-ins in progress, so that a sign-in begun before the change
/// cannot finish after it. Call it after the change that causes it, in the same transaction.
pub(crate) fn end_all_of_user(
    conn: &mut DbConnection,
    now: i64,
    user_id: &str,
    keep: Option<&str>,
    reason: EndReason,
    listeners: &LogoutListeners,
) -> Result<Vec<EndedSession>, StoreError> {
    // The user's row first: on PostgreSQL a session another transaction is starting for this
    // user (a password change's successor, a sign-in) would otherwise be invisible to the read
    // below and outlive this end (READ COMMITTED).
    super::users::hold(conn, user_id)?;
    if reason.cancels_sign_ins() {
        super::flows::cancel_of_user(conn, user_id)?;
    }
    let ids: Vec<String> = unended_of_user(conn, user_id)?
        .into_iter()
        .filter(|s| Some(s.as_str()) != keep)
        .collect();
    end(conn, now, &ids, reason, listeners)
}

/// The ids of a user's sessions that have not ended.
fn unended_of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(ss::table
        .filter(ss::user_id.eq(user_id))
        .filter(ss::ended_at.is_null())
        .select(ss::id)
        .load(conn)?)
}

/// Whose sessions [`unended_without_second_factor`] looks at.
pub(crate) enum Holders<'a> {
    /// Every user of this account (MFA turned on for it).
    Account(&'a str),
    /// This user (granted a role).
    User(&'a str),
}

/// The not-yet-ended sessions of `whose` whose sign-in passed no second factor (as `AuthMethod`
/// reads their `amr`).
pub(crate) fn unended_without_second_factor(
    conn: &mut DbConnection,
    whose: Holders<'_>,
) -> Result<Vec<String>, StoreError> {
    let unended: Vec<(String, String)> = match whose {
        Holders::Account(account_id) => ss::table
            .inner_join(users::table)
            .filter(users::account_id.eq(account_id))
            .filter(ss::ended_at.is_null())
            .select((ss::id, ss::amr))
            .load(conn)?,
        Holders::User(user_id) => ss::table
            .filter(ss::user_id.eq(user_id))
            .filter(ss::ended_at.is_null())
            .select((ss::id, ss::amr))
            .load(conn)?,
    };
    Ok(unended
        .into_iter()
        .filter(|(_, amr)| !AuthMethod::of_stored_amr(amr).passed_second_factor())
        .map(|(id, _)| id)
        .collect())
}

/// A session whose time is up.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = ss)]
pub(crate) struct Due {
    pub(crate) id: String,
    /// Its absolute end: passed, it ends for its lifetime rather than for idling.
    pub(crate) expires_at: i64,
}

/// Live-looking sessions whose time is up, oldest first. (A macro: the
/// PostgreSQL variant adds a locking clause that SQLite's query builder does not have.)
macro_rules! due {
    ($now:expr, $limit:expr) => {
        ss::table
            .filter(due_at($now))
            .select(Due::as_select())
            .order(ss::idle_expires_at.asc())
            .limit($limit)
    };
}

/// Up to `limit` sessions whose idle window or absolute lifetime passed, with their absolute
/// expiry. On PostgreSQL the rows are locked, and rows another sweeper locked are skipped
/// (`FOR UPDATE SKIP LOCKED`): replicas sweeping at once share the work instead of waiting.
pub(crate) fn due(conn: &mut DbConnection, now: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
    Ok(match conn {
        DbConnection::Postgres(c) => due!(now, limit).for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due!(now, limit).load(c)?,
    })
}

/// A user's live sessions, newest first.
pub(crate) fn live_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<SsoSession>, StoreError> {
    Ok(crate::on_backend!(conn, |c| ss::table
        .filter(ss::user_id.eq(user_id))
        .filter(live(now))
        .order(ss::created_at.desc())
        .select(SessionRow::as_select())
        .load(c))?
    .into_iter()
    .map(SsoSession::from)
    .collect())
}

/// Deletes sessions that ended or expired before `cutoff`, with their grants, codes and refresh
/// tokens (ON DELETE CASCADE).
pub(crate) fn purge(conn: &mut DbConnection, cutoff: i64) -> Result<usize, StoreError> {
    let ended = diesel::delete(ss::table.filter(ended_before(cutoff))).execute(conn)?;
    Ok(ended + diesel::delete(ss::table.filter(unended_past(cutoff))).execute(conn)?)
}
