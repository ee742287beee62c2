//! Account lifecycle by email link: completing a registration (invited user confirms the email
//! and sets a permanent password) and resetting a forgotten password. Neither touches the TOTP
//! link: an email-only reset must never let someone bind a new authenticator.

use diesel::prelude::*;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::email_tokens::{EmailTokenError, Purpose};
use crate::model::User;
use crate::sessions::EndedSession;
use crate::store::schema::users;
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
    /// activates the user; a reset ends all the user's sessions.
    pub fn set_password_by_link(
        &self,
        token: &str,
        purpose: Purpose,
        password: &str,
        ip: Option<&str>,
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
                        Vec::new()
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
                        crate::sessions::end_all_for_user(conn, now, &user.id)?
                    }
                };
                self.throttle_clear(conn, &crate::throttle::password_key(&user.email))?;
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
    /// hour) with the attempt counters, so it cannot be used to flood a mailbox.
    pub fn request_password_reset(
        &self,
        email: &str,
        ip: Option<&str>,
    ) -> Result<ResetRequest, LifecycleError> {
        let Ok(normalised) = crate::model::normalise_email(email) else {
            return Ok(ResetRequest::Nothing);
        };
        let email_key = format!("forgot:{normalised}");
        let ip_key = ip.map(|i| format!("forgot-ip:{i}"));
        {
            let mut conn = self.store().conn()?;
            if self.throttle_check(&mut conn, &email_key)?.is_err() {
                return Ok(ResetRequest::Nothing);
            }
            if let Some(k) = &ip_key {
                if self.throttle_check(&mut conn, k)?.is_err() {
                    return Ok(ResetRequest::Nothing);
                }
            }
        }
        self.throttle_fail(&email_key, 3)?;
        if let Some(k) = &ip_key {
            self.throttle_fail(k, 20)?;
        }
        let user = match self.user_by_email(&normalised) {
            Ok(u) if u.status != UserStatus::Disabled => u,
            Ok(_) | Err(UserError::NotFound(_)) => return Ok(ResetRequest::Nothing),
            Err(e) => return Err(e.into()),
        };
        let purpose = if user.status == UserStatus::Invited {
            Purpose::Invite
        } else {
            Purpose::Reset
        };
        let token = self.issue_email_token(&user.id, purpose)?;
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
