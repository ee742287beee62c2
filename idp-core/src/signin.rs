//! The sign-in use cases the server's handlers call, one each: answering an authorization
//! request (reuse the browser's session, or start a sign-in), the password step, the code step,
//! what a sign-in page shows, and signing in after a registration. Each decision is made here;
//! the handlers parse the request and render the answer.

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::flows::FlowError;
use crate::gate;
use crate::mfa::{EnrollmentView, MfaError, MfaStep};
use crate::model::{
    AuthMethod, EndReason, EndedSession, FlowStage, Locked, LoginFlow, NewCode,
    PendingAuthorization, SsoSession, User,
};
use crate::oauth::issue_code_in;
use crate::password::HashError;
use crate::policy::{self, ReuseRefusal, SessionRefusal};
use crate::sessions::start_in;
use crate::store::{self, sessions, StoreError};
use crate::users::AuthError;
use crate::Idp;

pub use crate::model::{Browser, Hinted, Prompt};

/// The answer to an authorization request.
#[derive(Debug)]
pub enum Authorization {
    /// The browser's session serves it: send the app this code.
    Code(String),
    /// The user must sign in first: this flow handle goes into the browser's cookie.
    SignIn(String),
    /// `prompt=none` and no usable session.
    LoginRequired,
}

/// A completed sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session.
    pub session: SsoSession,
    /// The cookie secret of the new session (only its hash is stored).
    pub secret: String,
    /// The authorization request the sign-in answered and the app's answer (`None` for a
    /// sign-in at the provider itself).
    pub code: Option<(PendingAuthorization, AppAnswer)>,
    /// The browser's previous session, ended by this one.
    pub ended: Vec<EndedSession>,
    /// The browser's known-browser cookie for the user (see `Idp::vouch_for_browser`): from now
    /// on others' failures do not refuse its password step for this user.
    pub known_browser: String,
}

/// What the app that asked for a sign-in gets.
#[derive(Debug)]
pub enum AppAnswer {
    /// This code.
    Code(String),
    /// `login_required`: someone else than the user its `id_token_hint` named signed in.
    OtherUser,
}

/// After the password step.
#[derive(Debug)]
pub enum PasswordStep {
    /// No second factor needed: signed in.
    SignedIn(Box<SignedIn>),
    /// The flow now asks for a second factor (enrollment or a code).
    SecondFactor,
    /// Refused (`MissingCredentials`, `InvalidCredentials`, `Locked`, `Disabled`): show the
    /// flow's page again with the refusal.
    Refused {
        /// Why.
        refusal: SignInError,
        /// The page to show again.
        page: Box<SignInPage>,
    },
}

/// What the sign-in page shows when the browser comes to it.
#[derive(Debug)]
pub enum SignInStart {
    /// The step of the browser's sign-in in progress.
    Flow(Box<SignInPage>),
    /// No sign-in in progress and the browser is signed in: this user.
    SignedIn(Box<User>),
    /// A new sign-in at the provider itself (no app): its handle goes into the cookie.
    Started(String),
}

/// After a correct code.
#[derive(Debug)]
pub enum CodeStep {
    /// Signed in; `linked_app` when this code linked the user's authenticator app.
    SignedIn {
        /// The completed sign-in.
        signed_in: Box<SignedIn>,
        /// Whether this code linked the authenticator app (the user is mailed).
        linked_app: bool,
    },
    /// The flow moved on meanwhile (an app linked or disconnected elsewhere): show it again.
    Moved,
    /// Refused (`InvalidFormat`, `InvalidCode`, `CodeReplayed`, `Locked`, `Disabled`): show the
    /// flow's page again with the refusal.
    Refused {
        /// Why.
        refusal: SignInError,
        /// The page to show again.
        page: Box<SignInPage>,
    },
}

/// What the sign-in page of a flow shows.
#[derive(Debug)]
pub enum SignInPage {
    /// Email and password, for this request.
    Password(Option<PendingAuthorization>),
    /// The QR code and activation code of this sign-in's own secret.
    Enroll {
        /// Who is enrolling.
        user: Box<User>,
        /// What the page shows.
        view: EnrollmentView,
        /// The app the sign-in is for, if one asked (its pages carry its brand).
        client_id: Option<String>,
    },
    /// The user must link a new app and, after a help-desk disconnect with
    /// `relink_requires_email`, only a sign-in opened by the link mailed to them may: this page
    /// says so (and offers a new link).
    RelinkByEmail {
        /// Who.
        user: Box<User>,
        /// The app the sign-in is for, if one asked.
        client_id: Option<String>,
    },
    /// A code from the linked app.
    Verify {
        /// Who is signing in.
        user: User,
        /// The app the sign-in is for, if one asked.
        client_id: Option<String>,
    },
}

/// Why a sign-in step was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The sign-in has expired.
    #[error("the sign-in has expired")]
    Expired,
    /// The flow is at another step (a form from another tab).
    #[error("the sign-in is at another step")]
    WrongStage,
    /// Too many sign-ins were started from this address.
    #[error("too many sign-ins were started from this address")]
    TooManySignIns(Locked),
    /// The email or the password is empty.
    #[error("the email or the password is empty")]
    MissingCredentials,
    /// The email or password is not correct.
    #[error("the email or password is not correct")]
    InvalidCredentials,
    /// This user is disabled.
    #[error("this user is disabled")]
    Disabled,
    #[error("too many failed attempts; locked until {}", .0.until)]
    /// Too many failed attempts: locked until then.
    Locked(Locked),
    /// The code is not 6 digits.
    #[error("the code is not 6 digits")]
    InvalidFormat,
    /// The code is not correct.
    #[error("the code is not correct")]
    InvalidCode,
    /// The code has already been used.
    #[error("the code has already been used")]
    CodeReplayed,
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// Password hashing failed.
    Hash(#[from] HashError),
    #[error(transparent)]
    /// The TOTP parameters or the QR code failed.
    Mfa(MfaError),
}

impl From<FlowError> for SignInError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Expired => SignInError::Expired,
            FlowError::TooMany(l) => SignInError::TooManySignIns(l),
            FlowError::Crypto(c) => c.into(),
            FlowError::Store(s) => s.into(),
        }
    }
}
impl From<AuthError> for SignInError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => SignInError::InvalidCredentials,
            AuthError::Locked(l) => SignInError::Locked(l),
            AuthError::Disabled => SignInError::Disabled,
            AuthError::Store(s) => s.into(),
            AuthError::Hash(h) => h.into(),
        }
    }
}
impl Idp {
    /// Answers a validated authorization request: a code when the browser's session may serve
    /// it (see [`Idp::reuse_session`]; the session is slid and the code issued in the same
    /// transaction), else `LoginRequired` for `prompt=none`, else a new sign-in flow for it
    /// (rate-limited per address).
    pub fn authorize(
        &self,
        request: &PendingAuthorization,
        prompt: Prompt,
        browser: Browser<'_>,
    ) -> Result<Authorization, SignInError> {
        if let Some(secret) = browser.session {
            let now = self.now();
            let ttl = self.settings().code_ttl_secs;
            let code = self.store().tx(|conn| {
                let Some(session) = reuse_in(conn, now, secret, &prompt, &self.logout_listeners())?
                else {
                    return Ok::<_, SignInError>(None);
                };
                let new = NewCode::of(request, &session.id, &session.user_id);
                issue_code_in(conn, now, ttl, &new).map(Some)
            })?;
            if let Some(code) = code {
                return Ok(Authorization::Code(code));
            }
        }
        if prompt.none {
            return Ok(Authorization::LoginRequired);
        }
        // The flow keeps whom the hint named, for its completion.
        let request = PendingAuthorization {
            hinted_sub: match prompt.subject {
                Some(Hinted::User(sub)) => Some(sub),
                _ => None,
            },
            ..request.clone()
        };
        Ok(Authorization::SignIn(
            self.create_flow(Some(&request), browser.ip)?,
        ))
    }

    /// The browser's session (by its cookie secret), slid, if it may serve a new authorization
    /// request without signing in again: live; younger than `max_age` when one is asked
    /// (`max_age=0` always asks again, OIDC Core 3.1.2.1); its user may hold it (see
    /// [`policy::may_use_session`]); and, when the account requires MFA, the user still has a
    /// linked app. A session without the second factor its account requires is ended on the spot
    /// (with back-channel logout), as at refresh. One transaction.
    #[cfg(any(test, feature = "testing"))]
    pub fn reuse_session(
        &self,
        secret: &str,
        max_age: Option<i64>,
    ) -> Result<Option<SsoSession>, StoreError> {
        let now = self.now();
        let prompt = Prompt {
            max_age,
            ..Prompt::default()
        };
        self.store()
            .tx(|conn| reuse_in(conn, now, secret, &prompt, &self.logout_listeners()))
    }

    /// What the sign-in page of a flow shows (its stage, and for enrollment this sign-in's own
    /// secret).
    pub(crate) fn sign_in_page(&self, flow: &str) -> Result<SignInPage, SignInError> {
        let f = self.flow(flow)?;
        let user = match (f.stage, &f.user_id) {
            (FlowStage::Password, _) => return Ok(SignInPage::Password(f.request)),
            (_, Some(uid)) => self.user_by_id(uid)?.ok_or(SignInError::Expired)?,
            (_, None) => return Err(SignInError::Expired),
        };
        let client_id = f.request.map(|r| r.client_id);
        match f.stage {
            FlowStage::MfaVerify => return Ok(SignInPage::Verify { user, client_id }),
            FlowStage::RelinkByEmail => {
                return Ok(SignInPage::RelinkByEmail {
                    user: Box::new(user),
                    client_id,
                })
            }
            _ => {}
        }
        match self.begin_enrollment(&user, flow) {
            Ok(view) => Ok(SignInPage::Enroll {
                user: Box::new(user),
                view,
                client_id,
            }),
            // Linked meanwhile (another tab): ask for a code instead.
            Err(MfaError::AlreadyLinked) => Ok(SignInPage::Verify { user, client_id }),
            Err(MfaError::NotEnrolled) => Err(SignInError::Expired),
            // Behind the relink gate (the flow reached enrollment another way): ask for the link.
            Err(MfaError::RelinkByEmail) => Ok(SignInPage::RelinkByEmail {
                user: Box::new(user),
                client_id,
            }),
            Err(e) => Err(mfa_error(e)),
        }
    }

    /// The password step of a flow: verifies the password (throttled, enumeration-safe; a browser
    /// known for the user counts on its own key, see `ThrottleSettings`), then completes the
    /// sign-in when the account needs no second factor, or moves the flow to enrollment or the
    /// code.
    pub fn sign_in_password(
        &self,
        flow: &str,
        email: &str,
        password: &str,
        browser: Browser<'_>,
    ) -> Result<PasswordStep, SignInError> {
        if self.flow(flow)?.stage != FlowStage::Password {
            return Err(SignInError::WrongStage);
        }
        let user = if email.is_empty() || password.is_empty() {
            Err(SignInError::MissingCredentials)
        } else {
            let known = browser.known_browser.and_then(|c| self.known_browser(c));
            self.authenticate_password_from(email, password, browser.ip, known.as_ref())
                .map_err(SignInError::from)
        };
        let user = match user {
            Ok(user) => user,
            Err(
                refusal @ (SignInError::MissingCredentials
                | SignInError::InvalidCredentials
                | SignInError::Locked(_)
                | SignInError::Disabled),
            ) => {
                let page = Box::new(self.sign_in_page(flow)?);
                return Ok(PasswordStep::Refused { refusal, page });
            }
            Err(e) => return Err(e),
        };
        let next = match self.mfa_step(&user)? {
            MfaStep::None => {
                let done = self.complete_sign_in(flow, &user, AuthMethod::Password, browser)?;
                return Ok(PasswordStep::SignedIn(Box::new(done)));
            }
            MfaStep::Enroll => self.enroll_stage(&user, flow)?,
            MfaStep::Verify => FlowStage::MfaVerify,
        };
        self.advance_flow(flow, &user, next)?;
        Ok(PasswordStep::SecondFactor)
    }

    /// The code step of a flow: the enrollment confirmation (links the app this sign-in showed)
    /// or a code from the linked app; then the sign-in completes. When the flow's stage no longer
    /// fits (an app was linked in another tab, or disconnected), it moves on (`Moved`).
    pub fn sign_in_code(
        &self,
        flow: &str,
        code: &str,
        browser: Browser<'_>,
    ) -> Result<CodeStep, SignInError> {
        let f = self.flow(flow)?;
        let (Some(uid), FlowStage::MfaEnroll | FlowStage::MfaVerify) = (&f.user_id, f.stage) else {
            return Err(SignInError::WrongStage);
        };
        let user = self.user_by_id(uid)?.ok_or(SignInError::Expired)?;
        let enrolling = f.stage == FlowStage::MfaEnroll;
        // Disabled since the password step: no code is checked, no app linked.
        let checked = if !policy::may_sign_in(&user) {
            CodeCheck::Refused(SignInError::Disabled)
        } else {
            let checked = if enrolling {
                self.confirm_enrollment(&user, flow, code, browser.ip, browser.user_agent)
            } else {
                self.verify_totp(&user, code, browser.ip)
            };
            match checked {
                Ok(()) => CodeCheck::Passed,
                // Linked meanwhile (another tab): continue with a code.
                Err(MfaError::AlreadyLinked) => CodeCheck::MoveTo(FlowStage::MfaVerify),
                // Disconnected by an operator meanwhile: enroll again (behind the relink gate).
                Err(MfaError::NotEnrolled) if !enrolling => {
                    CodeCheck::MoveTo(self.enroll_stage(&user, flow)?)
                }
                Err(e) => CodeCheck::Refused(mfa_error(e)),
            }
        };
        match checked {
            CodeCheck::Passed => {
                let signed_in =
                    self.complete_sign_in(flow, &user, AuthMethod::PasswordAndTotp, browser)?;
                Ok(CodeStep::SignedIn {
                    signed_in: Box::new(signed_in),
                    linked_app: enrolling,
                })
            }
            CodeCheck::MoveTo(stage) => {
                self.advance_flow(flow, &user, stage)?;
                Ok(CodeStep::Moved)
            }
            CodeCheck::Refused(
                refusal @ (SignInError::InvalidFormat
                | SignInError::InvalidCode
                | SignInError::CodeReplayed
                | SignInError::Locked(_)
                | SignInError::Disabled),
            ) => {
                let page = Box::new(self.sign_in_page(flow)?);
                Ok(CodeStep::Refused { refusal, page })
            }
            CodeCheck::Refused(other) => Err(other),
        }
    }

    /// What GET of the sign-in page shows: the step of the browser's sign-in in progress (its
    /// flow handle); else, when the browser is signed in, who; else a new sign-in at the provider
    /// itself (rate-limited per address like every flow).
    pub fn open_sign_in(
        &self,
        flow: Option<&str>,
        browser: Browser<'_>,
    ) -> Result<SignInStart, SignInError> {
        if let Some(handle) = flow {
            match self.sign_in_page(handle) {
                Ok(page) => return Ok(SignInStart::Flow(Box::new(page))),
                // A flow that ended: start again below.
                Err(SignInError::Expired) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(secret) = browser.session {
            if let Some((user, _)) = self.signed_in_user(secret)? {
                return Ok(SignInStart::SignedIn(Box::new(user)));
            }
        }
        Ok(SignInStart::Started(self.create_flow(None, browser.ip)?))
    }

    /// Completes a sign-in in one transaction: holds the user to the password this sign-in
    /// checked (`user` as read then; set since, the sign-in has expired), consumes the flow
    /// (once: a double submit cannot finish twice), checks that the user (as stored now) may
    /// hold a session signed in with `method`, ends the session this browser had, starts the new
    /// one, and issues the code for the authorization request the flow answers.
    pub(crate) fn complete_sign_in(
        &self,
        flow: &str,
        user: &User,
        method: AuthMethod,
        browser: Browser<'_>,
    ) -> Result<SignedIn, SignInError> {
        let secret = random_token()?;
        // Made before the transaction, so nothing fails after it. (Not voided by the password
        // `user` was read with: `hold_checked` below holds the sign-in to it.)
        let known_browser = self.vouch_for_browser(&user.id)?;
        let session = self.new_session(user, method, browser.ip, browser.user_agent)?;
        let now = self.now();
        let listeners = self.logout_listeners();
        let ttl = self.settings().code_ttl_secs;
        let (flow, code, ended) = self.store().tx(|conn| {
            // Only on the hash `user` was read with: at the password step the one just verified;
            // at the code step the one stored when that step read the user (a password set
            // before then has already cancelled this flow, so `consume` below finds nothing).
            if !store::users::hold_checked(conn, user)? {
                return Err(SignInError::Expired);
            }
            let flow: LoginFlow =
                store::flows::consume(conn, &hash_token(flow), now)?.ok_or(SignInError::Expired)?;
            let (current, account) =
                store::users::with_account(conn, &user.id)?.ok_or(SignInError::Expired)?;
            match policy::may_use_session(&current, &account, method) {
                Ok(()) => {}
                Err(SessionRefusal::UserNotActive) => return Err(SignInError::Disabled),
                // MFA turned on since the password step: start again (and pass it).
                Err(SessionRefusal::SecondFactorMissing) => return Err(SignInError::Expired),
            }
            let previous = match browser.session {
                Some(s) => sessions::unended_by_secret(conn, &hash_token(s))?,
                None => Vec::new(),
            };
            let ended = sessions::end(conn, now, &previous, EndReason::Replaced, &listeners)?;
            start_in(conn, now, user, &session, &secret, browser.ip)?;
            // No code for another user than the one the app's hint named.
            let code = match flow.request.as_ref() {
                Some(r) if !r.hints_another_than(&user.id) => {
                    let new = NewCode::of(r, &session.id, &user.id);
                    Some(issue_code_in::<SignInError>(conn, now, ttl, &new)?)
                }
                _ => None,
            };
            Ok::<_, SignInError>((flow, code, ended))
        })?;
        Ok(SignedIn {
            session,
            secret,
            code: flow.request.map(|r| {
                let answer = match code {
                    Some(code) => AppAnswer::Code(code),
                    None => AppAnswer::OtherUser,
                };
                (r, answer)
            }),
            ended,
            known_browser,
        })
    }
}

/// [`Idp::reuse_session`] inside the caller's transaction: the browser's live session, slid,
/// when no check of [`policy::reuse_refusal`] refuses it (a session the session rule refuses is
/// ended, see [`crate::gate`]).
fn reuse_in(
    conn: &mut store::DbConnection,
    now: i64,
    secret: &str,
    prompt: &Prompt,
    listeners: &crate::model::LogoutListeners,
) -> Result<Option<SsoSession>, StoreError> {
    let Some(session) = sessions::live_by_secret(conn, &hash_token(secret), now)? else {
        return Ok(None);
    };
    let Some((user, account)) = store::users::with_account(conn, &session.user_id)? else {
        return Ok(None);
    };
    match policy::reuse_refusal(prompt, &session, &user, &account, now) {
        None => {}
        Some(ReuseRefusal::Session(why)) => {
            gate::refuse_in(conn, now, &session.id, why, listeners)?;
            return Ok(None);
        }
        Some(_) => return Ok(None),
    }
    // (A session that passed a second factor never outlives the app that passed it: every
    // removal of a linked app ends the user's sessions in its transaction, `disconnect_mfa` and
    // an import's new secret alike.)
    sessions::touch(conn, now, &session.id)
}

/// The outcome of checking a code at the code step.
enum CodeCheck {
    Passed,
    /// The flow's stage no longer fits: move it here and show it.
    MoveTo(FlowStage),
    Refused(SignInError),
}

fn mfa_error(e: MfaError) -> SignInError {
    match e {
        MfaError::InvalidFormat => SignInError::InvalidFormat,
        MfaError::InvalidCode => SignInError::InvalidCode,
        MfaError::CodeReplayed => SignInError::CodeReplayed,
        MfaError::Locked(l) => SignInError::Locked(l),
        MfaError::NotEnrolled | MfaError::AlreadyLinked | MfaError::RelinkByEmail => {
            SignInError::WrongStage
        }
        MfaError::Store(s) => s.into(),
        MfaError::Crypto(c) => c.into(),
        e @ (MfaError::Settings(_)
        | MfaError::Qr(_)
        | MfaError::Reason(_)
        | MfaError::TooManyDisconnects(_)) => SignInError::Mfa(e),
    }
}
