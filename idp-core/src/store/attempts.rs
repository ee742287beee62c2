//! The `attempt_counters` table: brute-force defence and rate limits, in the database so every
//! replica sees them.
//!
//! Invariant: an attempt is *counted before it is checked*. [`reserve`] takes the attempt in one
//! atomic upsert before the password, code or secret is verified, so N parallel guesses can
//! never get more than the limit's number of checks: the attempt that reaches the limit sets
//! the lock in the same transaction, and every later one finds it and is refused without being
//! checked. A success gives its attempt back ([`refund`]) or forgets the key's failures
//! ([`clear`]).
//!
//! Two kinds of limits ([`LimitKind`]):
//! - `Failures`: `limit` attempts, then a lockout of `base * 2^(n - limit)` seconds (capped)
//!   after each further failure; the count starts again after `window` without a failure (the
//!   window slides from the *last* failure).
//! - `Rate`: `limit` attempts per fixed window starting at the first; then refused until the
//!   window ends.

use diesel::dsl::case_when;
use diesel::prelude::*;

use super::schema::attempt_counters as ac;
use super::{DbConnection, Store, StoreError};
use crate::model::PASSWORD_AT_PREFIX;
use crate::model::{Counter, CounterState, Limit, LimitKind, Locked, ThrottleSettings};

/// What [`reserve`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reserved {
    /// The attempt is counted on every counter.
    Taken(Taken),
    /// A key is locked: nothing was counted.
    Refused(Locked),
}

/// A counted attempt: the lock it set on each counter (in the order given to [`reserve`]) when
/// it reached that counter's limit. The key stays locked unless the attempt succeeds and gives
/// it back ([`refund`] with that lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taken(Vec<Option<Locked>>);

impl Taken {
    /// The first lock this attempt set, if it reached any limit.
    pub(crate) fn reached(&self) -> Option<Locked> {
        self.0.iter().flatten().next().copied()
    }

    /// The lock this attempt set on the `i`-th counter.
    pub(crate) fn set_on(&self, i: usize) -> Option<Locked> {
        self.0.get(i).copied().flatten()
    }
}

/// A reservation that must roll its transaction back.
enum Abort {
    Locked(Locked),
    Store(StoreError),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Store(e.into())
    }
}

/// Takes one attempt on every counter, in one transaction, before the guess is checked. If any
/// counter is locked nothing is counted.
pub(crate) fn reserve(
    store: &Store,
    now: i64,
    settings: &ThrottleSettings,
    counters: &[Counter<'_>],
) -> Result<Reserved, StoreError> {
    let result = store.tx(|conn| {
        let mut set = Vec::with_capacity(counters.len());
        for c in counters {
            set.push(reserve_one(conn, now, c, c.limit(settings))?);
        }
        Ok::<_, Abort>(set)
    });
    match result {
        Ok(set) => Ok(Reserved::Taken(Taken(set))),
        Err(Abort::Locked(l)) => Ok(Reserved::Refused(l)),
        Err(Abort::Store(e)) => Err(e),
    }
}

/// A counter as the attempt just left it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = ac)]
struct Counted {
    failures: i32,
    window_started_at: i64,
    locked_until: Option<i64>,
}

/// One key's attempt: one statement (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which on
/// PostgreSQL locks the row until the transaction ends, so the lock the limit-reaching attempt
/// sets in the same transaction is seen by every attempt after it).
fn reserve_one(
    conn: &mut DbConnection,
    now: i64,
    counter: &Counter<'_>,
    l: &Limit,
) -> Result<Option<Locked>, Abort> {
    let key = counter.key();
    let k = key.as_str();
    let stale = now - l.window_secs;
    // The window slides from the last failure (failure counts) or is fixed from the first
    // (rates). `$last`: the failure time the attempt leaves (a shared key's moves only when its
    // count starts again; a confirmed failure stamps it, see [`failed`]).
    macro_rules! upsert {
        ($since:expr, $last:expr) => {{
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
                    ac::last_failure_at.eq($last),
                ))
                .returning(Counted::as_returning())
                .get_result(c))?
        }};
    }
    let Counted {
        failures,
        window_started_at: started,
        locked_until,
    } = match l.kind {
        LimitKind::Failures { .. } if counter.is_shared() => upsert!(
            ac::last_failure_at,
            case_when(ac::locked_until.gt(now), ac::last_failure_at)
                .when(ac::last_failure_at.lt(stale), now)
                .otherwise(ac::last_failure_at)
        ),
        LimitKind::Failures { .. } => upsert!(
            ac::last_failure_at,
            case_when(ac::locked_until.gt(now), ac::last_failure_at).otherwise(now)
        ),
        LimitKind::Rate => upsert!(
            ac::window_started_at,
            case_when(ac::locked_until.gt(now), ac::last_failure_at).otherwise(now)
        ),
    };
    // RETURNING gives the row as updated; a lock still in force was there before this attempt.
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return Err(Abort::Locked(Locked { until }));
    }
    if failures < l.limit {
        return Ok(None);
    }
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
    Ok(Some(Locked { until }))
}

/// Gives back an attempt that succeeded on a shared key ([`Counter::is_shared`]): the count
/// goes down by one and the lock this attempt's reservation set (`set`, from
/// [`Taken::set_on`]) is lifted; a lock a real failure set meanwhile is a different moment and
/// stays. The failure time is untouched: the reservation never moved it.
pub(crate) fn refund(
    conn: &mut DbConnection,
    counter: &Counter<'_>,
    set: Option<Locked>,
) -> Result<(), StoreError> {
    let target = ac::table.find(counter.key()).filter(ac::failures.gt(0));
    let failures = ac::failures.eq(ac::failures - 1);
    match set {
        Some(Locked { until }) => diesel::update(target)
            .set((
                failures,
                ac::locked_until
                    .eq(case_when(ac::locked_until.eq(until), None::<i64>)
                        .otherwise(ac::locked_until)),
            ))
            .execute(conn)?,
        None => diesel::update(target).set(failures).execute(conn)?,
    };
    Ok(())
}

/// A failure on a shared key is confirmed: its window slides from now.
pub(crate) fn failed(
    conn: &mut DbConnection,
    counter: &Counter<'_>,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(ac::table.find(counter.key()))
        .set(ac::last_failure_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Forgets the failures of a counter (after a success, or by an operator).
pub(crate) fn clear(conn: &mut DbConnection, counter: &Counter<'_>) -> Result<(), StoreError> {
    diesel::delete(ac::table.find(counter.key())).execute(conn)?;
    Ok(())
}

/// Forgets every password failure counted for an email: from anywhere ([`Counter::Password`])
/// and at each address ([`Counter::PasswordAt`]) (a password set, an operator's unlock). The
/// keys at each address are found by their ending: a scan of this small, purged table, on these
/// rare occasions only.
pub(crate) fn clear_password_failures(
    conn: &mut DbConnection,
    email: &str,
) -> Result<(), StoreError> {
    clear(conn, &Counter::Password(email))?;
    let mut pattern = format!("{PASSWORD_AT_PREFIX}%|");
    for c in email.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    // An address never holds `|`: the key's one `|` is the one before the email (`%` could
    // otherwise span an email that itself holds `|`, and clear another email's locks).
    let two_bars = format!(
        "{PASSWORD_AT_PREFIX}%|%|{}",
        &pattern[PASSWORD_AT_PREFIX.len() + 2..]
    );
    diesel::delete(
        ac::table
            .filter(ac::key.like(&pattern).escape('\\'))
            .filter(ac::key.not_like(two_bars).escape('\\')),
    )
    .execute(conn)?;
    Ok(())
}

/// The lock on a key right now, if any, without counting anything.
pub(crate) fn lock_of(
    conn: &mut DbConnection,
    counter: &Counter<'_>,
    now: i64,
) -> Result<Option<Locked>, StoreError> {
    let k = counter.key();
    let until: Option<i64> = crate::on_backend!(conn, |c| ac::table
        .find(&k)
        .filter(ac::locked_until.gt(now))
        .select(ac::locked_until.assume_not_null())
        .get_result(c)
        .optional())?;
    Ok(until.map(|until| Locked { until }))
}

/// A counter as an operator sees it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = ac)]
struct StateRow {
    key: String,
    failures: i32,
    locked_until: Option<i64>,
}

/// A counter's state (a lock shown only while in force).
pub(crate) fn state(
    conn: &mut DbConnection,
    counter: &Counter<'_>,
    now: i64,
) -> Result<Option<CounterState>, StoreError> {
    let k = counter.key();
    let row: Option<StateRow> = crate::on_backend!(conn, |c| ac::table
        .find(&k)
        .select(StateRow::as_select())
        .get_result(c)
        .optional())?;
    Ok(row.map(|r| CounterState {
        key: r.key,
        failures: r.failures,
        locked_until: r.locked_until.filter(|u| *u > now),
    }))
}

/// Deletes counters with no failure since `before` and no lock in force.
pub(crate) fn purge(conn: &mut DbConnection, before: i64, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        ac::table
            .filter(ac::last_failure_at.lt(before))
            .filter(ac::locked_until.is_null().or(ac::locked_until.le(now))),
    )
    .execute(conn)?)
}
