//! The one liveness rule of a session, as SQL (used by every query that reads a session to use
//! it: sessions, and grants through their session).

use diesel::prelude::*;

use super::schema::sso_sessions as ss;

/// The one liveness rule, as SQL: not ended, and inside its idle and absolute limits
/// (`idle_expires_at` is the smaller of the two).
pub(crate) fn live(
    now: i64,
) -> diesel::dsl::And<diesel::dsl::IsNull<ss::ended_at>, diesel::dsl::Gt<ss::idle_expires_at, i64>>
{
    ss::ended_at.is_null().and(ss::idle_expires_at.gt(now))
}
