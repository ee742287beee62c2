//! The `accounts` table.

use diesel::prelude::*;

use super::schema::accounts as a;
use super::{DbConnection, StoreError};
use crate::model::{Account, MfaPolicy};

/// An account's row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = a)]
pub(crate) struct AccountRow {
    id: String,
    slug: String,
    name: String,
    mfa_policy: String,
    created_at: i64,
    updated_at: i64,
}

impl AccountRow {
    pub(crate) fn into_account(self) -> Result<Account, StoreError> {
        let mfa_policy = MfaPolicy::parse(&self.mfa_policy).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "account {}: mfa_policy {:?}",
                self.slug, self.mfa_policy
            ))
        })?;
        Ok(Account {
            id: self.id,
            slug: self.slug,
            name: self.name,
            mfa_policy,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Account>, StoreError> {
    crate::on_backend!(conn, |c| a::table
        .find(id)
        .select(AccountRow::as_select())
        .get_result(c)
        .optional())?
    .map(AccountRow::into_account)
    .transpose()
}

pub(crate) fn by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Account>, StoreError> {
    a::table
        .filter(a::slug.eq(slug))
        .select(AccountRow::as_select())
        .get_result(conn)
        .optional()?
        .map(AccountRow::into_account)
        .transpose()
}

pub(crate) fn insert(conn: &mut DbConnection, account: &Account) -> Result<(), StoreError> {
    diesel::insert_into(a::table)
        .values((
            a::id.eq(&account.id),
            a::slug.eq(&account.slug),
            a::name.eq(&account.name),
            a::mfa_policy.eq(account.mfa_policy.as_str()),
            a::created_at.eq(account.created_at),
            a::updated_at.eq(account.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn list(conn: &mut DbConnection) -> Result<Vec<Account>, StoreError> {
    a::table
        .order(a::slug.asc())
        .select(AccountRow::as_select())
        .load(conn)?
        .into_iter()
        .map(AccountRow::into_account)
        .collect()
}

/// Sets the policy unless it is already so; whether it changed.
pub(crate) fn set_mfa_policy(
    conn: &mut DbConnection,
    id: &str,
    policy: MfaPolicy,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        a::table
            .filter(a::id.eq(id))
            .filter(a::mfa_policy.ne(policy.as_str())),
    )
    .set((a::mfa_policy.eq(policy.as_str()), a::updated_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Renames an account; false if the name was already this one.
pub(crate) fn rename(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(a::table.filter(a::id.eq(id)).filter(a::name.ne(name)))
        .set((a::name.eq(name), a::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}
