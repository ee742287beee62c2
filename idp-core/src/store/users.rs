//! The `users` table, and users read with their account (the account holds the MFA policy).

use diesel::prelude::*;

use super::accounts::AccountRow;
use super::schema::{accounts, users as u};
use super::{DbConnection, StoreError};
use crate::model::{Account, User, UserStatus};

/// A user's row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = u)]
pub(crate) struct UserRow {
    id: String,
    account_id: String,
    email: String,
    work_email: Option<String>,
    display_name: String,
    status: String,
    email_verified: bool,
    password_hash: Option<String>,
    password_changed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    roles: String,
    locale: Option<String>,
    last_sign_in_at: Option<i64>,
    relink_by_email: bool,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let status = UserStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Corrupt(format!("user {}: status {:?}", self.id, self.status))
        })?;
        let roles = crate::model::Roles::from_stored(&self.roles).ok_or_else(|| {
            StoreError::Corrupt(format!("user {}: roles {:?}", self.id, self.roles))
        })?;
        Ok(User {
            roles,
            locale: self.locale,
            last_sign_in_at: self.last_sign_in_at,
            relink_by_email: self.relink_by_email,
            id: self.id,
            account_id: self.account_id,
            email: self.email,
            work_email: self.work_email,
            display_name: self.display_name,
            status,
            email_verified: self.email_verified,
            password_hash: self.password_hash,
            password_changed_at: self.password_changed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A user and their account, read by one join (`users` ⋈ `accounts`, which every query that
/// needs the MFA policy uses).
#[derive(Queryable, Selectable)]
pub(crate) struct UserWithAccount {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(embed)]
    account: AccountRow,
}

impl UserWithAccount {
    pub(crate) fn into_pair(self) -> Result<(User, Account), StoreError> {
        Ok((self.user.into_user()?, self.account.into_account()?))
    }
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<User>, StoreError> {
    crate::on_backend!(conn, |c| u::table
        .find(id)
        .select(UserRow::as_select())
        .get_result(c)
        .optional())?
    .map(UserRow::into_user)
    .transpose()
}

/// By normalised authentication email.
pub(crate) fn by_email(conn: &mut DbConnection, email: &str) -> Result<Option<User>, StoreError> {
    u::table
        .filter(u::email.eq(email))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()?
        .map(UserRow::into_user)
        .transpose()
}

pub(crate) fn with_account(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(User, Account)>, StoreError> {
    crate::on_backend!(conn, |c| u::table
        .inner_join(accounts::table)
        .filter(u::id.eq(id))
        .select(UserWithAccount::as_select())
        .get_result(c)
        .optional())?
    .map(UserWithAccount::into_pair)
    .transpose()
}

pub(crate) fn insert(conn: &mut DbConnection, user: &User) -> Result<(), StoreError> {
    insert_many(conn, std::slice::from_ref(user))
}

/// Inserts users, a few hundred per statement (an import).
pub(crate) fn insert_many(conn: &mut DbConnection, users: &[User]) -> Result<(), StoreError> {
    for chunk in users.chunks(200) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|user| {
                (
                    u::id.eq(&user.id),
                    u::account_id.eq(&user.account_id),
                    u::email.eq(&user.email),
                    u::work_email.eq(&user.work_email),
                    u::display_name.eq(&user.display_name),
                    u::status.eq(user.status.as_str()),
                    u::email_verified.eq(user.email_verified),
                    u::password_hash.eq(&user.password_hash),
                    u::password_changed_at.eq(user.password_changed_at),
                    u::created_at.eq(user.created_at),
                    u::updated_at.eq(user.updated_at),
                )
            })
            .collect();
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(u::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// The users among these (normalised) emails, by email.
pub(crate) fn by_emails(
    conn: &mut DbConnection,
    emails: &[&str],
) -> Result<std::collections::HashMap<String, User>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in emails.chunks(500) {
        let rows: Vec<UserRow> = crate::on_backend!(conn, |c| u::table
            .filter(u::email.eq_any(chunk))
            .select(UserRow::as_select())
            .load(c))?;
        for row in rows {
            let user = row.into_user()?;
            found.insert(user.email.clone(), user);
        }
    }
    Ok(found)
}

/// An imported user's new details (`--update`): everything but the id, the email and the
/// account; only while the row is still as `old` was read (its status, password hash and last
/// change), so a password set or a disable since the import read it is never overwritten.
pub(crate) fn replace_details(
    conn: &mut DbConnection,
    user: &User,
    old: &User,
    now: i64,
) -> Result<bool, StoreError> {
    let unchanged = u::table
        .find(&user.id)
        .filter(u::status.eq(old.status.as_str()))
        .filter(u::updated_at.eq(old.updated_at));
    let n = match &old.password_hash {
        Some(h) => diesel::update(unchanged.filter(u::password_hash.eq(h)))
            .set(details(user, now))
            .execute(conn)?,
        None => diesel::update(unchanged.filter(u::password_hash.is_null()))
            .set(details(user, now))
            .execute(conn)?,
    };
    Ok(n == 1)
}

type Details<'a> = (
    diesel::dsl::Eq<u::work_email, &'a Option<String>>,
    diesel::dsl::Eq<u::display_name, &'a String>,
    diesel::dsl::Eq<u::status, &'static str>,
    diesel::dsl::Eq<u::email_verified, bool>,
    diesel::dsl::Eq<u::password_hash, &'a Option<String>>,
    diesel::dsl::Eq<u::password_changed_at, Option<i64>>,
    diesel::dsl::Eq<u::updated_at, i64>,
);

fn details(user: &User, now: i64) -> Details<'_> {
    (
        u::work_email.eq(&user.work_email),
        u::display_name.eq(&user.display_name),
        u::status.eq(user.status.as_str()),
        u::email_verified.eq(user.email_verified),
        u::password_hash.eq(&user.password_hash),
        u::password_changed_at.eq(user.password_changed_at),
        u::updated_at.eq(now),
    )
}

pub(crate) fn list_in_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<User>, StoreError> {
    u::table
        .filter(u::account_id.eq(account_id))
        .order(u::email.asc())
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(UserRow::into_user)
        .collect()
}

pub(crate) fn count_in_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<i64, StoreError> {
    Ok(u::table
        .filter(u::account_id.eq(account_id))
        .count()
        .get_result(conn)?)
}

/// Moves a user from one status to another; false if it was not in `from` any more.
pub(crate) fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: UserStatus,
    to: UserStatus,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(u::table.find(id).filter(u::status.eq(from.as_str())))
        .set((u::status.eq(to.as_str()), u::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// A new password (hash) set now.
pub(crate) fn set_password(
    conn: &mut DbConnection,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(u::table.find(id))
        .set((
            u::password_hash.eq(Some(hash)),
            u::password_changed_at.eq(Some(now)),
            u::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Holds the user's row for the rest of the transaction if their password hash is still `hash`
/// (the one a sign-in checked); false once it was replaced. A password set at the same moment
/// waits for this transaction to end (and then ends what it started), or this one waits for it
/// and sees the new hash: a sign-in never completes on a password replaced before it did.
pub(crate) fn hold_if_password(
    conn: &mut DbConnection,
    id: &str,
    hash: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(u::table.find(id).filter(u::password_hash.eq(hash)))
        .set(u::password_hash.eq(hash))
        .execute(conn)?;
    Ok(n == 1)
}

/// Holds the user's row until the transaction ends (a no-op write): whatever else holds it (a
/// password change starting its successor session, a sign-in completing) commits before this
/// transaction reads the user's sessions, or waits for it.
pub(crate) fn hold(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(u::table.find(id))
        .set(u::updated_at.eq(u::updated_at))
        .execute(conn)?;
    Ok(())
}

/// [`hold_if_password`] for a user as read when their password was checked (none: nothing to
/// hold to).
pub(crate) fn hold_checked(conn: &mut DbConnection, user: &User) -> Result<bool, StoreError> {
    match user.password_hash.as_deref() {
        Some(hash) => hold_if_password(conn, &user.id, hash),
        None => Ok(false),
    }
}

/// The same password under new hashing parameters (not a password change).
/// Replaces a hash that just verified (`old`: older parameters, or an imported format) with a
/// fresh one of the same password; nothing if the password changed meanwhile.
pub(crate) fn rehash(
    conn: &mut DbConnection,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(u::table.find(id).filter(u::password_hash.eq(old)))
        .set(u::password_hash.eq(Some(new)))
        .execute(conn)?;
    Ok(n == 1)
}

/// The email verified and the user active (registration completed), unless disabled.
pub(crate) fn activate(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(
        u::table
            .find(id)
            .filter(u::status.ne(UserStatus::Disabled.as_str())),
    )
    .set((
        u::status.eq(UserStatus::Active.as_str()),
        u::email_verified.eq(true),
        u::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

pub(crate) fn mark_email_verified(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(u::table.find(id))
        .set(u::email_verified.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Which users a page holds (see `Idp::find_users`).
#[derive(Debug, Clone, Default)]
pub(crate) struct UserFilter<'a> {
    pub(crate) account_id: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
    pub(crate) after_id: Option<&'a str>,
}

/// Up to `limit` users matching `filter`, by id.
pub(crate) fn page(
    conn: &mut DbConnection,
    filter: &UserFilter<'_>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = crate::on_backend!(conn, |c| {
        let mut q = u::table
            .select(UserRow::as_select())
            .order(u::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(a) = filter.account_id {
            q = q.filter(u::account_id.eq(a));
        }
        if let Some(e) = filter.email {
            q = q.filter(u::email.eq(e));
        }
        if let Some(id) = filter.after_id {
            q = q.filter(u::id.gt(id));
        }
        q.load(c)
    })?;
    rows.into_iter().map(UserRow::into_user).collect()
}

/// Sets a user's name and work email.
pub(crate) fn set_profile(
    conn: &mut DbConnection,
    id: &str,
    display_name: &str,
    work_email: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(u::table.filter(u::id.eq(id)))
        .set((
            u::display_name.eq(display_name),
            u::work_email.eq(work_email),
            u::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets a user's roles (stored form); false when they already were these.
pub(crate) fn set_roles(
    conn: &mut DbConnection,
    id: &str,
    roles: crate::model::Roles,
    now: i64,
) -> Result<bool, StoreError> {
    let stored = roles.to_stored();
    let n = diesel::update(u::table.find(id).filter(u::roles.ne(&stored)))
        .set((u::roles.eq(&stored), u::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n > 0)
}

/// The users of an account who hold `role` (few: a company's administrators).
pub(crate) fn holding_role(
    conn: &mut DbConnection,
    account_id: &str,
    role: crate::model::Role,
) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = u::table
        .filter(u::account_id.eq(account_id))
        .filter(u::roles.ne(""))
        .select(UserRow::as_select())
        .load(conn)?;
    let users = rows
        .into_iter()
        .map(UserRow::into_user)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(users.into_iter().filter(|u| u.roles.has(role)).collect())
}

/// Marks whether the user's next enrollment needs the mailed link (`relink_requires_email`).
pub(crate) fn set_relink_by_email(
    conn: &mut DbConnection,
    id: &str,
    required: bool,
) -> Result<(), StoreError> {
    diesel::update(u::table.find(id))
        .set(u::relink_by_email.eq(required))
        .execute(conn)?;
    Ok(())
}

/// Records a completed sign-in (the console shows when a user last signed in).
pub(crate) fn signed_in(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(u::table.find(id))
        .set(u::last_sign_in_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// Sets the language a user chose for their mails (`None`: the provider's default).
pub(crate) fn set_locale(
    conn: &mut DbConnection,
    id: &str,
    locale: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(u::table.find(id))
        .set((u::locale.eq(locale), u::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both backends (a case-insensitive name search).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Users whose authentication email starts with `query` or whose name contains it (case
/// aside), in `account_id` when given; at most `limit`, by email. `query` is matched
/// literally (`%` and `_` are escaped).
pub(crate) fn search(
    conn: &mut DbConnection,
    query: &str,
    account_id: Option<&str>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let literal: String = query
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let prefix = format!("{literal}%");
    let anywhere = format!("%{literal}%");
    let rows: Vec<UserRow> = crate::on_backend!(conn, |c| {
        let mut q = u::table
            .filter(
                u::email
                    .like(&prefix)
                    .escape('\\')
                    .or(lower(u::display_name).like(&anywhere).escape('\\')),
            )
            .select(UserRow::as_select())
            .order(u::email.asc())
            .limit(limit)
            .into_boxed();
        if let Some(a) = account_id {
            q = q.filter(u::account_id.eq(a));
        }
        q.load(c)
    })?;
    rows.into_iter().map(UserRow::into_user).collect()
}
