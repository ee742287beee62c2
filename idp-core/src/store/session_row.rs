//! A session's row as read from `sso_sessions`, for the queries of every table that reads
//! sessions (sessions themselves, and grants with their session).

use diesel::prelude::*;

use super::schema::sso_sessions as ss;
use crate::model::SsoSession;

/// A session's row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ss)]
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    auth_time: i64,
    amr: String,
    created_at: i64,
    last_active_at: i64,
    idle_timeout_secs: i64,
    expires_at: i64,
    idle_expires_at: i64,
    ended_at: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRow> for SsoSession {
    fn from(r: SessionRow) -> Self {
        SsoSession {
            id: r.id,
            user_id: r.user_id,
            auth_time: r.auth_time,
            amr: r.amr.split_whitespace().map(str::to_string).collect(),
            created_at: r.created_at,
            last_active_at: r.last_active_at,
            idle_timeout_secs: r.idle_timeout_secs,
            expires_at: r.expires_at,
            idle_expires_at: r.idle_expires_at,
            ended_at: r.ended_at,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}
