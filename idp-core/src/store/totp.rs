//! The `totp_credentials` table: each user's linked authenticator app (one at most), its secret
//! sealed with the master key and bound to the user ([`linked_aad`]).

use diesel::prelude::*;

use super::schema::totp_credentials as tc;
use super::{DbConnection, StoreError};

/// The binding of a linked app's sealed secret: its user.
pub(crate) fn linked_aad(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// A user's linked app, as stored.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tc)]
pub(crate) struct LinkedApp {
    /// The secret, sealed with the master key and bound to the user ([`linked_aad`]).
    pub(crate) secret_sealed: String,
    /// The step of the last code accepted (no code of it or an earlier step is accepted again).
    pub(crate) last_used_step: Option<i64>,
}

/// A sealed secret and whose it is (for resealing).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tc)]
pub(crate) struct SealedSecret {
    pub(crate) user_id: String,
    pub(crate) secret_sealed: String,
}

/// The linked app of a user.
pub(crate) fn linked(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<LinkedApp>, StoreError> {
    Ok(crate::on_backend!(conn, |c| tc::table
        .find(user_id)
        .filter(tc::linked.eq(true))
        .select(LinkedApp::as_select())
        .get_result(c)
        .optional())?)
}

/// When an app was linked, and the step of the last code it gave.
pub(crate) type AppTimes = (Option<i64>, Option<i64>);

/// When a user's app was linked and the step of the last code it gave (for `/account` and the
/// console: "linked since", "last used").
pub(crate) fn app_times(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<AppTimes>, StoreError> {
    Ok(tc::table
        .find(user_id)
        .filter(tc::linked.eq(true))
        .select((tc::linked_at, tc::last_used_step))
        .get_result(conn)
        .optional()?)
}

/// Which of these users have a linked app.
pub(crate) fn linked_among(
    conn: &mut DbConnection,
    user_ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    Ok(tc::table
        .filter(tc::user_id.eq_any(user_ids))
        .filter(tc::linked.eq(true))
        .select(tc::user_id)
        .load(conn)?)
}

/// Links an app with the step its confirmation code used (`None` for an app linked elsewhere
/// and imported). A unique violation means the user has one already (another sign-in linked
/// it first).
pub(crate) fn insert_linked(
    conn: &mut DbConnection,
    now: i64,
    user_id: &str,
    sealed: &str,
    step: Option<i64>,
) -> Result<(), StoreError> {
    diesel::insert_into(tc::table)
        .values((
            tc::user_id.eq(user_id),
            tc::secret_sealed.eq(sealed),
            tc::linked.eq(true),
            tc::last_used_step.eq(step),
            tc::created_at.eq(now),
            tc::linked_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Links imported apps (user id, sealed secret), a few hundred per statement.
pub(crate) fn insert_imported(
    conn: &mut DbConnection,
    now: i64,
    apps: &[(String, String)],
) -> Result<(), StoreError> {
    for chunk in apps.chunks(200) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(user_id, sealed)| {
                (
                    tc::user_id.eq(user_id),
                    tc::secret_sealed.eq(sealed),
                    tc::linked.eq(true),
                    tc::last_used_step.eq(None::<i64>),
                    tc::created_at.eq(now),
                    tc::linked_at.eq(Some(now)),
                )
            })
            .collect();
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(tc::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Moves the last used step forward to `step`; false if a code of this step or a later one was
/// used already (the database decides between racing requests).
pub(crate) fn use_step(
    conn: &mut DbConnection,
    user_id: &str,
    step: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        tc::table
            .find(user_id)
            .filter(tc::linked.eq(true))
            .filter(tc::last_used_step.is_null().or(tc::last_used_step.lt(step))),
    )
    .set(tc::last_used_step.eq(Some(step)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes the linked app; false if there was none.
pub(crate) fn delete(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(tc::table.find(user_id)).execute(conn)? == 1)
}

/// Every sealed secret.
pub(crate) fn all_sealed(conn: &mut DbConnection) -> Result<Vec<SealedSecret>, StoreError> {
    Ok(crate::on_backend!(conn, |c| tc::table
        .select(SealedSecret::as_select())
        .load(c))?)
}

/// Replaces a sealed secret if it is still `old`; how many rows changed (0 or 1).
pub(crate) fn reseal(
    conn: &mut DbConnection,
    user_id: &str,
    old: &str,
    new: &str,
) -> Result<usize, StoreError> {
    Ok(
        diesel::update(tc::table.find(user_id).filter(tc::secret_sealed.eq(old)))
            .set(tc::secret_sealed.eq(new))
            .execute(conn)?,
    )
}

/// The users of an account that have a linked app.
pub(crate) fn linked_in_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<String>, StoreError> {
    use super::schema::users as u;
    Ok(tc::table
        .inner_join(u::table.on(u::id.eq(tc::user_id)))
        .filter(u::account_id.eq(account_id))
        .filter(tc::linked.eq(true))
        .select(tc::user_id)
        .load(conn)?)
}
