//! Users: creation, lookup by authentication email, status, passwords and password sign-in.

use diesel::prelude::*;

use crate::accounts::{self, validate_display_name, AccountError, Change};
use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::{random_id, CryptoError};
use crate::model::{normalise_email, Account, User, UserStatus};
use crate::password::{HashError, PasswordRejection};
use crate::sessions::{EndReason, EndedSession};
use crate::store::schema::users;
use crate::store::{DbConnection, StoreError};
use crate::throttle::{self, key, Locked, ThrottleError};
use crate::Idp;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("invalid name: {0}")]
    InvalidName(&'static str),
    #[error("a user with the email {0:?} already exists")]
    EmailTaken(String),
    #[error("no user with the email {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Password(#[from] PasswordRejection),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for UserError {
    fn from(e: diesel::result::Error) -> Self {
        UserError::Store(e.into())
    }
}

/// Why a password sign-in failed. `InvalidCredentials` covers both an unknown email and a wrong
/// password, so the answer never tells which.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("too many failed attempts; locked until {}", .0.until)]
    Locked(Locked),
    #[error("this user is disabled")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        AuthError::Store(e.into())
    }
}

/// A password attempt taken, to be given back on success.
struct PasswordAttempt {
    email_key: String,
    ip_key: Option<String>,
    /// This attempt reached a limit: if it fails, its key is locked.
    locks_on_failure: bool,
}

/// Input of `create_user`.
#[derive(Debug, Clone, Default)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub work_email: Option<&'a str>,
    /// `Some` creates an active user with this password; `None` an invited one.
    pub password: Option<&'a str>,
}

pub(crate) type UserRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    bool,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

/// A user and their account from the rows of a query that joined them.
pub(crate) fn with_account(
    user: UserRow,
    account: accounts::AccountRow,
) -> Result<(User, Account), StoreError> {
    Ok((from_row(user)?, accounts::from_row(account)?))
}

pub(crate) fn from_row(r: UserRow) -> Result<User, StoreError> {
    let status = UserStatus::parse(&r.5)
        .ok_or_else(|| StoreError::Corrupt(format!("user {}: status {:?}", r.0, r.5)))?;
    Ok(User {
        id: r.0,
        account_id: r.1,
        email: r.2,
        work_email: r.3,
        display_name: r.4,
        status,
        email_verified: r.6,
        password_hash: r.7,
        password_changed_at: r.8,
        created_at: r.9,
        updated_at: r.10,
    })
}

pub(crate) fn by_id(conn: &mut DbConnection, id: &str) -> Result<Option<User>, StoreError> {
    crate::on_backend!(conn, |c| users::table
        .find(id)
        .get_result::<UserRow>(c)
        .optional())?
    .map(from_row)
    .transpose()
}

fn by_email(conn: &mut DbConnection, email: &str) -> Result<Option<User>, StoreError> {
    users::table
        .filter(users::email.eq(email))
        .get_result::<UserRow>(conn)
        .optional()?
        .map(from_row)
        .transpose()
}

impl Idp {
    pub fn create_user(
        &self,
        account_slug: &str,
        new: NewUser<'_>,
        actor: &Actor,
    ) -> Result<User, UserError> {
        let account = self.account_by_slug(account_slug)?;
        let email = normalise_email(new.email).map_err(UserError::InvalidEmail)?;
        let work_email = match new.work_email.map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) => Some(
                normalise_email(w)
                    .map_err(|e| UserError::InvalidEmail(format!("work email: {e}")))?,
            ),
            None => None,
        };
        let display_name =
            validate_display_name(new.display_name).map_err(UserError::InvalidName)?;
        let password_hash = match new.password {
            Some(pw) => {
                self.password_policy().check(pw, &email)?;
                Some(self.hasher().hash(pw)?)
            }
            None => None,
        };
        let now = self.now();
        let status = if password_hash.is_some() {
            UserStatus::Active
        } else {
            UserStatus::Invited
        };
        let user = User {
            id: random_id()?,
            account_id: account.id.clone(),
            email: email.clone(),
            work_email,
            display_name,
            status,
            // An operator who sets the password vouches for the address; an invitation is
            // confirmed when the user follows the link.
            email_verified: password_hash.is_some(),
            password_changed_at: password_hash.as_ref().map(|_| now),
            password_hash,
            created_at: now,
            updated_at: now,
        };
        let result = self.store().tx(|conn| {
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(&user.id),
                    users::account_id.eq(&user.account_id),
                    users::email.eq(&user.email),
                    users::work_email.eq(&user.work_email),
                    users::display_name.eq(&user.display_name),
                    users::status.eq(user.status.as_str()),
                    users::email_verified.eq(user.email_verified),
                    users::password_hash.eq(&user.password_hash),
                    users::password_changed_at.eq(user.password_changed_at),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::UserCreated, actor)
                    .user(&user.account_id, &user.id)
                    .detail(format!("status={}", user.status.as_str())),
            )?;
            Ok::<_, StoreError>(())
        });
        match result {
            Ok(()) => Ok(user),
            Err(e) if e.is_unique_violation() => Err(UserError::EmailTaken(email)),
            Err(e) => Err(e.into()),
        }
    }

    /// Looks a user up by authentication email, case-insensitively.
    pub fn user_by_email(&self, email: &str) -> Result<User, UserError> {
        let normalised =
            normalise_email(email).map_err(|_| UserError::NotFound(email.trim().to_string()))?;
        let mut conn = self.store().conn()?;
        by_email(&mut conn, &normalised)?.ok_or(UserError::NotFound(normalised))
    }

    pub fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let mut conn = self.store().conn()?;
        by_id(&mut conn, id)
    }

    /// The user and their account in one call (the account holds the MFA policy).
    pub fn user_with_account(&self, user_id: &str) -> Result<Option<(User, Account)>, StoreError> {
        use crate::store::schema::accounts as a;
        let mut conn = self.store().conn()?;
        let row: Option<(UserRow, accounts::AccountRow)> = crate::on_backend!(&mut *conn, |c| {
            users::table
                .inner_join(a::table)
                .filter(users::id.eq(user_id))
                .select((users::all_columns, a::all_columns))
                .get_result(c)
                .optional()
        })?;
        row.map(|(user, account)| with_account(user, account))
            .transpose()
    }

    pub fn list_users(&self, account_slug: &str) -> Result<Vec<User>, UserError> {
        let account = self.account_by_slug(account_slug)?;
        let mut conn = self.store().conn()?;
        users::table
            .filter(users::account_id.eq(&account.id))
            .order(users::email.asc())
            .load::<UserRow>(&mut conn)?
            .into_iter()
            .map(|r| from_row(r).map_err(UserError::from))
            .collect()
    }

    /// Disables or re-enables a user. Disabling ends the user's sessions in the same transaction
    /// (with back-channel logout) and returns them.
    pub fn set_user_enabled(
        &self,
        email: &str,
        enabled: bool,
        actor: &Actor,
    ) -> Result<(Change, Vec<EndedSession>), UserError> {
        let user = self.user_by_email(email)?;
        let now = self.now();
        let (from, to, action) = if enabled {
            (
                UserStatus::Disabled,
                if user.has_password() {
                    UserStatus::Active
                } else {
                    UserStatus::Invited
                },
                AuditAction::UserEnabled,
            )
        } else {
            (user.status, UserStatus::Disabled, AuditAction::UserDisabled)
        };
        if (enabled && user.status != UserStatus::Disabled)
            || (!enabled && user.status == UserStatus::Disabled)
        {
            return Ok((Change::Already, Vec::new()));
        }
        self.store().tx(|conn| {
            let n = diesel::update(
                users::table
                    .find(&user.id)
                    .filter(users::status.eq(from.as_str())),
            )
            .set((users::status.eq(to.as_str()), users::updated_at.eq(now)))
            .execute(conn)?;
            if n == 0 {
                return Ok((Change::Already, Vec::new()));
            }
            let ended = if enabled {
                Vec::new()
            } else {
                crate::sessions::end_user_sessions_in(
                    conn,
                    now,
                    &user.id,
                    None,
                    EndReason::UserDisabled,
                )?
            };
            audit::record(
                conn,
                now,
                &AuditEvent::new(action, actor)
                    .user(&user.account_id, &user.id)
                    .detail(format!("sessions_ended={}", ended.len())),
            )?;
            Ok::<_, UserError>((Change::Changed, ended))
        })
    }

    /// Sets a new password under the policy and ends the user's sessions in the same transaction
    /// (with back-channel logout): all of them when an operator sets it (the answer to a
    /// compromised account), all but `keep_sid` when the user changes it in that session. The
    /// TOTP link is never touched: a user of an MFA account still needs their app afterwards.
    pub fn set_password(
        &self,
        user_id: &str,
        password: &str,
        actor: &Actor,
        ip: Option<&str>,
        keep_sid: Option<&str>,
    ) -> Result<(User, Vec<EndedSession>), UserError> {
        let user = self
            .user_by_id(user_id)?
            .ok_or_else(|| UserError::NotFound(user_id.to_string()))?;
        self.password_policy().check(password, &user.email)?;
        let hash = self.hasher().hash(password)?;
        let now = self.now();
        let reason = match actor {
            Actor::User(_) => EndReason::PasswordChanged,
            _ => EndReason::PasswordSet,
        };
        let ended = self.store().tx(|conn| {
            diesel::update(users::table.find(&user.id))
                .set((
                    users::password_hash.eq(Some(&hash)),
                    users::password_changed_at.eq(Some(now)),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            self.throttle_clear(conn, &key::password(&user.email))?;
            let ended =
                crate::sessions::end_user_sessions_in(conn, now, &user.id, keep_sid, reason)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::PasswordChanged, actor)
                    .user(&user.account_id, &user.id)
                    .ip(ip)
                    .detail(format!("sessions_ended={}", ended.len())),
            )?;
            Ok::<_, UserError>(ended)
        })?;
        Ok((self.user_by_id(user_id)?.unwrap_or(user), ended))
    }

    /// Checks the current password of a signed-in user (password change) under the same
    /// throttle as sign-in: the attempt is counted before the password is verified, so a stolen
    /// session cookie cannot be used to guess the password faster than the sign-in page allows.
    pub fn verify_current_password(
        &self,
        user: &User,
        password: &str,
        ip: Option<&str>,
    ) -> Result<(), AuthError> {
        let guard = self.reserve_password_attempt(&user.email, ip)?;
        let ok = match &user.password_hash {
            Some(h) => self.hasher().verify(h, password).is_some(),
            None => {
                self.hasher().verify_dummy(password);
                false
            }
        };
        if ok {
            self.store()
                .tx(|conn| self.password_attempt_succeeded(conn, &guard))?;
            Ok(())
        } else {
            self.record_password_failure(Some(user), ip, guard.locks_on_failure)?;
            Err(AuthError::InvalidCredentials)
        }
    }

    /// Password sign-in. Unknown email, invited user without a password and wrong password all
    /// cost one argon2 verification and give `InvalidCredentials`. The attempt is counted per
    /// email and per client IP *before* the password is verified (see [`throttle`]), so parallel
    /// guesses cannot get more checks than the limit; a success gives the attempts back.
    pub fn authenticate_password(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<User, AuthError> {
        let normalised = normalise_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let guard = self.reserve_password_attempt(&normalised, ip)?;
        let user = {
            let mut conn = self.store().conn()?;
            by_email(&mut conn, &normalised)?
        };
        let verified = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
            Some(hash) => self.hasher().verify(hash, password),
            None => {
                self.hasher().verify_dummy(password);
                None
            }
        };
        let (Some(user), Some(verified)) = (&user, verified) else {
            self.record_password_failure(user.as_ref(), ip, guard.locks_on_failure)?;
            return Err(AuthError::InvalidCredentials);
        };
        let user = user.clone();
        if user.status == UserStatus::Disabled {
            return Err(AuthError::Disabled);
        }
        let rehash = if verified.needs_rehash {
            Some(self.hasher().hash(password)?)
        } else {
            None
        };
        self.store().tx(|conn| {
            if let Some(h) = &rehash {
                diesel::update(users::table.find(&user.id))
                    .set(users::password_hash.eq(Some(h)))
                    .execute(conn)?;
            }
            self.password_attempt_succeeded(conn, &guard)?;
            Ok::<_, AuthError>(())
        })?;
        Ok(user)
    }

    /// Takes a password attempt for this email and address.
    fn reserve_password_attempt(
        &self,
        email: &str,
        ip: Option<&str>,
    ) -> Result<PasswordAttempt, AuthError> {
        let s = &self.settings().throttle;
        let mut attempt = PasswordAttempt {
            email_key: key::password(email),
            ip_key: ip.map(key::password_ip),
            locks_on_failure: false,
        };
        let mut keys = vec![(attempt.email_key.as_str(), &s.password_per_email)];
        if let Some(k) = &attempt.ip_key {
            keys.push((k.as_str(), &s.password_per_ip));
        }
        match self.reserve_attempts(&keys) {
            Ok(locks) => {
                attempt.locks_on_failure = locks.is_some();
                Ok(attempt)
            }
            Err(ThrottleError::Locked(l)) => Err(AuthError::Locked(l)),
            Err(ThrottleError::Store(e)) => Err(e.into()),
        }
    }

    /// A correct password: the email's failures are forgotten, the address gets its attempt back.
    fn password_attempt_succeeded(
        &self,
        conn: &mut DbConnection,
        attempt: &PasswordAttempt,
    ) -> Result<(), StoreError> {
        self.throttle_clear(conn, &attempt.email_key)?;
        if let Some(k) = &attempt.ip_key {
            self.refund_attempt(conn, k, &self.settings().throttle.password_per_ip)?;
        }
        Ok(())
    }

    fn record_password_failure(
        &self,
        user: Option<&User>,
        ip: Option<&str>,
        locked: bool,
    ) -> Result<(), StoreError> {
        let actor = user
            .map(|u| Actor::User(u.id.clone()))
            .unwrap_or(Actor::Anonymous);
        let action = if locked {
            AuditAction::SignInLocked
        } else {
            AuditAction::SignInFailed
        };
        let mut ev = AuditEvent::new(action, &actor).ip(ip);
        if let Some(u) = user {
            ev = ev.user(&u.account_id, &u.id);
        }
        self.audit(&ev)
    }

    /// Lockout state of a user's password sign-in (for `user show`).
    pub fn password_lockout(
        &self,
        user: &User,
    ) -> Result<Option<throttle::CounterState>, StoreError> {
        self.throttle_state(&key::password(&user.email))
    }

    /// Clears the password and TOTP lockouts of a user.
    pub fn unlock_user(&self, email: &str, actor: &Actor) -> Result<(), UserError> {
        let user = self.user_by_email(email)?;
        let now = self.now();
        self.store().tx(|conn| {
            self.throttle_clear(conn, &key::password(&user.email))?;
            self.throttle_clear(conn, &key::totp(&user.id))?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::UserUnlocked, actor).user(&user.account_id, &user.id),
            )?;
            Ok::<_, UserError>(())
        })
    }

    /// Marks the email verified and the user active (registration completed).
    pub(crate) fn activate_user(
        conn: &mut DbConnection,
        now: i64,
        user_id: &str,
    ) -> Result<(), StoreError> {
        diesel::update(
            users::table
                .find(user_id)
                .filter(users::status.ne(UserStatus::Disabled.as_str())),
        )
        .set((
            users::status.eq(UserStatus::Active.as_str()),
            users::email_verified.eq(true),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(())
    }

    /// Number of users in an account.
    pub fn count_users(&self, account_id: &str) -> Result<i64, StoreError> {
        let mut conn = self.store().conn()?;
        Ok(users::table
            .filter(users::account_id.eq(account_id))
            .count()
            .get_result(&mut conn)?)
    }
}
