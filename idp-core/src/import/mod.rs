//! Importing an existing user base: one JSON object a line (JSON Lines), each checked whole
//! before anything is stored. A bad line is reported with its number and reason and stores
//! nothing; the rest goes on. Password hashes are kept in the format they came in (verified at
//! the first sign-in and then replaced by argon2id; see `password::legacy`); authenticator
//! secrets are sealed like every other and the app stays linked. Running the same file twice
//! changes nothing: existing emails are skipped, or updated with `update`.
//!
//! An import writes only to the accounts its `ImportScope` allows (a line for another is
//! refused); a line is never held beyond `MAX_LINE` bytes; what the report quotes from the
//! file is escaped for printing; a password hash costlier to check than a sign-in is refused
//! (`PasswordHasher::importable`).
//!
//! Lines are taken in batches: each batch's new users go in with a few statements in one
//! transaction, so 100,000 users take seconds, not minutes (no argon2 runs at import).

use std::collections::HashMap;
use std::io::BufRead;

use serde::Deserialize;

use crate::crypto::random_id;
use crate::mfa::base32_decode;
use crate::model::{
    new_address, printable, validate_display_name, validate_slug, Account, Actor, AuditAction,
    AuditEvent, MfaPolicy, User, UserStatus,
};
use crate::store::import_marks::Mark;
use crate::store::{self, StoreError};
use crate::Idp;

mod line;
mod marks;
mod read;
mod update;
use line::{field, Prepared};
pub use line::{ImportError, LineError};
use marks::MarkKey;
use read::Read;
use update::Update;

/// Lines per batch.
const BATCH: usize = 500;
/// The longest line read (a user is a few hundred bytes): a longer one is refused without ever
/// being held whole (see `read::next_line`).
pub const MAX_LINE: usize = 16 * 1024;

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    /// The account's slug.
    pub account: String,
    /// The authentication email.
    pub email: String,
    /// The work or contact address.
    #[serde(default)]
    pub work_email: Option<String>,
    /// The name apps show.
    #[serde(default)]
    pub name: Option<String>,
    /// `active`, `invited` or `disabled` (default: `active` with a password hash, else
    /// `invited`).
    #[serde(default)]
    pub status: Option<String>,
    /// The email is known to be the user's (default: true for active users).
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// argon2id/argon2i, bcrypt, PBKDF2 (PHC) or Django PBKDF2.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The user's authenticator secret, base32: the app stays linked.
    #[serde(default)]
    pub totp_secret: Option<String>,
}

/// Which accounts an import may write to. There is no default: a company's own export must not
/// be able to create or (with `update`) change another company's users, so the caller says
/// either which account the file is for or that it is meant for every account it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportScope {
    /// Only lines whose `account` is this slug; a line for any other account is refused.
    Account(String),
    /// Every account the file names (an operator's migration of the whole user base).
    AllAccounts,
}

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check every line and report; store nothing.
    pub dry_run: bool,
    /// Create accounts the file names that do not exist yet (named by their slug).
    pub create_accounts: bool,
    /// Replace the details of users that exist (same account) instead of skipping them.
    pub update: bool,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    /// Users created.
    pub created: usize,
    /// Users whose details were replaced (`update`).
    pub updated: usize,
    /// Lines of users that exist already (without `update`).
    pub skipped: usize,
    /// Accounts created (`create_accounts`).
    pub accounts_created: usize,
    /// The lines refused: their number (from 1) and reason. A reason may quote the line (an
    /// unknown key, a value): control characters and invisible formatting in it are escaped
    /// (`model::printable`), so it is safe to print as it is.
    pub failed: Vec<(usize, String)>,
}

impl ImportReport {
    /// Records a refused line: every refusal goes through here, so no reason leaves unescaped.
    fn refuse(&mut self, line: usize, reason: &LineError) {
        self.failed
            .push((line, printable(&reason.to_string()).into_owned()));
    }
}

impl Idp {
    /// Imports users from JSON Lines (see the module's doc) into the accounts `scope` allows.
    /// `progress` hears the number of lines read so far, after each batch.
    pub fn import_users(
        &self,
        input: impl BufRead,
        options: ImportOptions,
        scope: &ImportScope,
        progress: &mut dyn FnMut(usize),
        actor: &Actor,
    ) -> Result<ImportReport, ImportError> {
        let mut report = ImportReport::default();
        // The marks' key, and no bare digest of an earlier version left in the table once a
        // real import has run (a dry run stores nothing: it reads them as MACs in memory).
        let key = self.mark_key(!options.dry_run)?;
        if !options.dry_run {
            self.rewrite_earlier_marks(&key)?;
        }
        let mut accounts: HashMap<String, Option<Account>> = HashMap::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut batch = Vec::new();
        let mut input = input;
        let mut bytes = Vec::new();
        let mut read = 0;
        loop {
            let got = read::next_line(&mut input, MAX_LINE, &mut bytes)?;
            if got == Read::End {
                break;
            }
            read += 1;
            let line_no = read;
            if got == Read::TooLong {
                report.refuse(line_no, &LineError::TooLong);
                continue;
            }
            // A line that is not UTF-8 is one bad line, not the end of the import.
            let Ok(line) = std::str::from_utf8(&bytes) else {
                report.refuse(line_no, &LineError::NotUtf8);
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            match self.prepare(line_no, line, scope, &mut seen) {
                Ok(p) => batch.push(p),
                Err(e) => report.refuse(line_no, &e),
            }
            if batch.len() == BATCH {
                self.store_batch(
                    std::mem::take(&mut batch),
                    options,
                    &mut accounts,
                    &mut report,
                    &key,
                    actor,
                )?;
                progress(read);
            }
        }
        self.store_batch(batch, options, &mut accounts, &mut report, &key, actor)?;
        progress(read);
        if !options.dry_run && report.created + report.updated > 0 {
            self.audit(
                &AuditEvent::new(AuditAction::UsersImported, actor).detail(format!(
                    "created={} updated={} skipped={} failed={}",
                    report.created,
                    report.updated,
                    report.skipped,
                    report.failed.len()
                )),
            )?;
        }
        report.failed.sort_by_key(|(line, _)| *line);
        Ok(report)
    }

    /// Checks one line whole; nothing is read from or written to the database.
    fn prepare(
        &self,
        line_no: usize,
        line: &str,
        scope: &ImportScope,
        seen: &mut HashMap<String, usize>,
    ) -> Result<Prepared, LineError> {
        let r: ImportRecord =
            serde_json::from_str(line).map_err(|e| LineError::Json(e.to_string()))?;
        let slug = r.account.trim().to_string();
        if !validate_slug(&slug) {
            return Err(field("account", "not an account slug"));
        }
        // Before anything else reads or counts the line (its email is not "seen", its account
        // not looked up or created): a line outside the scope leaves no trace but its refusal.
        if let ImportScope::Account(only) = scope {
            if slug != *only {
                return Err(LineError::OutsideScope {
                    line: slug,
                    only: only.clone(),
                });
            }
        }
        let email = new_address(&r.email).map_err(|e| field("email", e))?;
        let work_email = match r
            .work_email
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            Some(w) => Some(new_address(w).map_err(|e| field("work_email", e))?),
            None => None,
        };
        let display_name =
            validate_display_name(r.name.as_deref().unwrap_or("")).map_err(|e| field("name", e))?;
        let password_hash = match r.password_hash.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => {
                self.hasher().importable(h).map_err(LineError::Hash)?;
                Some(h.to_string())
            }
            _ => None,
        };
        let status = match r.status.as_deref() {
            None if password_hash.is_some() => UserStatus::Active,
            None => UserStatus::Invited,
            Some("active") => UserStatus::Active,
            Some("invited") => UserStatus::Invited,
            Some("disabled") => UserStatus::Disabled,
            Some(other) => {
                return Err(field(
                    "status",
                    format!("{other:?} is not active, invited or disabled"),
                ))
            }
        };
        if status == UserStatus::Invited && password_hash.is_some() {
            return Err(field(
                "password_hash",
                "an invited user has no password yet (set status active)",
            ));
        }
        let totp = match r.totp_secret.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => {
                let secret = base32_decode(s).ok_or_else(|| field("totp_secret", "not base32"))?;
                if secret.len() < 16 {
                    return Err(field(
                        "totp_secret",
                        "shorter than 128 bits: authenticator apps need at least 16 bytes",
                    ));
                }
                Some(secret)
            }
            _ => None,
        };
        if let Some(first) = seen.get(&email) {
            return Err(LineError::Duplicate(*first));
        }
        seen.insert(email.clone(), line_no);
        let now = self.now();
        Ok(Prepared {
            line: line_no,
            slug,
            totp,
            status_given: r.status.is_some(),
            verified_given: r.email_verified.is_some(),
            name_given: r.name.is_some(),
            work_email_given: r.work_email.is_some(),
            user: User {
                id: random_id().map_err(|e| field("email", e))?,
                account_id: String::new(),
                email,
                work_email,
                display_name,
                email_verified: r.email_verified.unwrap_or(status == UserStatus::Active),
                status,
                password_changed_at: password_hash.as_ref().map(|_| now),
                password_hash,
                created_at: now,
                updated_at: now,
                roles: crate::model::Roles::NONE,
                locale: None,
                last_sign_in_at: None,
                relink_by_email: false,
            },
        })
    }

    /// Stores one batch: accounts resolved (or created), existing users skipped or updated, the
    /// new ones inserted in one transaction.
    fn store_batch(
        &self,
        batch: Vec<Prepared>,
        options: ImportOptions,
        accounts: &mut HashMap<String, Option<Account>>,
        report: &mut ImportReport,
        key: &MarkKey,
        actor: &Actor,
    ) -> Result<(), ImportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = self.now();
        for p in &batch {
            if accounts.contains_key(&p.slug) {
                continue;
            }
            let mut found = store::accounts::by_slug(&mut *self.store().conn()?, &p.slug)?;
            if found.is_none() && options.create_accounts {
                report.accounts_created += 1;
                found = Some(if options.dry_run {
                    Account {
                        id: format!("(new) {}", p.slug),
                        slug: p.slug.clone(),
                        name: p.slug.clone(),
                        mfa_policy: MfaPolicy::Off,
                        created_at: now,
                        updated_at: now,
                    }
                } else {
                    self.create_account(&p.slug, &p.slug, actor)
                        .map_err(|e| match e {
                            crate::accounts::AccountError::Store(s) => ImportError::Store(s),
                            other => ImportError::Store(StoreError::Corrupt(other.to_string())),
                        })?
                });
            }
            accounts.insert(p.slug.clone(), found);
        }
        let emails: Vec<&str> = batch.iter().map(|p| p.user.email.as_str()).collect();
        let existing = store::users::by_emails(&mut *self.store().conn()?, &emails)?;
        let ids: Vec<&str> = existing.values().map(|u| u.id.as_str()).collect();
        let marks_before = if options.update && !ids.is_empty() {
            let stored = store::import_marks::of_many(&mut *self.store().conn()?, &ids)?;
            stored
                .into_iter()
                .map(|(id, mark)| (id, key.read(&mark)))
                .collect()
        } else {
            HashMap::new()
        };
        let mut fresh = Vec::new();
        let mut changed = Vec::new();
        for mut p in batch {
            let Some(Some(account)) = accounts.get(&p.slug) else {
                report.refuse(p.line, &LineError::NoSuchAccount(p.slug.clone()));
                continue;
            };
            p.user.account_id = account.id.clone();
            match existing.get(&p.user.email) {
                None => fresh.push(p),
                Some(old) if old.account_id != p.user.account_id => {
                    report.refuse(p.line, &LineError::OtherAccount);
                }
                Some(_) if !options.update => report.skipped += 1,
                Some(old) => {
                    p.user.id = old.id.clone();
                    p.user.created_at = old.created_at;
                    let before = marks_before.get(&old.id).cloned().unwrap_or_default();
                    match self.plan_update(&p, old, &before, key)? {
                        Update::Unchanged => report.skipped += 1,
                        Update::Refused(e) => report.refuse(p.line, &e),
                        Update::Changed { user, totp, mark } => {
                            changed.push((p.line, user, totp, mark, old.clone()))
                        }
                    }
                }
            }
        }
        if options.dry_run {
            report.created += fresh.len();
            report.updated += changed.len();
            return Ok(());
        }
        let mut sealed = Vec::new();
        for p in &fresh {
            if let Some(secret) = &p.totp {
                let aad = store::totp::linked_aad(&p.user.id);
                sealed.push((p.user.id.clone(), self.secrets().seal(secret, &aad)?));
            }
        }
        let users: Vec<User> = fresh.iter().map(|p| p.user.clone()).collect();
        let marks: Vec<Mark> = fresh
            .iter()
            .map(|p| key.mark_of(p, &Mark::default()))
            .filter(|m| m.password_hash_mark.is_some() || m.totp_secret_mark.is_some())
            .collect();
        self.store().tx(|conn| {
            store::users::insert_many(conn, &users)?;
            store::totp::insert_imported(conn, now, &sealed)?;
            store::import_marks::insert_many(conn, &marks)
        })?;
        report.created += users.len();
        for (line, user, totp, mark, old) in changed {
            if self.update_imported(&user, totp.as_deref(), &mark, &old, now, actor)? {
                report.updated += 1;
            } else {
                report.refuse(line, &LineError::ChangedMeanwhile);
            }
        }
        Ok(())
    }
}
