//! The durable outbox of back-channel logouts (OpenID Connect Back-Channel Logout 1.0).
//!
//! Invariants:
//! - A row is queued in the same transaction that ends its session ([`enqueue`]), one per
//!   (session, app): a crash never loses a logout, and the `UNIQUE (session_id, client_id)`
//!   constraint keeps an app from being queued twice for one session.
//! - Any replica may deliver; a row is *claimed* before delivery (a lease, by a conditional
//!   `UPDATE ... RETURNING`, PostgreSQL with `FOR UPDATE SKIP LOCKED`), so one replica sends it at
//!   a time. A replica that dies holding a claim loses it when the lease ends, and the row is
//!   sent again (the crash counts as an attempt).
//! - Failures are retried with backoff ([`RETRY_DELAYS_SECS`]); after [`MAX_ATTEMPTS`] the row is
//!   marked failed and an audit event says so.

use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::hash_token;
use crate::sessions::EndedSession;
use crate::store::schema::{logout_outbox as lo, users};
use crate::store::{DbConnection, StoreError};
use crate::Idp;

/// Delays before the 2nd, 3rd, 4th and 5th attempts: five attempts over 220 s.
pub const RETRY_DELAYS_SECS: [i64; 4] = [10, 30, 60, 120];
/// Attempts before a logout is given up.
pub const MAX_ATTEMPTS: i32 = RETRY_DELAYS_SECS.len() as i32 + 1;
/// How long a claim keeps other replicas off a row (well above one delivery's time-out).
pub const CLAIM_LEASE_SECS: i64 = 60;

/// A logout to deliver now.
#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = lo)]
pub struct PendingLogout {
    pub id: String,
    pub session_id: String,
    pub user_id: String,
    pub account_id: Option<String>,
    pub client_id: String,
    pub reason: String,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedAttempt {
    /// Tried again at this time.
    RetryAt(i64),
    /// That was the last attempt.
    GaveUp,
}

/// Queues one logout per app of each ended session (in the ending transaction).
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    now: i64,
    ended: &[EndedSession],
) -> Result<usize, StoreError> {
    let mut rows = Vec::new();
    let user_ids: Vec<&str> = ended
        .iter()
        .filter(|e| !e.clients.is_empty())
        .map(|e| e.user_id.as_str())
        .collect();
    if user_ids.is_empty() {
        return Ok(0);
    }
    let accounts: Vec<(String, String)> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::account_id))
        .load(conn)?;
    for e in ended {
        let account = accounts
            .iter()
            .find(|(u, _)| *u == e.user_id)
            .map(|(_, a)| a.clone());
        for client in &e.clients {
            rows.push((
                // One row per (session, app): the id says which, so a second enqueue collides.
                lo::id.eq(hash_token(&format!("{}\0{client}", e.sid))),
                lo::session_id.eq(e.sid.clone()),
                lo::user_id.eq(e.user_id.clone()),
                lo::account_id.eq(account.clone()),
                lo::client_id.eq(client.clone()),
                lo::reason.eq(e.reason.as_str()),
                lo::created_at.eq(now),
                lo::attempts.eq(0),
                lo::next_attempt_at.eq(now),
            ));
        }
    }
    let mut queued = 0;
    for chunk in rows.chunks(200) {
        queued += crate::on_backend!(&mut *conn, |c| diesel::insert_into(lo::table)
            .values(chunk)
            .on_conflict((lo::session_id, lo::client_id))
            .do_nothing()
            .execute(c))?;
    }
    Ok(queued)
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

impl Idp {
    /// Is any logout due now? (A cheap read before a claim, which writes.)
    pub fn logouts_due(&self) -> Result<bool, StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        let one: Option<String> = crate::on_backend!(&mut *conn, |c| lo::table
            .filter(claimable!(now))
            .select(lo::id)
            .first(c)
            .optional())?;
        Ok(one.is_some())
    }

    /// Claims up to `limit` due logouts for delivery by this process, optionally only those of
    /// the given sessions (an operator command delivers what it just ended).
    pub fn claim_logouts(
        &self,
        limit: i64,
        sessions: Option<&[String]>,
    ) -> Result<Vec<PendingLogout>, StoreError> {
        let now = self.now();
        self.store().tx(|conn| {
            let ids: Vec<String> = match (&mut *conn, sessions) {
                (DbConnection::Postgres(c), None) => lo::table
                    .filter(claimable!(now))
                    .select(lo::id)
                    .order(lo::next_attempt_at.asc())
                    .limit(limit)
                    .for_update()
                    .skip_locked()
                    .load(c)?,
                (DbConnection::Postgres(c), Some(s)) => lo::table
                    .filter(claimable!(now))
                    .filter(lo::session_id.eq_any(s))
                    .select(lo::id)
                    .limit(limit)
                    .for_update()
                    .skip_locked()
                    .load(c)?,
                (DbConnection::Sqlite(c), None) => lo::table
                    .filter(claimable!(now))
                    .select(lo::id)
                    .order(lo::next_attempt_at.asc())
                    .limit(limit)
                    .load(c)?,
                (DbConnection::Sqlite(c), Some(s)) => lo::table
                    .filter(claimable!(now))
                    .filter(lo::session_id.eq_any(s))
                    .select(lo::id)
                    .limit(limit)
                    .load(c)?,
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            // The same conditions again: another claimer that got in first leaves nothing here.
            Ok(crate::on_backend!(&mut *conn, |c| diesel::update(
                lo::table
                    .filter(lo::id.eq_any(&ids))
                    .filter(claimable!(now))
            )
            .set((
                lo::claimed_until.eq(Some(now + CLAIM_LEASE_SECS)),
                lo::attempts.eq(lo::attempts + 1),
            ))
            .returning(PendingLogout::as_returning())
            .get_results(c))?)
        })
    }

    /// The app acknowledged the logout (or has no back-channel endpoint: `note` says so).
    pub fn logout_delivered(&self, id: &str, note: Option<&str>) -> Result<(), StoreError> {
        let now = self.now();
        self.store().tx(|conn| {
            diesel::update(lo::table.find(id))
                .set((
                    lo::delivered_at.eq(Some(now)),
                    lo::claimed_until.eq(None::<i64>),
                    lo::last_error.eq(note),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// An attempt failed: schedule the next one, or give up (with an audit event) after the last.
    pub fn logout_failed(
        &self,
        logout: &PendingLogout,
        error: &str,
    ) -> Result<FailedAttempt, StoreError> {
        let now = self.now();
        let error: String = error.chars().take(300).collect();
        self.store().tx(|conn| {
            let next = usize::try_from(logout.attempts - 1)
                .ok()
                .and_then(|i| RETRY_DELAYS_SECS.get(i));
            let outcome = match next {
                Some(delay) if logout.attempts < MAX_ATTEMPTS => {
                    diesel::update(lo::table.find(&logout.id))
                        .set((
                            lo::next_attempt_at.eq(now + delay),
                            lo::claimed_until.eq(None::<i64>),
                            lo::last_error.eq(Some(&error)),
                        ))
                        .execute(conn)?;
                    FailedAttempt::RetryAt(now + delay)
                }
                _ => {
                    diesel::update(lo::table.find(&logout.id))
                        .set((
                            lo::failed_at.eq(Some(now)),
                            lo::claimed_until.eq(None::<i64>),
                            lo::last_error.eq(Some(&error)),
                        ))
                        .execute(conn)?;
                    let mut ev = AuditEvent::new(AuditAction::LogoutDeliveryFailed, &Actor::System)
                        .detail(format!(
                            "client={} sid={} attempts={} error={error}",
                            logout.client_id, logout.session_id, logout.attempts
                        ));
                    if let Some(a) = &logout.account_id {
                        ev = ev.user(a, &logout.user_id);
                    }
                    audit::record(conn, now, &ev)?;
                    FailedAttempt::GaveUp
                }
            };
            Ok(outcome)
        })
    }

    /// Deletes delivered logouts after a day and given-up ones after a week (housekeeping).
    pub fn purge_outbox(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        Ok(diesel::delete(
            lo::table.filter(
                lo::delivered_at
                    .lt(now - 24 * 60 * 60)
                    .or(lo::failed_at.lt(now - 7 * 24 * 60 * 60)),
            ),
        )
        .execute(&mut conn)?)
    }

    /// Counts of the outbox by state, for tests and the operator: (pending, delivered, failed).
    pub fn outbox_counts(&self) -> Result<(i64, i64, i64), StoreError> {
        let mut conn = self.store().conn()?;
        let pending = lo::table
            .filter(lo::delivered_at.is_null().and(lo::failed_at.is_null()))
            .count()
            .get_result(&mut conn)?;
        let delivered = lo::table
            .filter(lo::delivered_at.is_not_null())
            .count()
            .get_result(&mut conn)?;
        let failed = lo::table
            .filter(lo::failed_at.is_not_null())
            .count()
            .get_result(&mut conn)?;
        Ok((pending, delivered, failed))
    }
}
