//! Users: creation, lookup by authentication email, status, passwords, and password sign-in
//! with its throttle.

use crate::crypto::{random_id, CryptoError};
use crate::model::{
    new_address, normalise_email, validate_display_name, Account, Actor, AuditAction, AuditEvent,
    Change, EmailError, EndReason, EndedSession, KnownBrowser, Locked, OwnChange, Page,
    PasswordLane, User, UserStatus,
};
use crate::password::{HashError, PasswordRejection};
use crate::policy;
use crate::store::attempts::{self, Reserved, Taken};
use crate::store::{self, audit, sessions, DbConnection, StoreError};
use crate::Idp;

/// Why a user operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The authentication email is not a valid address.
    #[error("invalid email: {0}")]
    InvalidEmail(EmailError),
    /// The work email is not a valid address.
    #[error("invalid work email: {0}")]
    InvalidWorkEmail(EmailError),
    /// The display name is refused (too long, control characters).
    #[error("invalid name: {0}")]
    InvalidName(&'static str),
    /// Another user already has this authentication email.
    #[error("a user with the email {0:?} already exists")]
    EmailTaken(String),
    /// No user has this authentication email.
    #[error("no user with the email {0:?}")]
    NotFound(String),
    /// No account has this slug.
    #[error("no account with the slug {0:?}")]
    NoSuchAccount(String),
    /// The user was invited and has not completed registration: they choose their password
    /// through the invitation (send it again), nobody sets it for them.
    #[error(
        "{0} has not completed registration yet: send the invitation again (`user send-link`)"
    )]
    NotRegistered(String),
    /// The password policy refused the password.
    #[error("{0}")]
    Password(#[from] PasswordRejection),
    /// A user's own change found the password they confirmed, or the session they made it in,
    /// replaced meanwhile (an operator's set-password or a reset link got there first).
    #[error("the password or the session changed meanwhile")]
    Superseded,
    #[error(transparent)]
    /// Password hashing failed.
    Hash(#[from] HashError),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

/// Why a password sign-in failed. `InvalidCredentials` covers both an unknown email and a wrong
/// password, so the answer never tells which.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The email or password is not correct.
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("too many failed attempts; locked until {}", .0.until)]
    /// Too many failed attempts: locked until then.
    Locked(Locked),
    /// This user is disabled.
    #[error("this user is disabled")]
    Disabled,
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
    #[error(transparent)]
    /// Password hashing failed.
    Hash(#[from] HashError),
}

/// Why a signed-in user's password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// The current password is not correct.
    #[error("the current password is not correct")]
    WrongPassword,
    #[error("too many failed attempts; locked until {}", .0.until)]
    /// Too many failed attempts: locked until then.
    Locked(Locked),
    /// The password policy refused the new password.
    #[error("{0}")]
    Rejected(PasswordRejection),
    #[error(transparent)]
    /// Something else failed.
    Failed(UserError),
}

impl From<StoreError> for ChangePasswordError {
    fn from(e: StoreError) -> Self {
        ChangePasswordError::Failed(e.into())
    }
}

/// A password attempt taken, to be given back on success.
struct PasswordAttempt {
    lane: PasswordLane,
    /// What the reservation did on each of the lane's counters.
    taken: Taken,
}

/// Input of `create_user`.
#[derive(Debug, Clone, Default)]
pub struct NewUser<'a> {
    /// The authentication email.
    pub email: &'a str,
    /// The name apps show (may be empty).
    pub display_name: &'a str,
    /// The work or contact address.
    pub work_email: Option<&'a str>,
    /// `Some` creates an active user with this password; `None` an invited one.
    pub password: Option<&'a str>,
}

/// A change of a user's profile (what is `None` stays as it is).
#[derive(Debug, Clone, Default)]
pub struct ProfileChange<'a> {
    /// The name apps show (may be emptied).
    pub display_name: Option<&'a str>,
    /// The work or contact address; `Some(None)`-like clearing is `Some("")`.
    pub work_email: Option<&'a str>,
}

/// Which users to list (see [`Idp::find_users`]).
#[derive(Debug, Clone, Default)]
pub struct UserQuery<'a> {
    /// Only users of this account (by slug).
    pub account: Option<&'a str>,
    /// Only the user with this authentication email (matched as at sign-in).
    pub email: Option<&'a str>,
    /// The cursor of the previous page.
    pub cursor: Option<&'a str>,
}

/// A user's work email as given: empty means none, anything else must be an address.
fn work_email_of(given: Option<&str>) -> Result<Option<String>, UserError> {
    match given.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => Ok(Some(new_address(w).map_err(UserError::InvalidWorkEmail)?)),
        None => Ok(None),
    }
}

impl Idp {
    /// Creates a user in an account: active with a password (the operator vouches for the
    /// address), or invited (they confirm it by completing registration).
    pub fn create_user(
        &self,
        account_slug: &str,
        new: NewUser<'_>,
        actor: &Actor,
    ) -> Result<User, UserError> {
        let account = store::accounts::by_slug(&mut *self.store().conn()?, account_slug.trim())?
            .ok_or_else(|| UserError::NoSuchAccount(account_slug.trim().to_string()))?;
        let email = new_address(new.email).map_err(UserError::InvalidEmail)?;
        let work_email = work_email_of(new.work_email)?;
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
            email_verified: password_hash.is_some(),
            password_changed_at: password_hash.as_ref().map(|_| now),
            password_hash,
            created_at: now,
            updated_at: now,
            roles: crate::model::Roles::NONE,
            locale: None,
            last_sign_in_at: None,
            relink_by_email: false,
        };
        let result = self.store().tx(|conn| {
            store::users::insert(conn, &user)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::UserCreated, actor)
                    .user(&user.account_id, &user.id)
                    .detail(format!("status={}", user.status.as_str())),
            )
        });
        match result {
            Ok(()) => Ok(user),
            Err(e) if e.is_unique_violation() => Err(UserError::EmailTaken(email)),
            Err(e) => Err(e.into()),
        }
    }

    /// Looks a user up by authentication email (two spellings of an address are one).
    pub fn user_by_email(&self, email: &str) -> Result<User, UserError> {
        let normalised =
            normalise_email(email).map_err(|_| UserError::NotFound(email.trim().to_string()))?;
        store::users::by_email(&mut *self.store().conn()?, &normalised)?
            .ok_or(UserError::NotFound(normalised))
    }

    /// The user with this id, if any.
    pub fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        store::users::by_id(&mut *self.store().conn()?, id)
    }

    /// The user and their account in one query (the account holds the MFA policy).
    pub fn user_with_account(&self, user_id: &str) -> Result<Option<(User, Account)>, StoreError> {
        store::users::with_account(&mut *self.store().conn()?, user_id)
    }

    /// The users of an account, by email.
    #[cfg(any(test, feature = "testing"))]
    pub fn list_users(&self, account_slug: &str) -> Result<Vec<User>, UserError> {
        let mut conn = self.store().conn()?;
        let account = store::accounts::by_slug(&mut conn, account_slug.trim())?
            .ok_or_else(|| UserError::NoSuchAccount(account_slug.trim().to_string()))?;
        Ok(store::users::list_in_account(&mut conn, &account.id)?)
    }

    /// A page of users (by id, up to `limit`, 1 to 500), filtered by account and email; the
    /// cursor of the next page when there is one. An email that is not an address matches
    /// nobody; an unknown account is an error.
    pub fn find_users(&self, query: &UserQuery<'_>, limit: i64) -> Result<Page<User>, UserError> {
        let limit = limit.clamp(1, 500);
        let mut conn = self.store().conn()?;
        let account = match query.account.map(str::trim) {
            Some(slug) => Some(
                store::accounts::by_slug(&mut conn, slug)?
                    .ok_or_else(|| UserError::NoSuchAccount(slug.to_string()))?,
            ),
            None => None,
        };
        let email = match query.email {
            Some(e) => match normalise_email(e) {
                Ok(e) => Some(e),
                Err(_) => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    })
                }
            },
            None => None,
        };
        let filter = store::users::UserFilter {
            account_id: account.as_ref().map(|a| a.id.as_str()),
            email: email.as_deref(),
            after_id: query.cursor,
        };
        let rows = store::users::page(&mut conn, &filter, limit + 1)?;
        Ok(Page::from_rows(rows, limit, |u| u.id.clone()))
    }

    /// Changes a user's name and work email (the authentication email never changes here).
    pub fn update_profile(
        &self,
        user_id: &str,
        change: &ProfileChange<'_>,
        actor: &Actor,
    ) -> Result<(Change, User), UserError> {
        let user = self
            .user_by_id(user_id)?
            .ok_or_else(|| UserError::NotFound(user_id.to_string()))?;
        let display_name = match change.display_name {
            Some(n) => validate_display_name(n).map_err(UserError::InvalidName)?,
            None => user.display_name.clone(),
        };
        let work_email = match change.work_email {
            Some(w) => work_email_of(Some(w))?,
            None => user.work_email.clone(),
        };
        if display_name == user.display_name && work_email == user.work_email {
            return Ok((Change::Already, user));
        }
        // Which fields changed (never their values: the log is read more widely than the data).
        let fields: Vec<&str> = [
            ("name", display_name != user.display_name),
            ("work_email", work_email != user.work_email),
        ]
        .into_iter()
        .filter_map(|(f, changed)| changed.then_some(f))
        .collect();
        let now = self.now();
        self.store().tx(|conn| {
            store::users::set_profile(conn, &user.id, &display_name, work_email.as_deref(), now)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::UserUpdated, actor)
                    .user(&user.account_id, &user.id)
                    .detail(format!("fields={}", fields.join(","))),
            )
        })?;
        let user = self.user_by_id(user_id)?.unwrap_or(user);
        Ok((Change::Changed, user))
    }

    /// Number of users in an account.
    pub fn count_users(&self, account_id: &str) -> Result<i64, StoreError> {
        store::users::count_in_account(&mut *self.store().conn()?, account_id)
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
        let listeners = self.logout_listeners();
        let (from, to, action) = if enabled {
            let to = if user.has_password() {
                UserStatus::Active
            } else {
                UserStatus::Invited
            };
            (UserStatus::Disabled, to, AuditAction::UserEnabled)
        } else {
            (user.status, UserStatus::Disabled, AuditAction::UserDisabled)
        };
        if enabled != (user.status == UserStatus::Disabled) {
            return Ok((Change::Already, Vec::new()));
        }
        self.store().tx(|conn| {
            if !store::users::set_status(conn, &user.id, from, to, now)? {
                return Ok((Change::Already, Vec::new()));
            }
            let ended = if enabled {
                // A sign-in parked while the user was disabled (refused at each step then) does
                // not come back to life: whatever it showed, an enrollment's QR code included,
                // is void.
                store::flows::cancel_of_user(conn, &user.id)?;
                Vec::new()
            } else {
                sessions::end_all_of_user(
                    conn,
                    now,
                    &user.id,
                    None,
                    EndReason::UserDisabled,
                    &listeners,
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
    /// compromised account); when the user changes it in a session, that one too, and
    /// `own.successor` takes over in the browser. The TOTP link is never touched: a user of an
    /// MFA account still needs their app afterwards.
    pub fn set_password(
        &self,
        user_id: &str,
        password: &str,
        actor: &Actor,
        ip: Option<&str>,
        own: Option<OwnChange<'_>>,
    ) -> Result<(User, Vec<EndedSession>), UserError> {
        let user = self
            .user_by_id(user_id)?
            .ok_or_else(|| UserError::NotFound(user_id.to_string()))?;
        if user.status == UserStatus::Invited {
            return Err(UserError::NotRegistered(user.email));
        }
        self.password_policy().check(password, &user.email)?;
        let hash = self.hasher().hash(password)?;
        let now = self.now();
        let listeners = self.logout_listeners();
        let reason = match actor {
            Actor::User(_) => EndReason::PasswordChanged,
            _ => EndReason::PasswordSet,
        };
        let ended = self.store().tx(|conn| {
            // A reset link mailed before this change must not undo it. (Links before the user's
            // row: the order a reset link's own transaction takes them in.)
            store::email_tokens::revoke(conn, &user.id, crate::model::Purpose::Reset, now)?;
            if let Some(own) = &own {
                // Only while the password just confirmed and the session are still theirs: an
                // operator's set-password or a reset in between must not be undone by it.
                let live = sessions::by_id(conn, own.sid)?.is_some_and(|s| s.is_live(now));
                if !live || !store::users::hold_if_password(conn, &user.id, own.checked)? {
                    return Err(UserError::Superseded);
                }
            }
            store::users::set_password(conn, &user.id, &hash, now)?;
            attempts::clear_password_failures(conn, &user.email)?;
            let ended = sessions::end_all_of_user(conn, now, &user.id, None, reason, &listeners)?;
            if let Some(own) = &own {
                // And only if this transaction ended it (not a revoke or a logout that committed
                // since it was read).
                if !ended.iter().any(|e| e.sid == own.sid) {
                    return Err(UserError::Superseded);
                }
                sessions::insert(conn, own.successor, own.successor_secret_hash)?;
            }
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
    /// The browser counts on its own key when it is known for the user (`known`).
    pub(crate) fn verify_current_password(
        &self,
        user: &User,
        password: &str,
        ip: Option<&str>,
        known: Option<&KnownBrowser>,
    ) -> Result<(), AuthError> {
        let attempt = self.reserve_password_attempt(&user.email, ip, Some(user), known)?;
        let ok = match &user.password_hash {
            Some(h) => self.hasher().verify(h, password).is_some(),
            None => {
                self.hasher().verify_dummy(password);
                false
            }
        };
        if ok {
            self.store()
                .tx(|conn| self.password_attempt_succeeded(conn, &attempt))?;
            Ok(())
        } else {
            self.record_password_failure(Some(user), &attempt)?;
            Err(AuthError::InvalidCredentials)
        }
    }

    /// Password sign-in from a browser nobody vouched for (see
    /// [`Idp::authenticate_password_from`]).
    pub fn authenticate_password(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<User, AuthError> {
        self.authenticate_password_from(email, password, ip, None)
    }

    /// Password sign-in. Unknown email, invited user without a password and wrong password all
    /// cost one argon2 verification and give `InvalidCredentials`. The attempt is counted
    /// *before* the password is verified (see `store::attempts`), so parallel guesses cannot get
    /// more checks than the limit; a success gives it back. Where it is counted depends on the
    /// browser: `known`, when it vouches for the user this email names, counts on its own key;
    /// any other browser on the email at its address, the email, and the address (see
    /// `ThrottleSettings`). An unknown email is counted like a known one: a browser can be known
    /// only for a user who signed in with it, so its lane tells nothing of other emails.
    pub(crate) fn authenticate_password_from(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
        known: Option<&KnownBrowser>,
    ) -> Result<User, AuthError> {
        let normalised = normalise_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let user = store::users::by_email(&mut *self.store().conn()?, &normalised)?;
        let attempt = self.reserve_password_attempt(&normalised, ip, user.as_ref(), known)?;
        let verified = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
            Some(hash) => self.hasher().verify(hash, password),
            None => {
                self.hasher().verify_dummy(password);
                None
            }
        };
        let (Some(user), Some(verified)) = (&user, verified) else {
            self.record_password_failure(user.as_ref(), &attempt)?;
            return Err(AuthError::InvalidCredentials);
        };
        let user = user.clone();
        if !policy::may_sign_in(&user) {
            return Err(AuthError::Disabled);
        }
        let rehash = if verified.needs_rehash {
            Some(self.hasher().hash(password)?)
        } else {
            None
        };
        let rehashed = self.store().tx(|conn| {
            let rehashed = match (&rehash, &user.password_hash) {
                (Some(new), Some(old)) => store::users::rehash(conn, &user.id, old, new)?,
                _ => false,
            };
            self.password_attempt_succeeded(conn, &attempt)?;
            Ok::<_, StoreError>(rehashed)
        })?;
        // The user as stored now: the sign-in's next steps hold to this hash.
        Ok(match rehash {
            Some(new) if rehashed => User {
                password_hash: Some(new),
                ..user
            },
            _ => user,
        })
    }

    /// Takes a password attempt for this email from this address, on the lane of `known` when
    /// it vouches for `user` (the user this email names, as read for this attempt).
    fn reserve_password_attempt(
        &self,
        email: &str,
        ip: Option<&str>,
        user: Option<&User>,
        known: Option<&KnownBrowser>,
    ) -> Result<PasswordAttempt, AuthError> {
        let lane = PasswordLane {
            email: email.to_string(),
            ip: ip.map(str::to_string),
            known_browser: known
                .filter(|k| user.is_some_and(|u| k.vouches_for(u)))
                .map(|k| k.id().to_string()),
        };
        let throttle = &self.settings().throttle;
        match attempts::reserve(self.store(), self.now(), throttle, &lane.counters())? {
            Reserved::Taken(taken) => Ok(PasswordAttempt { lane, taken }),
            Reserved::Refused(l) => Err(AuthError::Locked(l)),
        }
    }

    /// A correct password: the failures of the browser's own keys are forgotten (its known
    /// browser's, or the email's at its address); the keys others share (the email from anywhere,
    /// the address) get this attempt back and keep the failures of others.
    fn password_attempt_succeeded(
        &self,
        conn: &mut DbConnection,
        attempt: &PasswordAttempt,
    ) -> Result<(), StoreError> {
        for (i, counter) in attempt.lane.counters().iter().enumerate() {
            if counter.is_shared() {
                attempts::refund(conn, counter, attempt.taken.set_on(i))?;
            } else {
                attempts::clear(conn, counter)?;
            }
        }
        Ok(())
    }

    fn record_password_failure(
        &self,
        user: Option<&User>,
        attempt: &PasswordAttempt,
    ) -> Result<(), StoreError> {
        let actor = user
            .map(|u| Actor::User(u.id.clone()))
            .unwrap_or(Actor::Anonymous);
        // This attempt reached a limit: its key is locked now.
        let action = if attempt.taken.reached().is_some() {
            AuditAction::SignInLocked
        } else {
            AuditAction::SignInFailed
        };
        let mut ev = AuditEvent::new(action, &actor).ip(attempt.lane.ip.as_deref());
        if let Some(u) = user {
            ev = ev.user(&u.account_id, &u.id);
        }
        let now = self.now();
        // Unknown email or wrong password alike (the same statements, the same time).
        self.store().tx(|conn| {
            for counter in attempt.lane.counters().iter().filter(|c| c.is_shared()) {
                attempts::failed(conn, counter, now)?;
            }
            audit::record(conn, now, &ev)
        })
    }
}
