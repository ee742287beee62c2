//! Accounts: the customer companies. Each carries the MFA policy that applies to all its users.

use diesel::prelude::*;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::{random_id, CryptoError};
use crate::model::{Account, MfaPolicy};
use crate::sessions::{EndReason, EndedSession};
use crate::store::schema::accounts;
use crate::store::{DbConnection, StoreError};
use crate::Idp;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid account slug {0:?}: use 2-63 lowercase letters, digits and dashes, starting with a letter or digit")]
    InvalidSlug(String),
    #[error("invalid account name: {0}")]
    InvalidName(&'static str),
    #[error("an account with the slug {0:?} already exists")]
    SlugTaken(String),
    #[error("no account with the slug {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Store(e.into())
    }
}

pub(crate) type AccountRow = (String, String, String, String, i64, i64);

pub(crate) fn from_row(row: AccountRow) -> Result<Account, StoreError> {
    let (id, slug, name, policy, created_at, updated_at) = row;
    let mfa_policy = MfaPolicy::parse(&policy)
        .ok_or_else(|| StoreError::Corrupt(format!("account {slug}: mfa_policy {policy:?}")))?;
    Ok(Account {
        id,
        slug,
        name,
        mfa_policy,
        created_at,
        updated_at,
    })
}

fn validate_slug(slug: &str) -> Result<(), AccountError> {
    let ok = (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidSlug(slug.to_string()))
    }
}

pub(crate) fn validate_display_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.chars().count() > 200 {
        return Err("at most 200 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("control characters are not allowed");
    }
    Ok(name.to_string())
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Account>, StoreError> {
    crate::on_backend!(conn, |c| accounts::table
        .find(id)
        .get_result::<AccountRow>(c)
        .optional())?
    .map(from_row)
    .transpose()
}

/// The outcome of an idempotent change: whether anything changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Changed,
    Already,
}

impl Idp {
    pub fn create_account(
        &self,
        slug: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<Account, AccountError> {
        let slug = slug.trim().to_string();
        validate_slug(&slug)?;
        let name = validate_display_name(name).map_err(AccountError::InvalidName)?;
        if name.is_empty() {
            return Err(AccountError::InvalidName("the name cannot be empty"));
        }
        let now = self.now();
        let account = Account {
            id: random_id()?,
            slug: slug.clone(),
            name,
            mfa_policy: MfaPolicy::Off,
            created_at: now,
            updated_at: now,
        };
        let result = self.store().tx(|conn| {
            diesel::insert_into(accounts::table)
                .values((
                    accounts::id.eq(&account.id),
                    accounts::slug.eq(&account.slug),
                    accounts::name.eq(&account.name),
                    accounts::mfa_policy.eq(account.mfa_policy.as_str()),
                    accounts::created_at.eq(now),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::AccountCreated, actor)
                    .account(&account.id)
                    .detail(&account.slug),
            )?;
            Ok::<_, StoreError>(())
        });
        match result {
            Ok(()) => Ok(account),
            Err(e) if e.is_unique_violation() => Err(AccountError::SlugTaken(slug)),
            Err(e) => Err(e.into()),
        }
    }

    pub fn account_by_slug(&self, slug: &str) -> Result<Account, AccountError> {
        let mut conn = self.store().conn()?;
        accounts::table
            .filter(accounts::slug.eq(slug.trim()))
            .get_result::<AccountRow>(&mut conn)
            .optional()?
            .map(from_row)
            .transpose()?
            .ok_or_else(|| AccountError::NotFound(slug.trim().to_string()))
    }

    pub fn account_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let mut conn = self.store().conn()?;
        by_id(&mut conn, id)
    }

    pub fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut conn = self.store().conn()?;
        accounts::table
            .order(accounts::slug.asc())
            .load::<AccountRow>(&mut conn)?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Turns MFA on or off for every user of the account. Turning it on ends, in the same
    /// transaction, every session of the account's users that was not completed with a second
    /// factor (with back-channel logout): those are exactly the sessions an operator turns MFA
    /// on to stop. Turning it off keeps each user's linked app, so turning it on again does not
    /// force anyone to scan a new QR code.
    pub fn set_mfa_policy(
        &self,
        slug: &str,
        policy: MfaPolicy,
        actor: &Actor,
    ) -> Result<(Change, Vec<EndedSession>), AccountError> {
        use crate::store::schema::{sso_sessions as ss, users};
        let account = self.account_by_slug(slug)?;
        let now = self.now();
        self.store().tx(|conn| {
            let n = diesel::update(
                accounts::table
                    .filter(accounts::id.eq(&account.id))
                    .filter(accounts::mfa_policy.ne(policy.as_str())),
            )
            .set((
                accounts::mfa_policy.eq(policy.as_str()),
                accounts::updated_at.eq(now),
            ))
            .execute(conn)?;
            if n == 0 {
                return Ok((Change::Already, Vec::new()));
            }
            let ended = if policy == MfaPolicy::Required {
                let without_second_factor: Vec<String> = ss::table
                    .inner_join(users::table)
                    .filter(users::account_id.eq(&account.id))
                    .filter(ss::ended_at.is_null())
                    .filter(ss::amr.not_like(format!("%{}%", crate::sessions::AMR_OTP)))
                    .select(ss::id)
                    .load(conn)?;
                crate::sessions::end_sessions(
                    conn,
                    now,
                    &without_second_factor,
                    EndReason::MfaEnabled,
                )?
            } else {
                Vec::new()
            };
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::MfaPolicyChanged, actor)
                    .account(&account.id)
                    .detail(format!(
                        "mfa_policy={} sessions_ended={}",
                        policy.as_str(),
                        ended.len()
                    )),
            )?;
            Ok((Change::Changed, ended))
        })
    }
}
