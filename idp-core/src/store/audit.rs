//! The `audit_events` table. Events are written in the same transaction as the change they
//! describe, so the log never claims a change that was rolled back.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::audit_events;
use super::{DbConnection, StoreError};
use crate::model::AuditEvent;

/// A stored event, as `audit list` shows it.
#[derive(Debug, Clone, Queryable, Serialize)]
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
        ))
        .execute(conn)?;
    Ok(())
}

/// Records several events in one statement (the sweeper ends many sessions at once).
pub(crate) fn record_all(
    conn: &mut DbConnection,
    now: i64,
    events: &[AuditEvent<'_>],
) -> Result<(), StoreError> {
    let rendered: Vec<String> = events.iter().map(|ev| ev.actor.render()).collect();
    for (chunk, actors) in events.chunks(200).zip(rendered.chunks(200)) {
        let rows: Vec<_> = chunk
            .iter()
            .zip(actors)
            .map(|(ev, actor)| {
                (
                    audit_events::at.eq(now),
                    audit_events::action.eq(ev.action.as_str()),
                    audit_events::actor.eq(actor.as_str()),
                    audit_events::account_id.eq(ev.account_id),
                    audit_events::user_id.eq(ev.user_id),
                    audit_events::ip.eq(ev.ip),
                    audit_events::detail.eq(ev.detail.as_deref()),
                )
            })
            .collect();
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(audit_events::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// The newest events about a user, newest first.
pub(crate) fn for_user(
    conn: &mut DbConnection,
    user_id: &str,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::user_id.eq(user_id))
        .order(audit_events::id.desc())
        .limit(limit)
        .load(conn)?)
}

/// The newest events of any kind, newest first.
pub(crate) fn recent(conn: &mut DbConnection, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(audit_events::table
        .order(audit_events::id.desc())
        .limit(limit)
        .load(conn)?)
}
