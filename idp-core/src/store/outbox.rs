//! The `logout_outbox` table: one row per (ended session, app with a grant in it), queued in the
//! transaction that ends the session, claimed with a lease by whichever replica delivers it.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::logout_outbox as lo;
use super::{DbConnection, StoreError};
use crate::crypto::hash_token;
use crate::model::EndedSession;

/// A logout to deliver now.
#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = lo)]
pub struct PendingLogout {
    /// The row (one per session and app).
    pub id: String,
    /// The ended session (its `sid`).
    pub session_id: String,
    /// Whose it was (the token's `sub`).
    pub user_id: String,
    /// Their account (for the audit event of a final failure).
    pub account_id: Option<String>,
    /// The app to tell.
    pub client_id: String,
    /// Why the session ended (`EndReason`).
    pub reason: String,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
}

/// Queues one logout per app of each ended session (in the ending transaction). A session and
/// app already queued keep their row.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    now: i64,
    ended: &[EndedSession],
) -> Result<usize, StoreError> {
    let logouts: Vec<(&EndedSession, &String)> = ended
        .iter()
        .flat_map(|e| e.clients.iter().map(move |client| (e, client)))
        .collect();
    if logouts.is_empty() {
        return Ok(0);
    }
    // One row per (session, app): the id says which, so a second enqueue collides.
    let id = |e: &EndedSession, client: &str| hash_token(&format!("{}\0{client}", e.sid));
    match conn {
        // One statement whatever the count: a column per array, unnested by the server (a
        // multi-row VALUES of thousands of parameters costs more to parse than to insert).
        DbConnection::Postgres(c) => {
            use diesel::sql_types::{Array, BigInt, Nullable, Text};
            let column = |f: &dyn Fn(&EndedSession, &String) -> String| -> Vec<String> {
                logouts.iter().map(|(e, client)| f(e, client)).collect()
            };
            let accounts: Vec<Option<String>> =
                logouts.iter().map(|(e, _)| e.account_id.clone()).collect();
            Ok(diesel::sql_query(
                "INSERT INTO logout_outbox (id, session_id, user_id, account_id, client_id, reason, \
                 created_at, attempts, next_attempt_at) \
                 SELECT r.id, r.session_id, r.user_id, r.account_id, r.client_id, r.reason, $7, 0, $7 \
                 FROM unnest($1, $2, $3, $4, $5, $6) \
                 AS r(id, session_id, user_id, account_id, client_id, reason) \
                 ON CONFLICT (session_id, client_id) DO NOTHING",
            )
            .bind::<Array<Text>, _>(column(&|e, client| id(e, client)))
            .bind::<Array<Text>, _>(column(&|e, _| e.sid.clone()))
            .bind::<Array<Text>, _>(column(&|e, _| e.user_id.clone()))
            .bind::<Array<Nullable<Text>>, _>(accounts)
            .bind::<Array<Text>, _>(column(&|_, client| client.clone()))
            .bind::<Array<Text>, _>(column(&|e, _| e.reason.as_str().to_owned()))
            .bind::<BigInt, _>(now)
            .execute(c)?)
        }
        DbConnection::Sqlite(c) => {
            let rows: Vec<_> = logouts
                .iter()
                .map(|(e, client)| {
                    (
                        lo::id.eq(id(e, client)),
                        lo::session_id.eq(e.sid.as_str()),
                        lo::user_id.eq(e.user_id.as_str()),
                        lo::account_id.eq(e.account_id.as_deref()),
                        lo::client_id.eq(client.as_str()),
                        lo::reason.eq(e.reason.as_str()),
                        lo::created_at.eq(now),
                        lo::attempts.eq(0),
                        lo::next_attempt_at.eq(now),
                    )
                })
                .collect();
            let mut queued = 0;
            for chunk in rows.chunks(200) {
                queued += diesel::insert_into(lo::table)
                    .values(chunk)
                    .on_conflict((lo::session_id, lo::client_id))
                    .do_nothing()
                    .execute(c)?;
            }
            Ok(queued)
        }
    }
}

/// Rows that may be claimed at `now`. (A macro: the PostgreSQL variant adds a locking clause.)
macro_rules! claimable {
    ($now:expr) => {
        lo::delivered_at
            .is_null()
            .and(lo::failed_at.is_null())
            .and(lo::next_attempt_at.le($now))
            .and(lo::claimed_until.is_null().or(lo::claimed_until.le($now)))
    };
}

/// Whether a logout may be claimed now (a cheap read before a claim, which writes).
pub(crate) fn any_due(conn: &mut DbConnection, now: i64) -> Result<bool, StoreError> {
    let one: Option<String> = crate::on_backend!(conn, |c| lo::table
        .filter(claimable!(now))
        .select(lo::id)
        .first(c)
        .optional())?;
    Ok(one.is_some())
}

/// The apps that have a logout to claim now (optionally only among those of `sessions`): one
/// delivery lane each.
pub(crate) fn apps_due(
    conn: &mut DbConnection,
    now: i64,
    sessions: Option<&[String]>,
) -> Result<Vec<String>, StoreError> {
    Ok(match sessions {
        None => crate::on_backend!(conn, |c| lo::table
            .filter(claimable!(now))
            .select(lo::client_id)
            .distinct()
            .load(c))?,
        Some(s) => crate::on_backend!(conn, |c| lo::table
            .filter(lo::session_id.eq_any(s))
            .filter(claimable!(now))
            .select(lo::client_id)
            .distinct()
            .load(c))?,
    })
}

/// Claims up to `limit` due logouts of one app (optionally only those of `sessions`) for
/// `lease_secs`: counts the attempt and returns them. PostgreSQL skips rows another claimer has
/// locked; on both backends the conditional update decides.
pub(crate) fn claim(
    conn: &mut DbConnection,
    now: i64,
    app: &str,
    limit: i64,
    sessions: Option<&[String]>,
    lease_secs: i64,
) -> Result<Vec<PendingLogout>, StoreError> {
    let ids: Vec<String> = match (&mut *conn, sessions) {
        // By `logout_outbox_due_by_app`: the app's due rows in the order they fell due.
        (DbConnection::Postgres(c), None) => lo::table
            .filter(lo::client_id.eq(app))
            .filter(claimable!(now))
            .select(lo::id)
            .order(lo::next_attempt_at.asc())
            .limit(limit)
            .for_update()
            .skip_locked()
            .load(c)?,
        // The sessions' rows (one per app that listens) by the sessions' index, the claim
        // conditions read with them rather than searched by: with them in the filter, a
        // generic plan over stale statistics searched the due rows instead (2-4 ms with
        // 10,000 due, against 0.04 ms).
        (DbConnection::Postgres(c), Some(s)) => lo::table
            .filter(lo::session_id.eq_any(s))
            .filter(lo::client_id.eq(app))
            .select((lo::id, claimable!(now)))
            .limit(limit)
            .for_update()
            .skip_locked()
            .load::<(String, Option<bool>)>(c)?
            .into_iter()
            .filter_map(|(id, due)| (due == Some(true)).then_some(id))
            .collect(),
        (DbConnection::Sqlite(c), None) => lo::table
            .filter(lo::client_id.eq(app))
            .filter(claimable!(now))
            .select(lo::id)
            .order(lo::next_attempt_at.asc())
            .limit(limit)
            .load(c)?,
        (DbConnection::Sqlite(c), Some(s)) => lo::table
            .filter(claimable!(now))
            .filter(lo::client_id.eq(app))
            .filter(lo::session_id.eq_any(s))
            .select(lo::id)
            .limit(limit)
            .load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let claim = (
        lo::claimed_until.eq(Some(now + lease_secs)),
        lo::attempts.eq(lo::attempts + 1),
    );
    Ok(match conn {
        // The rows are locked by this transaction since the select: by their ids alone. (With
        // the conditions again, a plan cached while the table's statistics were still those of
        // an almost empty table scanned every due row through `logout_outbox_due` for each
        // claim: 8-11 ms per claim of 20 with 10,000 due, 0.4 ms by the primary key.)
        DbConnection::Postgres(c) => diesel::update(lo::table.filter(lo::id.eq_any(&ids)))
            .set(claim)
            .returning(PendingLogout::as_returning())
            .get_results(c)?,
        // No row locks: the same conditions again, so that a claimer that got in first (SQLite
        // serialises the writes) leaves nothing here.
        DbConnection::Sqlite(c) => diesel::update(
            lo::table
                .filter(lo::id.eq_any(&ids))
                .filter(claimable!(now)),
        )
        .set(claim)
        .returning(PendingLogout::as_returning())
        .get_results(c)?,
    })
}

/// The row as long as the claim that returned `logout` still holds it. A claim is known by the
/// attempt it counted: every claim increments `attempts`, so a row still at this claim's number
/// and not yet released has not been claimed again since (by a replica that found the lease run
/// out). An outcome recorded through it by a replica whose claim was taken over changes nothing.
///
/// "Neither delivered nor given up" is written as one `COALESCE`, not as the two `IS NULL` of the
/// due indexes' predicate: PostgreSQL's generic plan of the prepared statement (from its sixth
/// run), with the table's statistics still those of an empty outbox after a burst of 10,000
/// logouts, used a due index and filtered its 10,000 rows by id (2.5 ms a delivery, 20 s for a
/// sweeper pass's logouts); the row's own key is the only index that form can use.
macro_rules! held {
    ($logout:expr) => {
        lo::table
            .filter(lo::id.eq(&$logout.id))
            .filter(lo::attempts.eq($logout.attempts))
            .filter(lo::claimed_until.is_not_null())
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "COALESCE(logout_outbox.delivered_at, logout_outbox.failed_at) IS NULL",
            ))
    };
}

/// Marks a claimed logout delivered (`note`: why nothing was sent, if nothing was); false when
/// the claim no longer held it.
pub(crate) fn delivered(
    conn: &mut DbConnection,
    now: i64,
    logout: &PendingLogout,
    note: Option<&str>,
) -> Result<bool, StoreError> {
    let n = diesel::update(held!(logout))
        .set((
            lo::delivered_at.eq(Some(now)),
            lo::claimed_until.eq(None::<i64>),
            lo::last_error.eq(note),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Releases a claimed logout for another attempt at `at`; false when the claim no longer held
/// it.
pub(crate) fn retry_at(
    conn: &mut DbConnection,
    logout: &PendingLogout,
    at: i64,
    error: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(held!(logout))
        .set((
            lo::next_attempt_at.eq(at),
            lo::claimed_until.eq(None::<i64>),
            lo::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Gives a claimed logout up; false when the claim no longer held it.
pub(crate) fn give_up(
    conn: &mut DbConnection,
    now: i64,
    logout: &PendingLogout,
    error: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(held!(logout))
        .set((
            lo::failed_at.eq(Some(now)),
            lo::claimed_until.eq(None::<i64>),
            lo::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Deletes logouts delivered before `delivered_before` and given up before `failed_before`.
pub(crate) fn purge(
    conn: &mut DbConnection,
    delivered_before: i64,
    failed_before: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        lo::table.filter(
            lo::delivered_at
                .lt(delivered_before)
                .or(lo::failed_at.lt(failed_before)),
        ),
    )
    .execute(conn)?)
}

/// (pending, delivered, failed).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn counts(conn: &mut DbConnection) -> Result<(i64, i64, i64), StoreError> {
    let pending = lo::table
        .filter(lo::delivered_at.is_null().and(lo::failed_at.is_null()))
        .count()
        .get_result(conn)?;
    let delivered = lo::table
        .filter(lo::delivered_at.is_not_null())
        .count()
        .get_result(conn)?;
    let failed = lo::table
        .filter(lo::failed_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((pending, delivered, failed))
}
