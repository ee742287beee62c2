//! The rules of a session's life (`model::session`: `SsoSession::is_live`, `idle_deadline`)
//! written in SQL, once, for every query that reads, slides, sweeps or purges sessions (sessions,
//! and grants through their session). `tests/sessions.rs` checks that both forms agree.

use diesel::dsl::{And, Gt, IsNull, Lt, LtEq};
use diesel::prelude::*;

use super::schema::sso_sessions as ss;

/// Live at `now`: not ended, and before `idle_expires_at` (the smaller of the idle and the
/// absolute deadline).
pub(crate) fn live(now: i64) -> And<IsNull<ss::ended_at>, Gt<ss::idle_expires_at, i64>> {
    ss::ended_at.is_null().and(ss::idle_expires_at.gt(now))
}

/// Not ended, yet past its deadline at `now`: what the sweeper ends.
pub(crate) fn due(now: i64) -> And<IsNull<ss::ended_at>, LtEq<ss::idle_expires_at, i64>> {
    ss::ended_at.is_null().and(ss::idle_expires_at.le(now))
}

/// Ended before `cutoff`: what the purge deletes, with `unended_past(cutoff)` (two statements,
/// because one `OR` of both could use neither partial index: `sso_sessions_ended_at` serves this
/// one, `sso_sessions_live_by_expiry` the other).
pub(crate) fn ended_before(cutoff: i64) -> Lt<ss::ended_at, i64> {
    ss::ended_at.lt(cutoff)
}

/// Never ended, yet past its deadline before `cutoff` (a session the sweeper has not reached).
pub(crate) fn unended_past(cutoff: i64) -> And<IsNull<ss::ended_at>, Lt<ss::idle_expires_at, i64>> {
    ss::ended_at.is_null().and(ss::idle_expires_at.lt(cutoff))
}

/// `idle_deadline(now, idle_timeout_secs, expires_at)` per row: the new `idle_expires_at` of a
/// session active at `now`. (A macro: the CASE expression's type is not worth spelling out.)
macro_rules! slid_idle_expiry {
    ($now:expr) => {
        diesel::dsl::case_when(
            (ss::idle_timeout_secs + $now).lt(ss::expires_at),
            ss::idle_timeout_secs + $now,
        )
        .otherwise(ss::expires_at)
    };
}
pub(crate) use slid_idle_expiry;
