//! Accounts: the customer companies. Each carries the MFA policy that applies to all its users.

use crate::crypto::{random_id, CryptoError};
use crate::model::{
    validate_display_name, validate_slug, Account, Actor, AuditAction, AuditEvent, EndReason,
    EndedSession, MfaPolicy,
};
use crate::store::{self, audit, sessions, StoreError};
use crate::Idp;

pub use crate::model::Change;

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The slug is not 2-63 lowercase letters, digits and dashes starting with a letter or digit.
    #[error("invalid account slug {0:?}: use 2-63 lowercase letters, digits and dashes, starting with a letter or digit")]
    InvalidSlug(String),
    /// The account name is refused (empty, too long, control characters).
    #[error("invalid account name: {0}")]
    InvalidName(&'static str),
    /// Another account already has this slug.
    #[error("an account with the slug {0:?} already exists")]
    SlugTaken(String),
    /// No account has this slug.
    #[error("no account with the slug {0:?}")]
    NotFound(String),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
}

impl Idp {
    /// Creates an account; MFA is off until an operator turns it on.
    pub fn create_account(
        &self,
        slug: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<Account, AccountError> {
        let slug = slug.trim().to_string();
        if !validate_slug(&slug) {
            return Err(AccountError::InvalidSlug(slug));
        }
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
            store::accounts::insert(conn, &account)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::AccountCreated, actor)
                    .account(&account.id)
                    .detail(&account.slug),
            )
        });
        match result {
            Ok(()) => Ok(account),
            Err(e) if e.is_unique_violation() => Err(AccountError::SlugTaken(slug)),
            Err(e) => Err(e.into()),
        }
    }

    /// The account with this slug.
    pub fn account_by_slug(&self, slug: &str) -> Result<Account, AccountError> {
        let slug = slug.trim();
        store::accounts::by_slug(&mut *self.store().conn()?, slug)?
            .ok_or_else(|| AccountError::NotFound(slug.to_string()))
    }

    /// The account with this id, if any.
    pub fn account_by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        store::accounts::by_id(&mut *self.store().conn()?, id)
    }

    /// Every account, by slug.
    pub fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        store::accounts::list(&mut *self.store().conn()?)
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
        let account = self.account_by_slug(slug)?;
        let now = self.now();
        let listeners = self.logout_listeners();
        self.store().tx(|conn| {
            if !store::accounts::set_mfa_policy(conn, &account.id, policy, now)? {
                return Ok((Change::Already, Vec::new()));
            }
            let ended = match policy {
                MfaPolicy::Required => {
                    let weak = sessions::unended_without_second_factor(
                        conn,
                        sessions::Holders::Account(&account.id),
                    )?;
                    sessions::end(conn, now, &weak, EndReason::MfaEnabled, &listeners)?
                }
                MfaPolicy::Off => Vec::new(),
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

    /// Renames an account (its slug stays: apps and operators name it by slug).
    pub fn rename_account(
        &self,
        slug: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<(Change, Account), AccountError> {
        let account = self.account_by_slug(slug)?;
        let name = validate_display_name(name).map_err(AccountError::InvalidName)?;
        if name.is_empty() {
            return Err(AccountError::InvalidName("the name cannot be empty"));
        }
        let now = self.now();
        let changed = self.store().tx(|conn| {
            if !store::accounts::rename(conn, &account.id, &name, now)? {
                return Ok::<_, StoreError>(false);
            }
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::AccountRenamed, actor).account(&account.id),
            )?;
            Ok(true)
        })?;
        let account = self.account_by_slug(slug)?;
        Ok((Change::of(changed), account))
    }
}
