//! Attempt counters for brute-force defence and rate limits, kept in the database so every
//! replica sees them.
//!
//! Invariant: an attempt is *counted before it is checked*. [`Idp::reserve_attempts`] takes the
//! attempt in one atomic upsert before the password, code or secret is verified, so N parallel
//! guesses can never get more than the limit's number of checks: the attempt that reaches the
//! limit sets the lock in the same transaction, and every later one finds it and is refused
//! without being checked. A success gives its attempt back ([`Idp::refund_attempt`]) or forgets
//! the key's failures ([`Idp::throttle_clear`]).
//!
//! Two kinds of limits:
//! - [`LimitKind::Failures`]: `limit` attempts, then a lockout of `base * 2^(n - limit)` seconds
//!   (capped) after each further failure; the count starts again after `window` without a
//!   failure (the window slides from the *last* failure).
//! - [`LimitKind::Rate`]: `limit` attempts per fixed window starting at the first; then refused
//!   until the window ends.

use diesel::dsl::case_when;
use diesel::prelude::*;

use crate::store::schema::attempt_counters as ac;
use crate::store::{DbConnection, StoreError};
use crate::Idp;

/// What a key is counted for, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Failed guesses with exponential lockout.
    Failures {
        base_lockout_secs: i64,
        max_lockout_secs: i64,
    },
    /// A plain rate: so many per window.
    Rate,
}

/// One limit: how many attempts a key gets, over which window, and what happens after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts a key gets before it is locked.
    pub limit: i32,
    pub window_secs: i64,
    pub kind: LimitKind,
}

impl Limit {
    const fn failures(limit: i32) -> Self {
        Limit {
            limit,
            window_secs: 60 * 60,
            kind: LimitKind::Failures {
                base_lockout_secs: 30,
                max_lockout_secs: 15 * 60,
            },
        }
    }
    const fn rate(limit: i32, window_secs: i64) -> Self {
        Limit {
            limit,
            window_secs,
            kind: LimitKind::Rate,
        }
    }
}

/// Every limit the provider enforces, and its default.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Wrong passwords per authentication email (known or not), at sign-in and at password change.
    pub password_per_email: Limit,
    /// Wrong passwords per client address (many users may share one).
    pub password_per_ip: Limit,
    /// Wrong TOTP codes per user (enrollment confirmation and sign-in).
    pub totp_per_user: Limit,
    /// Failed client authentications at the token endpoint per client and address together, so
    /// a stranger cannot lock an app out of its own code exchanges.
    pub client_auth: Limit,
    /// Forgot-password requests per address (mailbox flooding).
    pub forgot_per_email: Limit,
    pub forgot_per_ip: Limit,
    /// Sign-ins started (login flows stored) per client address.
    pub login_flows_per_ip: Limit,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            password_per_email: Limit::failures(5),
            password_per_ip: Limit::failures(50),
            totp_per_user: Limit::failures(5),
            client_auth: Limit::failures(20),
            forgot_per_email: Limit::rate(3, 60 * 60),
            forgot_per_ip: Limit::rate(20, 60 * 60),
            login_flows_per_ip: Limit::rate(300, 10 * 60),
        }
    }
}

/// A key is locked until this Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until: i64,
}

/// Why an attempt was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many attempts; locked until {}", .0.until)]
    Locked(Locked),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ThrottleError {
    fn from(e: diesel::result::Error) -> Self {
        ThrottleError::Store(e.into())
    }
}

/// The names of the counters: what is counted, and for whom.
pub(crate) mod key {
    pub fn password(email: &str) -> String {
        format!("pwd:{email}")
    }
    pub fn password_ip(ip: &str) -> String {
        format!("ip:{ip}")
    }
    pub fn totp(user_id: &str) -> String {
        format!("totp:{user_id}")
    }
    pub fn client_auth(client_id: &str, ip: &str) -> String {
        format!("client-auth:{client_id}:{ip}")
    }
    pub fn forgot(email: &str) -> String {
        format!("forgot:{email}")
    }
    pub fn forgot_ip(ip: &str) -> String {
        format!("forgot-ip:{ip}")
    }
    pub fn login_flows_ip(ip: &str) -> String {
        format!("flows-ip:{ip}")
    }
}

/// Current state of one counter, for `user show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CounterState {
    pub key: String,
    pub failures: i32,
    pub locked_until: Option<i64>,
}

/// Takes one attempt for `key`, unless it is locked (then nothing is counted). One statement:
/// `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which on PostgreSQL locks the row until the
/// transaction ends, so the lock the limit-reaching attempt sets (in the same transaction) is
/// seen by every attempt after it.
fn reserve(
    conn: &mut DbConnection,
    now: i64,
    k: &str,
    l: &Limit,
) -> Result<Option<Locked>, ThrottleError> {
    let stale = now - l.window_secs;
    // The window slides from the last failure (failure counts) or is fixed from the first (rates).
    macro_rules! upsert {
        ($since:expr) => {{
            let locked = || ac::locked_until.gt(now);
            crate::on_backend!(&mut *conn, |c| diesel::insert_into(ac::table)
                .values((
                    ac::key.eq(k),
                    ac::failures.eq(1),
                    ac::window_started_at.eq(now),
                    ac::last_failure_at.eq(now),
                ))
                .on_conflict(ac::key)
                .do_update()
                .set((
                    ac::failures.eq(case_when(locked(), ac::failures)
                        .when($since.lt(stale), 1)
                        .otherwise(ac::failures + 1)),
                    ac::window_started_at.eq(case_when(locked(), ac::window_started_at)
                        .when($since.lt(stale), now)
                        .otherwise(ac::window_started_at)),
                    ac::last_failure_at.eq(case_when(locked(), ac::last_failure_at).otherwise(now)),
                ))
                .returning((ac::failures, ac::window_started_at, ac::locked_until))
                .get_result::<(i32, i64, Option<i64>)>(c))?
        }};
    }
    let (failures, started, locked_until) = match l.kind {
        LimitKind::Failures { .. } => upsert!(ac::last_failure_at),
        LimitKind::Rate => upsert!(ac::window_started_at),
    };
    // RETURNING gives the row as updated; a lock still in force was there before this attempt.
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return Err(ThrottleError::Locked(Locked { until }));
    }
    if failures >= l.limit {
        let until = match l.kind {
            LimitKind::Failures {
                base_lockout_secs,
                max_lockout_secs,
            } => {
                let exp = (failures - l.limit).clamp(0, 20) as u32;
                now + base_lockout_secs
                    .saturating_mul(1i64 << exp)
                    .min(max_lockout_secs)
            }
            LimitKind::Rate => started + l.window_secs,
        };
        diesel::update(ac::table.find(k))
            .set(ac::locked_until.eq(Some(until)))
            .execute(conn)?;
        return Ok(Some(Locked { until }));
    }
    Ok(None)
}

impl Idp {
    /// Takes one attempt on every key, in one transaction, before the guess is checked. If any
    /// key is locked nothing is counted and its lock is returned. `Ok(Some(lock))` when this
    /// attempt reached a limit: its key is now locked, unless the attempt succeeds and gives it
    /// back.
    pub(crate) fn reserve_attempts(
        &self,
        keys: &[(&str, &Limit)],
    ) -> Result<Option<Locked>, ThrottleError> {
        let now = self.now();
        self.store().tx(|conn| {
            let mut reached = None;
            for (k, l) in keys {
                if let Some(lock) = reserve(conn, now, k, l)? {
                    reached.get_or_insert(lock);
                }
            }
            Ok(reached)
        })
    }

    /// Gives back an attempt that succeeded (a key many people share, such as an address): the
    /// count goes down by one, and a lock that this attempt's reservation set is lifted.
    pub(crate) fn refund_attempt(
        &self,
        conn: &mut DbConnection,
        k: &str,
        l: &Limit,
    ) -> Result<(), StoreError> {
        diesel::update(ac::table.find(k).filter(ac::failures.gt(0)))
            .set((
                ac::failures.eq(ac::failures - 1),
                ac::locked_until
                    .eq(case_when(ac::failures.le(l.limit), None::<i64>)
                        .otherwise(ac::locked_until)),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Forgets the failures of a key (after a success, or by an operator).
    pub(crate) fn throttle_clear(
        &self,
        conn: &mut DbConnection,
        k: &str,
    ) -> Result<(), StoreError> {
        diesel::delete(ac::table.find(k)).execute(conn)?;
        Ok(())
    }

    /// The lock on a key right now, if any, without counting anything.
    pub(crate) fn lock_of(
        &self,
        conn: &mut DbConnection,
        k: &str,
    ) -> Result<Option<Locked>, StoreError> {
        let now = self.now();
        let until: Option<Option<i64>> = crate::on_backend!(conn, |c| ac::table
            .find(k)
            .select(ac::locked_until)
            .get_result(c)
            .optional())?;
        Ok(until
            .flatten()
            .filter(|u| *u > now)
            .map(|until| Locked { until }))
    }

    pub(crate) fn throttle_state(&self, k: &str) -> Result<Option<CounterState>, StoreError> {
        let mut conn = self.store().conn()?;
        let now = self.now();
        Ok(ac::table
            .find(k)
            .select((ac::key, ac::failures, ac::locked_until))
            .get_result::<(String, i32, Option<i64>)>(&mut conn)
            .optional()?
            .map(|(key, failures, until)| CounterState {
                key,
                failures,
                locked_until: until.filter(|u| *u > now),
            }))
    }

    /// Counters whose window has passed and that hold no lock say nothing any more: deleted
    /// (housekeeping), so the table holds only keys seen within the longest window.
    pub fn purge_attempt_counters(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let s = &self.settings().throttle;
        let longest = [
            s.password_per_email,
            s.password_per_ip,
            s.totp_per_user,
            s.client_auth,
            s.forgot_per_email,
            s.forgot_per_ip,
            s.login_flows_per_ip,
        ]
        .iter()
        .map(|l| l.window_secs)
        .max()
        .unwrap_or(0);
        let mut conn = self.store().conn()?;
        Ok(diesel::delete(
            ac::table
                .filter(ac::last_failure_at.lt(now - longest))
                .filter(ac::locked_until.is_null().or(ac::locked_until.le(now))),
        )
        .execute(&mut conn)?)
    }
}

/// Client authentication at the token endpoint. Client secrets are high-entropy, so the lockout
/// only keeps a guessing loop from costing work; it is keyed on the client *and* the address.
/// The secret is a SHA-256 digest compared in constant time by the server before it asks here:
/// a failure is counted atomically right after that comparison and that count decides the
/// answer, which is what reserving first would give, without a write on every good request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    /// Counted; the caller may try again (perhaps not for long).
    Counted,
    /// The client and address are locked out.
    Locked(Locked),
}

impl Idp {
    /// The lockout of a client at an address, if one holds (checked before a correct secret is
    /// accepted).
    pub fn client_auth_lock(
        &self,
        client_id: &str,
        ip: &str,
    ) -> Result<Option<Locked>, StoreError> {
        let mut conn = self.store().conn()?;
        self.lock_of(&mut conn, &key::client_auth(client_id, ip))
    }

    /// Counts a failed client authentication.
    pub fn client_auth_failed(
        &self,
        client_id: &str,
        ip: &str,
    ) -> Result<ClientAuthFailure, StoreError> {
        let k = key::client_auth(client_id, ip);
        match self.reserve_attempts(&[(&k, &self.settings().throttle.client_auth)]) {
            Ok(_) => Ok(ClientAuthFailure::Counted),
            Err(ThrottleError::Locked(l)) => Ok(ClientAuthFailure::Locked(l)),
            Err(ThrottleError::Store(e)) => Err(e),
        }
    }
}
