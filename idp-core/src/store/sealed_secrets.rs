//! The `sealed_secrets` table: secrets of the provider itself (not of a user or a key), sealed
//! with the master key and bound to their name ([`aad`]). One today: the key of the import's
//! marks ([`IMPORT_MARKS`]). Each is made once, by whichever process needs it first.

use diesel::prelude::*;

use super::schema::sealed_secrets as ss;
use super::{DbConnection, StoreError};

/// The key the import's marks are MACs under (see `import::marks`).
pub(crate) const IMPORT_MARKS: &str = "import-marks";

/// Associated data binding a sealed secret to its name.
pub(crate) fn aad(name: &str) -> String {
    format!("sealed-secret:{name}")
}

/// A sealed secret and its name (for resealing).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = ss)]
pub(crate) struct Sealed {
    pub(crate) name: String,
    pub(crate) secret_sealed: String,
}

/// The sealed secret of that name, if one was made.
pub(crate) fn get(conn: &mut DbConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(ss::table
        .find(name)
        .select(ss::secret_sealed)
        .first(conn)
        .optional()?)
}

/// Stores `sealed` under `name` unless a secret of that name exists (another process made it
/// first: the caller reads back the one stored).
pub(crate) fn insert_if_absent(
    conn: &mut DbConnection,
    name: &str,
    sealed: &str,
    now: i64,
) -> Result<(), StoreError> {
    crate::on_backend!(conn, |c| diesel::insert_into(ss::table)
        .values((
            ss::name.eq(name),
            ss::secret_sealed.eq(sealed),
            ss::created_at.eq(now),
        ))
        .on_conflict(ss::name)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

pub(crate) fn all(conn: &mut DbConnection) -> Result<Vec<Sealed>, StoreError> {
    Ok(ss::table.select(Sealed::as_select()).load(conn)?)
}

/// Replaces a sealed secret if it is still `old`; how many rows changed (0 or 1).
pub(crate) fn reseal(
    conn: &mut DbConnection,
    name: &str,
    old: &str,
    new: &str,
) -> Result<usize, StoreError> {
    Ok(
        diesel::update(ss::table.find(name).filter(ss::secret_sealed.eq(old)))
            .set(ss::secret_sealed.eq(new))
            .execute(conn)?,
    )
}
