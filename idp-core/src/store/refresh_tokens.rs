//! The `refresh_tokens` table: each token is used once (rotation).

use diesel::prelude::*;

use super::schema::refresh_tokens as rt;
use super::{DbConnection, StoreError};

pub(crate) fn insert(
    conn: &mut DbConnection,
    now: i64,
    token_hash: &str,
    grant_id: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    crate::on_backend!(conn, |c| diesel::insert_into(rt::table)
        .values((
            rt::token_hash.eq(token_hash),
            rt::grant_id.eq(grant_id),
            rt::created_at.eq(now),
            rt::expires_at.eq(expires_at),
        ))
        .execute(c))?;
    Ok(())
}

/// A refresh token just claimed: its grant and expiry.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = rt)]
pub(crate) struct Claimed {
    pub(crate) grant_id: String,
    pub(crate) expires_at: i64,
}

/// Marks an unused token used and returns its grant and expiry (one statement); `None` if it is
/// unknown or was used before.
pub(crate) fn claim(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<Claimed>, StoreError> {
    Ok(crate::on_backend!(conn, |c| diesel::update(
        rt::table.find(token_hash).filter(rt::used_at.is_null())
    )
    .set(rt::used_at.eq(Some(now)))
    .returning(Claimed::as_returning())
    .get_result(c)
    .optional())?)
}

/// The grant of a token, used or not.
pub(crate) fn grant_of(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<String>, StoreError> {
    Ok(crate::on_backend!(conn, |c| rt::table
        .find(token_hash)
        .select(rt::grant_id)
        .get_result(c)
        .optional())?)
}

/// A refresh token that is still usable: never used and not expired at `now`.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = rt)]
pub(crate) struct Usable {
    pub(crate) grant_id: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

/// The token, if it is still usable (read only: introspection and revocation).
pub(crate) fn usable(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<Usable>, StoreError> {
    Ok(crate::on_backend!(conn, |c| rt::table
        .find(token_hash)
        .filter(rt::used_at.is_null())
        .filter(rt::expires_at.gt(now))
        .select(Usable::as_select())
        .get_result(c)
        .optional())?)
}
