//! Account lifecycle by email link: completing a registration (invited user confirms the email
//! and sets a permanent password) and resetting a forgotten password. Neither touches the TOTP
//! link: an email-only reset must never let someone bind a new authenticator.

use diesel::prelude::*;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::email_tokens::{EmailTokenError, Purpose};
use crate::model::User;
use crate::sessions::{EndReason, EndedSession};
use crate::store::schema::users;
use crate::throttle::{key, ThrottleError};
use crate::users::UserError;
use crate::{Idp, UserStatus};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Token(#[from] EmailTokenError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("this user is disabled")]
    Disabled,
}

impl From<crate::StoreError> for LifecycleError {
    fn from(e: crate::StoreError) -> Self {
        LifecycleError::User(e.into())
    }
}

impl From<diesel::result::Error> for LifecycleError {
    fn from(e: diesel::result::Error) -> Self {
        LifecycleError::User(e.into())
    }
}

impl Idp {
    /// The user behind a live email link (to greet them on the form).
    pub fn user_for_email_token(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<User, LifecycleError> {
        let user_id = self.peek_email_token(token, purpose)?;
        let user = self.user_by_id(&user_id)?.ok_or(EmailTokenError::Invalid)?;
        if user.status == UserStatus::Disabled {
            return Err(LifecycleError::Disabled);
        }
        Ok(user)
    }

    /// Consumes an invitation or reset link and sets the password (policy enforced first, so a
    /// refused password leaves the link usable). An invitation also verifies the email and
    /// activates the user, and ends the session this browser had (`browser_session`, its cookie
    /// secret), whoever's it was: the browser is about to be signed in as this user. A reset
    /// ends all the user's sessions. Ended sessions get back-channel logout (see `sessions`).
    pub fn set_password_by_link(
        &self,
        token: &str,
        purpose: Purpose,
        password: &str,
        ip: Option<&str>,
        browser_session: Option<&str>,
    ) -> Result<(User, Vec<EndedSession>), LifecycleError> {
        let browser_sid = match (purpose, browser_session) {
            (Purpose::Invite, Some(secret)) => self.session_by_secret(secret)?.map(|s| s.id),
            _ => None,
        };
        let user = self.user_for_email_token(token, purpose)?;
        self.password_policy()
            .check(password, &user.email)
            .map_err(UserError::from)?;
        let hash = self.hasher().hash(password).map_err(UserError::from)?;
        let now = self.now();
        let ended = self
            .store()
            .tx(|conn| -> Result<Vec<EndedSession>, LifecycleError> {
                let owner = Self::consume_email_token(conn, now, token, purpose)?;
                if owner != user.id {
                    return Err(EmailTokenError::Invalid.into());
                }
                diesel::update(users::table.find(&user.id))
                    .set((
                        users::password_hash.eq(Some(&hash)),
                        users::password_changed_at.eq(Some(now)),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                let actor = Actor::User(user.id.clone());
                let ended = match purpose {
                    Purpose::Invite => {
                        Self::activate_user(conn, now, &user.id)?;
                        audit::record(
                            conn,
                            now,
                            &AuditEvent::new(AuditAction::RegistrationCompleted, &actor)
                                .user(&user.account_id, &user.id)
                                .ip(ip),
                        )?;
                        match &browser_sid {
                            Some(sid) => crate::sessions::end_sessions(
                                conn,
                                now,
                                std::slice::from_ref(sid),
                                EndReason::Registration,
                            )?,
                            None => Vec::new(),
                        }
                    }
                    Purpose::Reset => {
                        // Following the link proves control of the address.
                        diesel::update(users::table.find(&user.id))
                            .set(users::email_verified.eq(true))
                            .execute(conn)?;
                        audit::record(
                            conn,
                            now,
                            &AuditEvent::new(AuditAction::PasswordChanged, &actor)
                                .user(&user.account_id, &user.id)
                                .ip(ip)
                                .detail("by reset link"),
                        )?;
                        crate::sessions::end_user_sessions_in(
                            conn,
                            now,
                            &user.id,
                            None,
                            EndReason::PasswordReset,
                        )?
                    }
                };
                self.throttle_clear(conn, &key::password(&user.email))?;
                Ok(ended)
            })?;
        let user = self.user_by_id(&user.id)?.unwrap_or(user);
        Ok((user, ended))
    }
}

/// What a forgot-password request led to. The page shows the same answer in every case.
#[derive(Debug)]
pub enum ResetRequest {
    /// Send this link to this user.
    Send {
        user: Box<User>,
        purpose: Purpose,
        token: String,
    },
    /// Unknown address, disabled user, or throttled: send nothing.
    Nothing,
}

impl Idp {
    /// A forgot-password request: throttled per address (3 an hour) and per client IP (20 an
    /// hour), counted before anything is looked up, so it cannot be used to flood a mailbox. The
    /// caller runs it in the background of its answer (the page answers alike and at once for
    /// every address).
    pub fn request_password_reset(
        &self,
        email: &str,
        ip: Option<&str>,
    ) -> Result<ResetRequest, LifecycleError> {
        let Ok(normalised) = crate::model::normalise_email(email) else {
            return Ok(ResetRequest::Nothing);
        };
        let s = &self.settings().throttle;
        let email_key = key::forgot(&normalised);
        let ip_key = ip.map(key::forgot_ip);
        let mut keys = vec![(email_key.as_str(), &s.forgot_per_email)];
        if let Some(k) = &ip_key {
            keys.push((k.as_str(), &s.forgot_per_ip));
        }
        match self.reserve_attempts(&keys) {
            Ok(_) => {}
            Err(ThrottleError::Locked(_)) => return Ok(ResetRequest::Nothing),
            Err(ThrottleError::Store(e)) => return Err(e.into()),
        }
        let user = match self.user_by_email(&normalised) {
            Ok(u) if u.status != UserStatus::Disabled => u,
            Ok(_) | Err(UserError::NotFound(_)) => return Ok(ResetRequest::Nothing),
            Err(e) => return Err(e.into()),
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

    /// The link a user needs by mail: an invitation while they have not completed registration,
    /// a password reset afterwards.
    pub fn issue_link(&self, user: &User) -> Result<(Purpose, String), EmailTokenError> {
        let purpose = if user.status == UserStatus::Invited {
            Purpose::Invite
        } else {
            Purpose::Reset
        };
        Ok((purpose, self.issue_email_token(&user.id, purpose)?))
    }
}
