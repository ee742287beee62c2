//! Account lifecycle by email link: completing a registration (an invited user confirms the
//! email and sets a permanent password) and resetting a forgotten password. Neither touches the
//! TOTP link: an email-only reset must never let someone bind a new authenticator.

use crate::crypto::hash_token;
use crate::email_tokens::{EmailTokenError, Purpose};
use crate::model::{
    normalise_email, Actor, AuditAction, AuditEvent, EndReason, EndedSession, User, UserStatus,
};
use crate::store::attempts::{self, key, Reserved};
use crate::store::{self, audit, sessions, StoreError};
use crate::users::UserError;
use crate::Idp;

/// Why a link could not be used, or a password not set by it.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    /// The link is not (or no longer) valid.
    Token(#[from] EmailTokenError),
    #[error(transparent)]
    /// The user could not be read or changed (the password policy refused, the database failed).
    User(#[from] UserError),
    /// This user is disabled.
    #[error("this user is disabled")]
    Disabled,
}

impl From<StoreError> for LifecycleError {
    fn from(e: StoreError) -> Self {
        LifecycleError::User(e.into())
    }
}

impl From<diesel::result::Error> for LifecycleError {
    fn from(e: diesel::result::Error) -> Self {
        LifecycleError::User(e.into())
    }
}

/// What a forgot-password request led to. The page shows the same answer in every case.
#[derive(Debug)]
pub enum ResetRequest {
    /// Send this link to this user.
    Send {
        /// Who gets the mail.
        user: Box<User>,
        /// An invitation (not registered yet) or a reset.
        purpose: Purpose,
        /// The link's token (only its hash is stored).
        token: String,
    },
    /// Unknown address, disabled user, or throttled: send nothing.
    Nothing,
}

impl Idp {
    /// The user behind a live email link (to greet them on the form).
    pub fn user_for_email_token(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<User, LifecycleError> {
        let user_id = self.peek_email_token(token, purpose)?;
        let user = store::users::by_id(&mut *self.store().conn()?, &user_id)?
            .ok_or(EmailTokenError::Invalid)?;
        if user.status == UserStatus::Disabled {
            return Err(LifecycleError::Disabled);
        }
        Ok(user)
    }

    /// Consumes an invitation or reset link and sets the password (policy enforced first, so a
    /// refused password leaves the link usable). An invitation also verifies the email and
    /// activates the user, and ends the session this browser had (`browser_session`, its cookie
    /// secret), whoever's it was: the browser is about to be signed in as this user. A reset
    /// ends all the user's sessions. Ended sessions get back-channel logout.
    pub fn set_password_by_link(
        &self,
        token: &str,
        purpose: Purpose,
        password: &str,
        ip: Option<&str>,
        browser_session: Option<&str>,
    ) -> Result<(User, Vec<EndedSession>), LifecycleError> {
        let user = self.user_for_email_token(token, purpose)?;
        self.password_policy()
            .check(password, &user.email)
            .map_err(UserError::from)?;
        let hash = self.hasher().hash(password).map_err(UserError::from)?;
        let now = self.now();
        let ended = self
            .store()
            .tx(|conn| -> Result<Vec<EndedSession>, LifecycleError> {
                let owner = store::email_tokens::consume(conn, &hash_token(token), purpose, now)?;
                if owner.as_deref() != Some(user.id.as_str()) {
                    return Err(EmailTokenError::Invalid.into());
                }
                store::users::set_password(conn, &user.id, &hash, now)?;
                let actor = Actor::User(user.id.clone());
                let (event, detail, ended) = match purpose {
                    Purpose::Invite => {
                        store::users::activate(conn, &user.id, now)?;
                        let browser = match browser_session {
                            Some(s) => sessions::unended_by_secret(conn, &hash_token(s))?,
                            None => Vec::new(),
                        };
                        let ended = sessions::end(conn, now, &browser, EndReason::Registration)?;
                        (AuditAction::RegistrationCompleted, None, ended)
                    }
                    Purpose::Reset => {
                        // Following the link proves control of the address.
                        store::users::mark_email_verified(conn, &user.id)?;
                        let ids = sessions::unended_of_user(conn, &user.id)?;
                        let ended = sessions::end(conn, now, &ids, EndReason::PasswordReset)?;
                        (AuditAction::PasswordChanged, Some("by reset link"), ended)
                    }
                };
                let mut ev = AuditEvent::new(event, &actor)
                    .user(&user.account_id, &user.id)
                    .ip(ip);
                if let Some(d) = detail {
                    ev = ev.detail(d);
                }
                audit::record(conn, now, &ev)?;
                attempts::clear(conn, &key::password(&user.email))?;
                Ok(ended)
            })?;
        let user = store::users::by_id(&mut *self.store().conn()?, &user.id)?.unwrap_or(user);
        Ok((user, ended))
    }

    /// A forgot-password request: throttled per address (3 an hour) and per client IP (20 an
    /// hour), counted before anything is looked up, so it cannot be used to flood a mailbox. The
    /// caller runs it in the background of its answer (the page answers alike and at once for
    /// every address).
    pub fn request_password_reset(
        &self,
        email: &str,
        ip: Option<&str>,
    ) -> Result<ResetRequest, LifecycleError> {
        let Ok(normalised) = normalise_email(email) else {
            return Ok(ResetRequest::Nothing);
        };
        let s = &self.settings().throttle;
        let email_key = key::forgot(&normalised);
        let ip_key = ip.map(key::forgot_ip);
        let mut keys = vec![(email_key.as_str(), &s.forgot_per_email)];
        if let Some(k) = &ip_key {
            keys.push((k.as_str(), &s.forgot_per_ip));
        }
        if let Reserved::Refused(_) = attempts::reserve(self.store(), self.now(), &keys)? {
            return Ok(ResetRequest::Nothing);
        }
        let user = match store::users::by_email(&mut *self.store().conn()?, &normalised)? {
            Some(u) if u.status != UserStatus::Disabled => u,
            _ => return Ok(ResetRequest::Nothing),
        };
        let (purpose, token) = self.issue_link(&user)?;
        self.audit(
            &AuditEvent::new(AuditAction::PasswordResetRequested, &Actor::Anonymous)
                .user(&user.account_id, &user.id)
                .ip(ip),
        )?;
        Ok(ResetRequest::Send {
            user: Box::new(user),
            purpose,
            token,
        })
    }
}
