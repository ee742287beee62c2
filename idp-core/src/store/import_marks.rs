//! The `import_marks` table: what the last import brought for each user (a keyed MAC of the
//! password hash string and of the TOTP secret: see `import::marks`), so that a line bringing
//! the same again is no change (see `Idp::import_users`).

use diesel::prelude::*;

use super::schema::import_marks as im;
use super::{DbConnection, StoreError};

/// What the last import brought for a user: the marks of its password hash and of its TOTP
/// secret, where it brought one (`import::marks`; an earlier version wrote bare SHA-256
/// digests, which still count until rewritten).
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = im)]
pub(crate) struct Mark {
    pub(crate) user_id: String,
    pub(crate) password_hash_mark: Option<String>,
    pub(crate) totp_secret_mark: Option<String>,
}

/// The marks holding a value that does not start with `prefix` (the form this version writes).
pub(crate) fn not_in_form(conn: &mut DbConnection, prefix: &str) -> Result<Vec<Mark>, StoreError> {
    let like = format!("{prefix}%");
    Ok(im::table
        .filter(
            im::password_hash_mark
                .not_like(&like)
                .or(im::totp_secret_mark.not_like(&like)),
        )
        .select(Mark::as_select())
        .load(conn)?)
}

/// Writes `new`'s values over `old`'s, each only where the row still holds `old`'s (an import
/// running meanwhile may have written a newer mark).
pub(crate) fn rewrite(conn: &mut DbConnection, old: &Mark, new: &Mark) -> Result<(), StoreError> {
    if let (Some(was), true) = (
        &old.password_hash_mark,
        old.password_hash_mark != new.password_hash_mark,
    ) {
        diesel::update(
            im::table
                .find(&old.user_id)
                .filter(im::password_hash_mark.eq(was)),
        )
        .set(im::password_hash_mark.eq(&new.password_hash_mark))
        .execute(conn)?;
    }
    if let (Some(was), true) = (
        &old.totp_secret_mark,
        old.totp_secret_mark != new.totp_secret_mark,
    ) {
        diesel::update(
            im::table
                .find(&old.user_id)
                .filter(im::totp_secret_mark.eq(was)),
        )
        .set(im::totp_secret_mark.eq(&new.totp_secret_mark))
        .execute(conn)?;
    }
    Ok(())
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
            im::password_hash_mark.eq(&mark.password_hash_mark),
            im::totp_secret_mark.eq(&mark.totp_secret_mark),
        ))
        .execute(c))?;
    Ok(())
}
