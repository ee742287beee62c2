//! The rules of a session's life (`model::session`: `SsoSession::is_live`, `idle_deadline`)
//! written in SQL, once, for every query that reads, slides, sweeps or purges sessions (sessions,
//! and grants through their session). `tests/sessions.rs` checks that both forms agree.

use diesel::dsl::{And, Gt, IsNull, LtEq};
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

/// Ended, or past its deadline, before `cutoff`: what the purge deletes.
pub(crate) fn gone_before(
    cutoff: i64,
) -> diesel::dsl::Or<diesel::dsl::Lt<ss::ended_at, i64>, diesel::dsl::Lt<ss::idle_expires_at, i64>>
{
    ss::ended_at.lt(cutoff).or(ss::idle_expires_at.lt(cutoff))
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
