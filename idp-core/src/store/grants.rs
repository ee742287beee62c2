//! The `grants` table: one per app per session (a refresh-token family), read with the user and
//! account it belongs to.

use diesel::prelude::*;

use super::schema::{accounts, grants as g, sso_sessions as ss, users};
use super::session_row::SessionRow;
use super::users::UserWithAccount;
use super::{live::live, DbConnection, StoreError};
use crate::model::{Account, SsoSession, User};

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

/// Revokes a grant; false if it already was (or does not exist).
pub(crate) fn revoke(conn: &mut DbConnection, now: i64, id: &str) -> Result<bool, StoreError> {
    let n = diesel::update(g::table.find(id).filter(g::revoked_at.is_null()))
        .set(g::revoked_at.eq(Some(now)))
        .execute(conn)?;
    Ok(n > 0)
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

/// Revokes every live grant of one client to one user (a role taken back ends the console's).
pub(crate) fn revoke_of_client(
    conn: &mut DbConnection,
    now: i64,
    user_id: &str,
    client_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        g::table
            .filter(g::user_id.eq(user_id))
            .filter(g::client_id.eq(client_id))
            .filter(g::revoked_at.is_null()),
    )
    .set(g::revoked_at.eq(Some(now)))
    .execute(conn)?)
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

/// A grant that is not revoked, in a live session, with that session and its subject (one
/// query: introspection).
pub(crate) fn live_view(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
) -> Result<Option<(GrantRow, SsoSession, User, Account)>, StoreError> {
    let row: Option<(GrantRow, SessionRow, UserWithAccount)> =
        crate::on_backend!(conn, |c| g::table
            .inner_join(ss::table.inner_join(users::table.inner_join(accounts::table)))
            .filter(g::id.eq(id))
            .filter(g::revoked_at.is_null())
            .filter(live(now))
            .select((
                GrantRow::as_select(),
                SessionRow::as_select(),
                UserWithAccount::as_select()
            ))
            .get_result(c)
            .optional())?;
    row.map(|(grant, session, subject)| {
        let (user, account) = subject.into_pair()?;
        Ok((grant, SsoSession::from(session), user, account))
    })
    .transpose()
}

/// Whose a grant is.
#[derive(Queryable)]
pub(crate) struct GrantOwner {
    pub(crate) client_id: String,
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) account_id: String,
}

/// The client, session, user and account of a grant, if it exists.
pub(crate) fn owner(conn: &mut DbConnection, id: &str) -> Result<Option<GrantOwner>, StoreError> {
    Ok(g::table
        .inner_join(users::table.on(users::id.eq(g::user_id)))
        .filter(g::id.eq(id))
        .select((g::client_id, g::session_id, users::id, users::account_id))
        .get_result(conn)
        .optional()?)
}
