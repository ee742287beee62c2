//! The `import_marks` table: what the last import brought for each user (digests of the
//! password hash string and of the TOTP secret), so that a line bringing the same again is no
//! change (see `Idp::import_users`).

use diesel::prelude::*;

use super::schema::import_marks as im;
use super::{DbConnection, StoreError};

/// What the last import brought for a user: the digests (`crypto::sha256_b64url`) of its
/// password hash and of its TOTP secret, where it brought one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = im)]
pub(crate) struct Mark {
    pub(crate) user_id: String,
    pub(crate) password_hash_sha256: Option<String>,
    pub(crate) totp_secret_sha256: Option<String>,
}

/// The marks of those of `user_ids` an import ever brought a credential, by user id (one
/// statement for a batch).
pub(crate) fn of_many(
    conn: &mut DbConnection,
    user_ids: &[&str],
) -> Result<std::collections::HashMap<String, Mark>, StoreError> {
    let marks: Vec<Mark> = crate::on_backend!(conn, |c| im::table
        .filter(im::user_id.eq_any(user_ids))
        .select(Mark::as_select())
        .load(c))?;
    Ok(marks.into_iter().map(|m| (m.user_id.clone(), m)).collect())
}

/// Records marks (new users), a few hundred per statement.
pub(crate) fn insert_many(conn: &mut DbConnection, marks: &[Mark]) -> Result<(), StoreError> {
    for chunk in marks.chunks(300) {
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(im::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Records a user's mark, replacing the one before.
pub(crate) fn put(conn: &mut DbConnection, mark: &Mark) -> Result<(), StoreError> {
    crate::on_backend!(&mut *conn, |c| diesel::insert_into(im::table)
        .values(mark)
        .on_conflict(im::user_id)
        .do_update()
        .set((
            im::password_hash_sha256.eq(&mark.password_hash_sha256),
            im::totp_secret_sha256.eq(&mark.totp_secret_sha256),
        ))
        .execute(c))?;
    Ok(())
}
