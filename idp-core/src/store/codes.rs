//! The `authorization_codes` table: single-use codes, read with the user and account they were
//! issued for.

use diesel::prelude::*;

use super::schema::{accounts, authorization_codes as ac, users};
use super::users::UserWithAccount;
use super::{DbConnection, StoreError};
use crate::model::{Account, NewCode, User};

/// What a redemption checks a code against.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ac)]
pub(crate) struct CodeRow {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) session_id: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) expires_at: i64,
    /// The grant the first redemption created (a replay revokes it).
    pub(crate) grant_id: Option<String>,
}

pub(crate) fn insert(
    conn: &mut DbConnection,
    now: i64,
    code_hash: &str,
    new: &NewCode<'_>,
    expires_at: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(ac::table)
        .values((
            ac::code_hash.eq(code_hash),
            ac::client_id.eq(new.client_id),
            ac::redirect_uri.eq(new.redirect_uri),
            ac::session_id.eq(new.session_id),
            ac::user_id.eq(new.user_id),
            ac::scope.eq(new.scope),
            ac::nonce.eq(new.nonce),
            ac::code_challenge.eq(new.code_challenge),
            ac::created_at.eq(now),
            ac::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a code redeemed; false if it already was (or does not exist). The first statement of a
/// redemption: of two racing ones, exactly one gets true.
pub(crate) fn claim(
    conn: &mut DbConnection,
    code_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(ac::table.find(code_hash).filter(ac::redeemed_at.is_null()))
        .set(ac::redeemed_at.eq(Some(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// A code with the user (and account) it was issued for.
pub(crate) type CodeWithSubject = (CodeRow, (User, Account));

/// A code with its user and account (foreign keys with ON DELETE CASCADE: a code has both).
pub(crate) fn with_subject(
    conn: &mut DbConnection,
    code_hash: &str,
) -> Result<Option<CodeWithSubject>, StoreError> {
    let row: Option<(CodeRow, UserWithAccount)> = ac::table
        .inner_join(users::table.on(users::id.eq(ac::user_id)))
        .inner_join(accounts::table.on(accounts::id.eq(users::account_id)))
        .filter(ac::code_hash.eq(code_hash))
        .select((CodeRow::as_select(), UserWithAccount::as_select()))
        .get_result(conn)
        .optional()?;
    row.map(|(code, subject)| Ok((code, subject.into_pair()?)))
        .transpose()
}

pub(crate) fn set_grant(
    conn: &mut DbConnection,
    code_hash: &str,
    grant_id: &str,
) -> Result<(), StoreError> {
    diesel::update(ac::table.find(code_hash))
        .set(ac::grant_id.eq(Some(grant_id)))
        .execute(conn)?;
    Ok(())
}
