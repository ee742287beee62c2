//! The `audit_events` table. Events are written in the same transaction as the change they
//! describe, so the log never claims a change that was rolled back.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::audit_events;
use super::{DbConnection, StoreError};
use crate::model::AuditEvent;

/// A stored event, as `audit list` shows it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_events)]
pub struct StoredEvent {
    /// Increasing.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// What happened (`AuditAction::as_str`).
    pub action: String,
    /// Who (`Actor::render`).
    pub actor: String,
    /// The account concerned.
    pub account_id: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// Free text.
    pub detail: Option<String>,
    /// Who an admin client said it acted for (`X-Actor`), as it said it.
    pub actor_note: Option<String>,
    /// Why (the console's required reason, a disconnect's reason).
    pub reason: Option<String>,
}

/// Records one event (in the caller's transaction, with the change it describes).
pub(crate) fn record(
    conn: &mut DbConnection,
    now: i64,
    ev: &AuditEvent<'_>,
) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::at.eq(now),
            audit_events::action.eq(ev.action.as_str()),
            audit_events::actor.eq(ev.actor.render()),
            audit_events::account_id.eq(ev.account_id),
            audit_events::user_id.eq(ev.user_id),
            audit_events::ip.eq(ev.ip),
            audit_events::detail.eq(ev.detail.as_deref()),
            audit_events::actor_note.eq(ev.actor.note()),
            audit_events::reason.eq(ev.reason),
        ))
        .execute(conn)?;
    Ok(())
}

/// One `session.expired` event per session the sweeper just ended, written from what the
/// sweep already holds (user, account, reason), so the insert reads no other table.
pub(crate) fn record_expiries(
    conn: &mut DbConnection,
    now: i64,
    ended: &[crate::model::EndedSession],
) -> Result<usize, StoreError> {
    let action = crate::model::AuditAction::SessionExpired.as_str();
    let actor = crate::model::Actor::System.render();
    let detail =
        |e: &crate::model::EndedSession| format!("sid={} reason={}", e.sid, e.reason.as_str());
    match conn {
        // One statement whatever the count: a column per array, unnested by the server (a
        // multi-row VALUES of thousands of parameters costs more to parse than to insert).
        DbConnection::Postgres(c) => {
            use diesel::sql_types::{Array, BigInt, Nullable, Text};
            Ok(diesel::sql_query(
                "INSERT INTO audit_events (at, action, actor, account_id, user_id, detail) \
                 SELECT $1, $2, $3, r.account_id, r.user_id, r.detail \
                 FROM unnest($4, $5, $6) AS r(account_id, user_id, detail)",
            )
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(action)
            .bind::<Text, _>(actor)
            .bind::<Array<Nullable<Text>>, _>(
                ended
                    .iter()
                    .map(|e| e.account_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(ended.iter().map(|e| e.user_id.clone()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(ended.iter().map(detail).collect::<Vec<_>>())
            .execute(c)?)
        }
        DbConnection::Sqlite(c) => {
            let rows: Vec<_> = ended
                .iter()
                .map(|e| {
                    (
                        audit_events::at.eq(now),
                        audit_events::action.eq(action),
                        audit_events::actor.eq(actor.as_str()),
                        audit_events::account_id.eq(e.account_id.as_deref()),
                        audit_events::user_id.eq(Some(e.user_id.as_str())),
                        audit_events::detail.eq(Some(detail(e))),
                    )
                })
                .collect();
            let mut written = 0;
            for chunk in rows.chunks(1000) {
                written += diesel::insert_into(audit_events::table)
                    .values(chunk)
                    .execute(c)?;
            }
            Ok(written)
        }
    }
}

/// Which events a page of the log holds.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    /// Only events about this account (by id).
    pub account_id: Option<&'a str>,
    /// Only events about this user (by id).
    pub user_id: Option<&'a str>,
    /// Only events at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only events before this time (Unix seconds).
    pub until: Option<i64>,
    /// Only events older than this one (the cursor of the previous page).
    pub before_id: Option<i64>,
}

/// Up to `limit` events matching `filter`, newest first.
pub(crate) fn page(
    conn: &mut DbConnection,
    filter: &AuditFilter<'_>,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    crate::on_backend!(conn, |c| {
        let mut q = audit_events::table
            .select(StoredEvent::as_select())
            .order(audit_events::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(a) = filter.account_id {
            q = q.filter(audit_events::account_id.eq(a));
        }
        if let Some(u) = filter.user_id {
            q = q.filter(audit_events::user_id.eq(u));
        }
        if let Some(t) = filter.since {
            q = q.filter(audit_events::at.ge(t));
        }
        if let Some(t) = filter.until {
            q = q.filter(audit_events::at.lt(t));
        }
        if let Some(id) = filter.before_id {
            q = q.filter(audit_events::id.lt(id));
        }
        q.load(c)
    })
    .map_err(StoreError::from)
}
