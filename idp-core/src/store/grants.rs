//! The `grants` table: one per app per session (a refresh-token family), read with the user and
//! account it belongs to.

use diesel::prelude::*;

use super::schema::{accounts, grants as g, sso_sessions as ss, users};
use super::users::UserWithAccount;
use super::{live::live, DbConnection, StoreError};
use crate::model::{Account, User};

/// What a refresh needs of its grant.
#[derive(Queryable, Selectable)]
#[diesel(table_name = g)]
pub(crate) struct GrantRow {
    pub(crate) session_id: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) revoked_at: Option<i64>,
}

pub(crate) fn insert(
    conn: &mut DbConnection,
    now: i64,
    id: &str,
    session_id: &str,
    user_id: &str,
    client_id: &str,
    scope: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(g::table)
        .values((
            g::id.eq(id),
            g::session_id.eq(session_id),
            g::user_id.eq(user_id),
            g::client_id.eq(client_id),
            g::scope.eq(scope),
            g::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn revoke(conn: &mut DbConnection, now: i64, id: &str) -> Result<(), StoreError> {
    diesel::update(g::table.find(id).filter(g::revoked_at.is_null()))
        .set(g::revoked_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn revoke_in_sessions(
    conn: &mut DbConnection,
    now: i64,
    session_ids: &[&str],
) -> Result<(), StoreError> {
    diesel::update(
        g::table
            .filter(g::session_id.eq_any(session_ids))
            .filter(g::revoked_at.is_null()),
    )
    .set(g::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// The apps that hold a grant in these sessions: (session id, client id), each pair once, sorted.
pub(crate) fn holders(
    conn: &mut DbConnection,
    session_ids: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut rows: Vec<(String, String)> = g::table
        .filter(g::session_id.eq_any(session_ids))
        .select((g::session_id, g::client_id))
        .distinct()
        .load(conn)?;
    rows.sort();
    Ok(rows)
}

/// A grant with its user and account (foreign keys with ON DELETE CASCADE: a grant always has
/// both).
pub(crate) fn with_subject(
    conn: &mut DbConnection,
    id: &str,
) -> Result<(GrantRow, (User, Account)), StoreError> {
    let (grant, subject): (GrantRow, UserWithAccount) = crate::on_backend!(conn, |c| g::table
        .inner_join(users::table.on(users::id.eq(g::user_id)))
        .inner_join(accounts::table.on(accounts::id.eq(users::account_id)))
        .filter(g::id.eq(id))
        .select((GrantRow::as_select(), UserWithAccount::as_select()))
        .get_result(c))?;
    Ok((grant, subject.into_pair()?))
}

/// The user, account, session id and session `amr` behind a grant that is not revoked, in a live session
/// (one query: the `/userinfo` path).
pub(crate) fn live_subject(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
) -> Result<Option<(User, Account, String, String)>, StoreError> {
    let row: Option<(UserWithAccount, String, String)> = crate::on_backend!(conn, |c| g::table
        .inner_join(ss::table.inner_join(users::table.inner_join(accounts::table)))
        .filter(g::id.eq(id))
        .filter(g::revoked_at.is_null())
        .filter(live(now))
        .select((UserWithAccount::as_select(), ss::id, ss::amr))
        .get_result(c)
        .optional())?;
    row.map(|(subject, sid, amr)| {
        let (user, account) = subject.into_pair()?;
        Ok((user, account, sid, amr))
    })
    .transpose()
}
