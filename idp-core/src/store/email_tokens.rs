//! The `email_tokens` table: single-use links sent by email, stored as hashes.

use diesel::prelude::*;

use super::schema::email_tokens as et;
use super::{DbConnection, StoreError};
use crate::model::Purpose;

pub(crate) fn insert(
    conn: &mut DbConnection,
    now: i64,
    token_hash: &str,
    user_id: &str,
    purpose: Purpose,
) -> Result<(), StoreError> {
    diesel::insert_into(et::table)
        .values((
            et::token_hash.eq(token_hash),
            et::user_id.eq(user_id),
            et::purpose.eq(purpose.as_str()),
            et::created_at.eq(now),
            et::expires_at.eq(now + purpose.ttl_secs()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user of a live (unused, unexpired) token of this purpose.
pub(crate) fn peek(
    conn: &mut DbConnection,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<String>, StoreError> {
    Ok(et::table
        .find(token_hash)
        .filter(et::purpose.eq(purpose.as_str()))
        .filter(et::used_at.is_null())
        .filter(et::expires_at.gt(now))
        .select(et::user_id)
        .get_result(conn)
        .optional()?)
}

/// Uses a live token up, and every other unused token of the same user and purpose with it;
/// its user, or `None` if it was not live.
pub(crate) fn consume(
    conn: &mut DbConnection,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let user_id: Option<String> = crate::on_backend!(&mut *conn, |c| diesel::update(
        et::table
            .find(token_hash)
            .filter(et::purpose.eq(purpose.as_str()))
            .filter(et::used_at.is_null())
            .filter(et::expires_at.gt(now)),
    )
    .set(et::used_at.eq(Some(now)))
    .returning(et::user_id)
    .get_result(c)
    .optional())?;
    if let Some(user) = &user_id {
        revoke(conn, user, purpose, now)?;
    }
    Ok(user_id)
}

/// Ends every unused token of a user for this purpose (a password changed another way ends the
/// reset links still out).
pub(crate) fn revoke(
    conn: &mut DbConnection,
    user_id: &str,
    purpose: Purpose,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(
        et::table
            .filter(et::user_id.eq(user_id))
            .filter(et::purpose.eq(purpose.as_str()))
            .filter(et::used_at.is_null()),
    )
    .set(et::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Deletes tokens used or expired before `cutoff`.
pub(crate) fn purge(conn: &mut DbConnection, cutoff: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(et::table.filter(et::used_at.lt(cutoff).or(et::expires_at.lt(cutoff))))
            .execute(conn)?,
    )
}
