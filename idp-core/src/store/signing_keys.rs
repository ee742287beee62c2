//! The `signing_keys` table: token-signing keys, private halves sealed with the master key and
//! bound to their kid ([`aad`]), public halves as JWK JSON.

use diesel::prelude::*;

use super::schema::signing_keys as sk;
use super::{DbConnection, StoreError};

/// A stored signing key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sk)]
pub struct StoredKey {
    /// Key id (`kid`).
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// Sealed private key (see `SecretBox`), bound to the kid.
    pub private_sealed: String,
    /// The public key as a JWK (JSON).
    pub public_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Set when a newer key took over; the key stays published until its tokens have expired.
    pub retired_at: Option<i64>,
}

/// Associated data binding a sealed private key to its kid.
pub fn aad(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Newest first.
pub(crate) fn all(conn: &mut DbConnection) -> Result<Vec<StoredKey>, StoreError> {
    Ok(sk::table
        .order(sk::created_at.desc())
        .select(StoredKey::as_select())
        .load(conn)?)
}

/// Retires the current keys of an algorithm.
pub(crate) fn retire_current(
    conn: &mut DbConnection,
    alg: &str,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(
        sk::table
            .filter(sk::alg.eq(alg))
            .filter(sk::retired_at.is_null()),
    )
    .set(sk::retired_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

pub(crate) fn insert(conn: &mut DbConnection, key: &StoredKey) -> Result<(), StoreError> {
    diesel::insert_into(sk::table)
        .values((
            sk::kid.eq(&key.kid),
            sk::alg.eq(&key.alg),
            sk::private_sealed.eq(&key.private_sealed),
            sk::public_jwk.eq(&key.public_jwk),
            sk::created_at.eq(key.created_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes keys retired before `cutoff`.
pub(crate) fn drop_retired(conn: &mut DbConnection, cutoff: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(sk::table.filter(sk::retired_at.lt(cutoff))).execute(conn)?)
}

/// Replaces a sealed private key if it is still `old`.
pub(crate) fn reseal(
    conn: &mut DbConnection,
    kid: &str,
    old: &str,
    new: &str,
) -> Result<usize, StoreError> {
    Ok(
        diesel::update(sk::table.find(kid).filter(sk::private_sealed.eq(old)))
            .set(sk::private_sealed.eq(new))
            .execute(conn)?,
    )
}
