//! Account lifecycle by email link: completing a registration (an invited user confirms the
//! email and sets a permanent password) and resetting a forgotten password. Neither touches the
//! TOTP link: an email-only reset must never let someone bind a new authenticator.

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::email_tokens::{EmailTokenError, Purpose};
use crate::mfa::MfaStep;
use crate::model::{
    normalise_email, Actor, AuditAction, AuditEvent, AuthMethod, Browser, EndReason, EndedSession,
    FlowStage, OwnChange, SsoSession, User,
};
use crate::model::{Counter, KnownBrowser, Locked};
use crate::sessions::start_in;
use crate::store::attempts::{self, Reserved};
use crate::store::{self, audit, sessions, StoreError};
use crate::users::{AuthError, ChangePasswordError, UserError};
use crate::Idp;
use crate::PasswordRejection;

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

impl From<CryptoError> for LifecycleError {
    fn from(e: CryptoError) -> Self {
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

/// How a link form's passwords were refused (the link stays usable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRefusal {
    /// The two passwords differ.
    Differ,
    /// The password policy refused it.
    Policy(PasswordRejection),
}

/// After a registration was completed.
#[derive(Debug)]
pub enum AfterRegistration {
    /// No second factor needed: signed in (the session and its cookie secret).
    SignedIn {
        /// The new session.
        session: Box<SsoSession>,
        /// Its cookie secret (only the hash is stored).
        secret: String,
        /// The browser's known-browser cookie for the user (see `Idp::vouch_for_browser`).
        known_browser: String,
    },
    /// The account requires MFA: continue in this sign-in (its handle), at enrollment or the code.
    SecondFactor(String),
}

/// What a link form's submission led to.
#[derive(Debug)]
pub enum LinkStep {
    /// Not done: show the form again with this refusal.
    Refused {
        /// Whose link it is (the form greets them).
        user: Box<User>,
        /// Why.
        refusal: PasswordRefusal,
    },
    /// A registration completed (the browser's previous session ended) and what comes next.
    Registered {
        /// The browser's previous session, if it had one (its apps are told).
        ended: Vec<EndedSession>,
        /// Signed in, or on to the second factor.
        next: AfterRegistration,
    },
    /// A password was reset; every session of the user ended.
    Reset {
        /// Whose (they are mailed).
        user: Box<User>,
        /// The sessions that ended.
        ended: Vec<EndedSession>,
        /// The known-browser cookie for the browser that followed the link (the one the
        /// password change voided, renewed: following the link proves what a sign-in would).
        known_browser: String,
    },
}

/// Why a signed-in user's password change was refused (the form is shown again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// The two new passwords differ.
    Differ,
    /// The current password is not correct.
    WrongPassword,
    /// Too many wrong current passwords: locked until then.
    Locked(Locked),
    /// The password policy refused the new one.
    Rejected(PasswordRejection),
}

/// What a password change by its signed-in owner led to.
#[derive(Debug)]
pub enum PasswordChange {
    /// The browser has no session its user may use: sign in first.
    NotSignedIn,
    /// Refused: show the form again.
    Refused {
        /// Whose session it is.
        user: Box<User>,
        /// Why.
        refusal: ChangeRefusal,
    },
    /// Changed; every session of the user ended, this one too, and a successor carries the
    /// browser's sign-in on.
    Changed {
        /// The user as now stored.
        user: Box<User>,
        /// The sessions ended (this browser's among them: its apps are told too).
        ended: Vec<EndedSession>,
        /// The successor's cookie secret (the old cookie opens nothing any more).
        session_secret: String,
        /// A new known-browser cookie for this browser (the change voided the ones before).
        known_browser: String,
    },
}

/// A link being used: whose, for what, and the hash of the new password.
struct Link<'a> {
    token: &'a str,
    purpose: Purpose,
    user: &'a User,
    hash: &'a str,
}

/// Consumes the link and sets the password inside the caller's transaction (see
/// [`Idp::set_password_by_link`]); returns the sessions it ended.
fn set_password_in(
    conn: &mut store::DbConnection,
    now: i64,
    link: &Link<'_>,
    ip: Option<&str>,
    browser_session: Option<&str>,
    listeners: &crate::model::LogoutListeners,
) -> Result<Vec<EndedSession>, LifecycleError> {
    let user = link.user;
    let owner = store::email_tokens::consume(conn, &hash_token(link.token), link.purpose, now)?;
    if owner.as_deref() != Some(user.id.as_str()) {
        return Err(EmailTokenError::Invalid.into());
    }
    // An invitation is for a user still invited: one who got a password another way (an import)
    // cannot have it replaced by an old invitation mail.
    if link.purpose == Purpose::Invite && user.status != crate::UserStatus::Invited {
        return Err(EmailTokenError::Invalid.into());
    }
    // A relink link sets no password (it only opens the next enrollment, `signin`).
    if link.purpose == Purpose::Relink {
        return Err(EmailTokenError::Invalid.into());
    }
    store::users::set_password(conn, &user.id, link.hash, now)?;
    let actor = Actor::User(user.id.clone());
    let (event, detail, ended) = match link.purpose {
        Purpose::Invite => {
            store::users::activate(conn, &user.id, now)?;
            let browser = match browser_session {
                Some(s) => sessions::unended_by_secret(conn, &hash_token(s))?,
                None => Vec::new(),
            };
            let ended = sessions::end(conn, now, &browser, EndReason::Registration, listeners)?;
            (AuditAction::RegistrationCompleted, None, ended)
        }
        Purpose::Reset => {
            // Following the link proves control of the address.
            store::users::mark_email_verified(conn, &user.id)?;
            let ended = sessions::end_all_of_user(
                conn,
                now,
                &user.id,
                None,
                EndReason::PasswordReset,
                listeners,
            )?;
            (AuditAction::PasswordChanged, Some("by reset link"), ended)
        }
        Purpose::Relink => return Err(EmailTokenError::Invalid.into()),
    };
    let mut ev = AuditEvent::new(event, &actor)
        .user(&user.account_id, &user.id)
        .ip(ip);
    if let Some(d) = detail {
        ev = ev.detail(d);
    }
    audit::record(conn, now, &ev)?;
    attempts::clear_password_failures(conn, &user.email)?;
    Ok(ended)
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
        if !crate::policy::may_use_links(&user) {
            return Err(LifecycleError::Disabled);
        }
        Ok(user)
    }

    /// Consumes an invitation or reset link and sets the password (policy enforced first, so a
    /// refused password leaves the link usable). An invitation also verifies the email and
    /// activates the user, and ends the session this browser had (`browser_session`, its cookie
    /// secret), whoever's it was: the browser is about to be signed in as this user. A reset
    /// ends all the user's sessions. Ended sessions get back-channel logout.
    #[cfg(any(test, feature = "testing"))]
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
        let listeners = self.logout_listeners();
        let link = Link {
            token,
            purpose,
            user: &user,
            hash: &hash,
        };
        let ended = self
            .store()
            .tx(|conn| set_password_in(conn, now, &link, ip, browser_session, &listeners))?;
        let user = store::users::by_id(&mut *self.store().conn()?, &user.id)?.unwrap_or(user);
        Ok((user, ended))
    }

    /// A link form sent: the two passwords must match and pass the policy (else the form is
    /// shown again and the link stays usable). Then, in one transaction, the link is consumed
    /// and the password set (see [`Idp::set_password_by_link`]); a completed registration also
    /// signs this browser in: at once when the account needs no second factor, else in a new
    /// sign-in at enrollment (or the code).
    pub fn submit_link(
        &self,
        token: &str,
        purpose: Purpose,
        password: &str,
        confirmation: &str,
        browser: Browser<'_>,
    ) -> Result<LinkStep, LifecycleError> {
        let user = self.user_for_email_token(token, purpose)?;
        let refused = |refusal| {
            Ok(LinkStep::Refused {
                user: Box::new(user.clone()),
                refusal,
            })
        };
        if password != confirmation {
            return refused(PasswordRefusal::Differ);
        }
        if let Err(r) = self.password_policy().check(password, &user.email) {
            return refused(PasswordRefusal::Policy(r));
        }
        let hash = self.hasher().hash(password).map_err(UserError::from)?;
        let now = self.now();
        let listeners = self.logout_listeners();
        let link = Link {
            token,
            purpose,
            user: &user,
            hash: &hash,
        };
        // What a registration may start: a session, or a sign-in at the second factor.
        let session =
            self.new_session(&user, AuthMethod::Password, browser.ip, browser.user_agent)?;
        let (secret, flow) = (random_token()?, random_token()?);
        let flow_expires = now + self.settings().login_flow_ttl_secs;
        self.store().tx(|conn| {
            let ended = set_password_in(conn, now, &link, browser.ip, browser.session, &listeners)?;
            let (user, account) =
                store::users::with_account(conn, &user.id)?.ok_or(EmailTokenError::Invalid)?;
            // Issued no earlier than the password change it follows (`vouches_for`).
            let known_browser = self.vouch_for_browser(&user.id)?;
            if purpose == Purpose::Reset {
                return Ok(LinkStep::Reset {
                    user: Box::new(user),
                    ended,
                    known_browser,
                });
            }
            let stage = match crate::mfa::step_in(conn, &user, &account)? {
                MfaStep::None => {
                    start_in(conn, now, &user, &session, &secret, browser.ip)?;
                    let next = AfterRegistration::SignedIn {
                        session: Box::new(session.clone()),
                        secret: secret.clone(),
                        known_browser,
                    };
                    return Ok(LinkStep::Registered { ended, next });
                }
                MfaStep::Enroll => FlowStage::MfaEnroll,
                MfaStep::Verify => FlowStage::MfaVerify,
            };
            let flow_id = hash_token(&flow);
            store::flows::insert(conn, now, &flow_id, None, flow_expires)?;
            store::flows::advance(conn, now, &flow_id, &user.id, stage)?;
            let next = AfterRegistration::SecondFactor(flow.clone());
            Ok(LinkStep::Registered { ended, next })
        })
    }

    /// A signed-in user changes their password in the browser's session (`session_secret`, its
    /// cookie secret): the two new passwords must match, the current one is checked (throttled
    /// like sign-in: a stolen cookie is no faster a way to guess it), the new one must meet the
    /// policy, and every other session of the user ends (with back-channel logout). The
    /// browser's known-browser cookie (`known_browser`, as sent) keeps others' failures from
    /// refusing the check, as at sign-in; a new one is returned with the change.
    pub fn change_own_password(
        &self,
        session_secret: &str,
        current: &str,
        new: &str,
        confirmation: &str,
        ip: Option<&str>,
        known_browser: Option<&str>,
    ) -> Result<PasswordChange, UserError> {
        let Some((user, session)) = self.signed_in_user(session_secret)? else {
            return Ok(PasswordChange::NotSignedIn);
        };
        let refusal = if new != confirmation {
            ChangeRefusal::Differ
        } else {
            let known = known_browser.and_then(|c| self.known_browser(c));
            match self.change_password(&user, &session, current, new, ip, known.as_ref()) {
                // Replaced meanwhile: with the session, the user must sign in again; else the
                // password they confirmed is no longer theirs.
                Err(ChangePasswordError::Failed(UserError::Superseded)) => {
                    if self.signed_in_user(session_secret)?.is_none() {
                        return Ok(PasswordChange::NotSignedIn);
                    }
                    ChangeRefusal::WrongPassword
                }
                Ok((user, ended, renewed_secret)) => {
                    // Issued after the change, so the change does not void it.
                    let known_browser = self.vouch_for_browser(&user.id)?;
                    return Ok(PasswordChange::Changed {
                        user: Box::new(user),
                        ended,
                        session_secret: renewed_secret,
                        known_browser,
                    });
                }
                Err(ChangePasswordError::WrongPassword) => ChangeRefusal::WrongPassword,
                Err(ChangePasswordError::Locked(l)) => ChangeRefusal::Locked(l),
                Err(ChangePasswordError::Rejected(r)) => ChangeRefusal::Rejected(r),
                Err(ChangePasswordError::Failed(e)) => return Err(e),
            }
        };
        Ok(PasswordChange::Refused {
            user: Box::new(user),
            refusal,
        })
    }

    /// [`Idp::change_own_password`] in session `sid`: the current password is checked
    /// (throttled like sign-in), the new one must meet the policy, and every session of the
    /// user ends (with back-channel logout), this one included: a successor with a new cookie
    /// secret carries the browser's sign-in on (returned with its secret). All while the
    /// password checked and the session are still theirs.
    fn change_password(
        &self,
        user: &User,
        session: &SsoSession,
        current: &str,
        new: &str,
        ip: Option<&str>,
        known: Option<&KnownBrowser>,
    ) -> Result<(User, Vec<EndedSession>, String), ChangePasswordError> {
        match self.verify_current_password(user, current, ip, known) {
            Ok(()) => {}
            Err(AuthError::Locked(l)) => return Err(ChangePasswordError::Locked(l)),
            Err(AuthError::Store(e)) => return Err(e.into()),
            Err(AuthError::Hash(e)) => return Err(ChangePasswordError::Failed(e.into())),
            Err(AuthError::InvalidCredentials | AuthError::Disabled) => {
                return Err(ChangePasswordError::WrongPassword)
            }
        }
        let checked = user
            .password_hash
            .as_deref()
            .ok_or(ChangePasswordError::WrongPassword)?;
        let me = Actor::User(user.id.clone());
        let secret = random_token().map_err(|e| ChangePasswordError::Failed(e.into()))?;
        let successor = self
            .successor_of(session)
            .map_err(|e| ChangePasswordError::Failed(e.into()))?;
        let own = OwnChange {
            sid: &session.id,
            checked,
            successor: &successor,
            successor_secret_hash: &hash_token(&secret),
        };
        match self.set_password(&user.id, new, &me, ip, Some(own)) {
            Ok((user, ended)) => Ok((user, ended, secret)),
            Err(UserError::Password(r)) => Err(ChangePasswordError::Rejected(r)),
            Err(e) => Err(ChangePasswordError::Failed(e)),
        }
    }

    /// A forgot-password request, counted before any link is made, so it cannot be used to
    /// flood a mailbox: per email at the client address (3 an hour: a stranger elsewhere cannot
    /// spend the user's budget at theirs), per address (20 an hour) and, for browsers not known
    /// for the user (`known_browser`, the cookie as sent), per email from anywhere (10 an hour,
    /// a ceiling on what a flood from many addresses can send). The caller runs it in the
    /// background of its answer (the page answers alike and at once for every address).
    pub fn request_password_reset(
        &self,
        email: &str,
        ip: Option<&str>,
        known_browser: Option<&str>,
    ) -> Result<ResetRequest, LifecycleError> {
        let Ok(normalised) = normalise_email(email) else {
            return Ok(ResetRequest::Nothing);
        };
        let user = store::users::by_email(&mut *self.store().conn()?, &normalised)?;
        let known = known_browser
            .and_then(|c| self.known_browser(c))
            .is_some_and(|k| user.as_ref().is_some_and(|u| k.vouches_for(u)));
        let mut counters = vec![Counter::ForgotAt {
            email: &normalised,
            ip: ip.unwrap_or(""),
        }];
        if !known {
            counters.push(Counter::Forgot(&normalised));
        }
        counters.extend(ip.map(Counter::ForgotFromIp));
        let throttle = &self.settings().throttle;
        if let Reserved::Refused(_) =
            attempts::reserve(self.store(), self.now(), throttle, &counters)?
        {
            return Ok(ResetRequest::Nothing);
        }
        let Some(user) = user else {
            return Ok(ResetRequest::Nothing);
        };
        let (purpose, token) = match self.issue_link(&user) {
            Ok(link) => link,
            Err(EmailTokenError::Disabled) => return Ok(ResetRequest::Nothing),
            Err(e) => return Err(e.into()),
        };
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
