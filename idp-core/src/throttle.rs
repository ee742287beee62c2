//! Attempt counters for brute-force defence, kept in the database so every replica sees them.
//!
//! After `free_failures` failures within the window, each further failure locks the key for
//! `base_lockout_secs * 2^(n - free_failures)` seconds, capped at `max_lockout_secs`. Keys name
//! what is counted: `pwd:<email>` (known or not, so the answer never reveals whether an email
//! exists), `totp:<user id>`, `ip:<address>`.

use diesel::prelude::*;

use crate::store::schema::attempt_counters as ac;
use crate::store::{DbConnection, StoreError};
use crate::Idp;

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures allowed per key before the first lockout.
    pub free_failures: i32,
    /// First lockout; doubles with each further failure.
    pub base_lockout_secs: i64,
    pub max_lockout_secs: i64,
    /// A key with no failure for this long starts again from zero.
    pub window_secs: i64,
    /// Failures allowed per client IP (many users may share one address).
    pub ip_free_failures: i32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            free_failures: 5,
            base_lockout_secs: 30,
            max_lockout_secs: 15 * 60,
            window_secs: 60 * 60,
            ip_free_failures: 50,
        }
    }
}

/// A key is locked until this Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until: i64,
}

pub(crate) fn password_key(email: &str) -> String {
    format!("pwd:{email}")
}
pub(crate) fn totp_key(user_id: &str) -> String {
    format!("totp:{user_id}")
}
pub(crate) fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Current state of one counter, for `user show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CounterState {
    pub key: String,
    pub failures: i32,
    pub locked_until: Option<i64>,
}

impl Idp {
    /// `Err(Locked)` while the key is locked.
    pub(crate) fn throttle_check(
        &self,
        conn: &mut DbConnection,
        key: &str,
    ) -> Result<Result<(), Locked>, StoreError> {
        let counter = self.throttle_counter(conn, key)?;
        Ok(self.throttle_lock(counter))
    }

    /// The key's failure counter: `None` when it has none (no failure since the last success),
    /// else the lock it holds, if any.
    pub(crate) fn throttle_counter(
        &self,
        conn: &mut DbConnection,
        key: &str,
    ) -> Result<Option<Option<i64>>, StoreError> {
        Ok(crate::on_backend!(conn, |c| ac::table
            .find(key)
            .select(ac::locked_until)
            .get_result(c)
            .optional())?)
    }

    /// `Err(Locked)` while a counter read by [`Idp::throttle_counter`] locks its key.
    pub(crate) fn throttle_lock(&self, counter: Option<Option<i64>>) -> Result<(), Locked> {
        match counter.flatten() {
            Some(until) if until > self.now() => Err(Locked { until }),
            _ => Ok(()),
        }
    }

    /// Counts one failure; returns the lock it caused, if any. The count is one atomic upsert
    /// (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`), so concurrent failures on the same key
    /// each count: with an update-then-insert, two first failures raced to insert the row and
    /// one of them failed on the primary key (a 500 on PostgreSQL, and an uncounted failure).
    pub(crate) fn throttle_fail(&self, key: &str, free: i32) -> Result<Option<Locked>, StoreError> {
        let now = self.now();
        let s = self.settings().throttle.clone();
        self.store().tx(|conn| {
            let (mut failures, started): (i32, i64) = crate::on_backend!(&mut *conn, |c| {
                diesel::insert_into(ac::table)
                    .values((
                        ac::key.eq(key),
                        ac::failures.eq(1),
                        ac::window_started_at.eq(now),
                        ac::last_failure_at.eq(now),
                    ))
                    .on_conflict(ac::key)
                    .do_update()
                    .set((
                        ac::failures.eq(ac::failures + 1),
                        ac::last_failure_at.eq(now),
                    ))
                    .returning((ac::failures, ac::window_started_at))
                    .get_result(c)
            })?;
            if now - started > s.window_secs && failures > 1 {
                // A quiet window has passed: this failure starts a new count.
                failures = 1;
                diesel::update(ac::table.find(key))
                    .set((
                        ac::failures.eq(1),
                        ac::window_started_at.eq(now),
                        ac::locked_until.eq(None::<i64>),
                    ))
                    .execute(conn)?;
            }
            if failures > free {
                let exp = (failures - free - 1).clamp(0, 20) as u32;
                let secs = s
                    .base_lockout_secs
                    .saturating_mul(1i64 << exp)
                    .min(s.max_lockout_secs);
                let until = now + secs;
                diesel::update(ac::table.find(key))
                    .set(ac::locked_until.eq(Some(until)))
                    .execute(conn)?;
                return Ok(Some(Locked { until }));
            }
            Ok(None)
        })
    }

    /// Forgets the failures of a key (after a success, or by an operator).
    pub(crate) fn throttle_clear(
        &self,
        conn: &mut DbConnection,
        key: &str,
    ) -> Result<(), StoreError> {
        diesel::delete(ac::table.find(key)).execute(conn)?;
        Ok(())
    }

    pub(crate) fn throttle_state(&self, key: &str) -> Result<Option<CounterState>, StoreError> {
        let mut conn = self.store().conn()?;
        let now = self.now();
        Ok(ac::table
            .find(key)
            .select((ac::key, ac::failures, ac::locked_until))
            .get_result::<(String, i32, Option<i64>)>(&mut conn)
            .optional()?
            .map(|(key, failures, until)| CounterState {
                key,
                failures,
                locked_until: until.filter(|u| *u > now),
            }))
    }
}

impl Idp {
    /// `Err(Locked)` while `key` is locked (for throttles kept by the server, e.g. client
    /// authentication at the token endpoint).
    pub fn attempts_allowed(&self, key: &str) -> Result<Result<(), Locked>, StoreError> {
        let mut conn = self.store().conn()?;
        self.throttle_check(&mut conn, key)
    }

    /// Counts one failure against `key`, locking it after `free` failures.
    pub fn attempt_failed(&self, key: &str, free: i32) -> Result<Option<Locked>, StoreError> {
        self.throttle_fail(key, free)
    }
}
