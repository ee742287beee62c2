//! The durable outbox of back-channel logouts (OpenID Connect Back-Channel Logout 1.0): the
//! delivery bookkeeping the server's deliverer asks for.
//!
//! Invariants:
//! - A logout is queued in the same transaction that ends its session, one per (session, app)
//!   (see `store::sessions::end`): a crash never loses one, and no app is queued twice for a
//!   session.
//! - Any replica may deliver; a logout is *claimed* before delivery (a lease), so one replica
//!   sends it at a time. A replica that dies holding a claim loses it when the lease ends, and
//!   the logout is sent again (the crash counts as an attempt).
//! - Only the claim that holds a logout records its outcome: a replica whose round outlived its
//!   lease, and whose logouts another replica has claimed since, records nothing (its late
//!   "failed" cannot mark a delivered logout failed, nor its "delivered" end the new claim).
//! - Failures are retried with backoff ([`RETRY_DELAYS_SECS`]); after [`MAX_ATTEMPTS`] the
//!   logout is given up and an audit event says so.

use serde::Serialize;

use crate::model::{Actor, AuditAction, AuditEvent};
use crate::store::{audit, outbox, StoreError};
use crate::Idp;

pub use crate::store::outbox::PendingLogout;

/// Delays before the 2nd, 3rd, 4th and 5th attempts: five attempts over 220 s.
pub const RETRY_DELAYS_SECS: [i64; 4] = [10, 30, 60, 120];
/// Attempts before a logout is given up.
pub const MAX_ATTEMPTS: i32 = RETRY_DELAYS_SECS.len() as i32 + 1;
/// How long a claim keeps other replicas off a logout (well above one delivery's time-out).
pub const CLAIM_LEASE_SECS: i64 = 60;

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedAttempt {
    /// Tried again at this time.
    RetryAt(i64),
    /// That was the last attempt.
    GaveUp,
    /// Nothing recorded: the claim had run out and another replica has claimed the logout since
    /// (its attempt's outcome is the one that counts).
    TakenOver,
}

impl Idp {
    /// Is any logout due now? (A cheap read before a claim, which writes.)
    pub fn logouts_due(&self) -> Result<bool, StoreError> {
        let now = self.now();
        outbox::any_due(&mut *self.store().conn()?, now)
    }

    /// The apps with a logout to claim now, optionally only among those of the given sessions:
    /// each is delivered apart from the others (one app that never answers holds up only its
    /// own logouts).
    pub fn apps_with_due_logouts(
        &self,
        sessions: Option<&[String]>,
    ) -> Result<Vec<String>, StoreError> {
        let now = self.now();
        outbox::apps_due(&mut *self.store().conn()?, now, sessions)
    }

    /// Claims up to `limit` due logouts of the app `client_id` for delivery by this process,
    /// optionally only those of the given sessions (an operator command delivers what it just
    /// ended).
    pub fn claim_logouts(
        &self,
        client_id: &str,
        limit: i64,
        sessions: Option<&[String]>,
    ) -> Result<Vec<PendingLogout>, StoreError> {
        let now = self.now();
        self.store()
            .tx(|conn| outbox::claim(conn, now, client_id, limit, sessions, CLAIM_LEASE_SECS))
    }

    /// The apps acknowledged these claimed logouts (or have no back-channel endpoint: the note
    /// says so), recorded in one transaction; returns how many were recorded (the others had
    /// been claimed again by another replica).
    pub fn logouts_delivered(
        &self,
        done: &[(&PendingLogout, Option<&str>)],
    ) -> Result<usize, StoreError> {
        if done.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        self.store().tx(|conn| {
            done.iter().try_fold(0, |n, (logout, note)| {
                Ok(n + usize::from(outbox::delivered(conn, now, logout, *note)?))
            })
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
        let next = usize::try_from(logout.attempts - 1)
            .ok()
            .and_then(|i| RETRY_DELAYS_SECS.get(i))
            .filter(|_| logout.attempts < MAX_ATTEMPTS);
        self.store().tx(|conn| match next {
            Some(delay) => Ok(if outbox::retry_at(conn, logout, now + delay, &error)? {
                FailedAttempt::RetryAt(now + delay)
            } else {
                FailedAttempt::TakenOver
            }),
            None => {
                // The audit event only with the give-up itself: a replica that lost its claim
                // did not give up a logout another may have delivered.
                if !outbox::give_up(conn, now, logout, &error)? {
                    return Ok(FailedAttempt::TakenOver);
                }
                let system = Actor::System;
                let mut ev =
                    AuditEvent::new(AuditAction::LogoutDeliveryFailed, &system).detail(format!(
                        "client={} sid={} attempts={} error={error}",
                        logout.client_id, logout.session_id, logout.attempts
                    ));
                if let Some(a) = &logout.account_id {
                    ev = ev.user(a, &logout.user_id);
                }
                audit::record(conn, now, &ev)?;
                Ok(FailedAttempt::GaveUp)
            }
        })
    }

    /// Deletes delivered logouts after a day and given-up ones after a week (housekeeping).
    pub fn purge_outbox(&self) -> Result<usize, StoreError> {
        let now = self.now();
        outbox::purge(
            &mut *self.store().conn()?,
            now - 24 * 60 * 60,
            now - 7 * 24 * 60 * 60,
        )
    }

    /// Counts of the outbox by state: (pending, delivered, failed).
    #[cfg(any(test, feature = "testing"))]
    pub fn outbox_counts(&self) -> Result<(i64, i64, i64), StoreError> {
        outbox::counts(&mut *self.store().conn()?)
    }
}
