//! TOTP as the second factor, and the per-account MFA policy that decides who needs it.
//!
//! Invariants:
//! - A code is accepted at most once per user: the matched time step is stored and any code of
//!   that step or an earlier one is refused, the enrollment code included, on every replica.
//! - A pending secret belongs to the sign-in (login flow) that showed it and expires with it; it
//!   becomes the linked app only after a valid code in that flow; one linked app per user.
//! - Secrets are sealed with the master key, bound to the user id (and a pending one to its flow).
//! - A code attempt is counted before it is checked (`store::attempts`).

mod totp;

use serde::Serialize;

use crate::crypto::random_bytes;
use crate::model::{Account, Actor, AuditAction, AuditEvent, Counter, CounterState, Locked, User};
use crate::store::attempts::{self, Reserved};
use crate::store::flows::{self, PendingSecret};
use crate::store::{self, audit, StoreError};
use crate::Idp;

mod disconnect;
mod error;
mod relink;

pub use crate::model::TotpSettings;
pub use disconnect::{Disconnected, Recipient};
pub use error::MfaError;
pub use relink::RelinkError;
pub use totp::{
    base32_decode, base32_encode, format_activation_code, matching_step, normalise_code, qr_svg,
    DIGITS, SECRET_BYTES, STEP_SECS,
};

/// What the next step of a sign-in must be, once the password is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaStep {
    /// The account does not require MFA.
    None,
    /// MFA is required and no app is linked: show the QR code.
    Enroll,
    /// MFA is required and an app is linked: ask for a code.
    Verify,
}

/// [`Idp::mfa_step`] inside the caller's transaction, for `user` of `account`: turns the one MFA
/// rule (`policy::requires_second_factor`) and the user's linked app into the next step.
pub(crate) fn step_in(
    conn: &mut store::DbConnection,
    user: &User,
    account: &Account,
) -> Result<MfaStep, StoreError> {
    if !crate::policy::requires_second_factor(user, account) {
        return Ok(MfaStep::None);
    }
    Ok(match store::totp::linked(conn, &user.id)? {
        Some(_) => MfaStep::Verify,
        None => MfaStep::Enroll,
    })
}

/// A user's MFA state, for `mfa status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentState {
    /// No app is linked, and no sign-in is showing a secret.
    NotEnrolled,
    /// A sign-in is showing a QR code right now (not yet confirmed).
    Pending,
    /// An app is linked.
    Linked,
}

impl EnrollmentState {
    /// A linked app wins over a sign-in showing a secret.
    pub(crate) fn of(linked: bool, pending: bool) -> Self {
        match (linked, pending) {
            (true, _) => EnrollmentState::Linked,
            (false, true) => EnrollmentState::Pending,
            (false, false) => EnrollmentState::NotEnrolled,
        }
    }
}

/// What the enrollment page shows.
#[derive(Debug, Clone)]
pub struct EnrollmentView {
    /// `otpauth://totp/Issuer:email?secret=...&issuer=Issuer&algorithm=SHA1&digits=6&period=30`
    pub otpauth_uri: String,
    /// The QR code of the URI as an inline SVG element.
    pub qr_svg: String,
    /// The base32 secret in groups of 4, for typing into an app by hand.
    pub activation_code: String,
}

impl Idp {
    fn linked_app(&self, user_id: &str) -> Result<Option<store::totp::LinkedApp>, StoreError> {
        store::totp::linked(&mut *self.store().conn()?, user_id)
    }

    /// Linked, pending (a sign-in is showing a QR code right now) or not enrolled.
    pub fn enrollment_state(&self, user_id: &str) -> Result<EnrollmentState, StoreError> {
        let mut conn = self.store().conn()?;
        if store::totp::linked(&mut conn, user_id)?.is_some() {
            return Ok(EnrollmentState::Linked);
        }
        let pending = flows::has_pending_secret(&mut conn, self.now(), user_id)?;
        Ok(EnrollmentState::of(false, pending))
    }

    /// The second step this user needs after the password: decided by the account's policy only.
    pub(crate) fn mfa_step(&self, user: &User) -> Result<MfaStep, StoreError> {
        let mut conn = self.store().conn()?;
        let account = store::accounts::by_id(&mut conn, &user.account_id)?
            .ok_or_else(|| StoreError::Corrupt(format!("user {} has no account", user.id)))?;
        step_in(&mut conn, user, &account)
    }

    /// Starts (or resumes) enrollment in one sign-in (`flow` is its handle): returns the QR code
    /// and activation code of the flow's own pending secret, creating it if needed. A secret is
    /// never shown to another sign-in: whoever passes the password step next gets a new one, so
    /// a secret copied with a phished password cannot become the real user's app. Refused while
    /// an app is linked.
    pub fn begin_enrollment(&self, user: &User, flow: &str) -> Result<EnrollmentView, MfaError> {
        if self.linked_app(&user.id)?.is_some() {
            return Err(MfaError::AlreadyLinked);
        }
        if !self.may_enroll(user, flow)? {
            return Err(MfaError::RelinkByEmail);
        }
        let now = self.now();
        let flow_id = crate::crypto::hash_token(flow);
        let aad = flows::pending_aad(&user.id, &flow_id);
        let shown = flows::pending_secret(&mut *self.store().conn()?, now, &flow_id, &user.id)?;
        let secret = match shown {
            PendingSecret::NoFlow => return Err(MfaError::NotEnrolled),
            // Reloading the page shows the same secret, so a scan made a moment ago stays valid.
            PendingSecret::Sealed(sealed) => self.secrets().open(&sealed, &aad)?,
            PendingSecret::None => {
                let secret = random_bytes::<SECRET_BYTES>()?.to_vec();
                let sealed = self.secrets().seal(&secret, &aad)?;
                let stored = self
                    .store()
                    .tx(|c| flows::put_pending_secret(c, now, &flow_id, &user.id, &sealed))?;
                if !stored {
                    // Another request of this flow stored one first: show that one.
                    return self.begin_enrollment(user, flow);
                }
                secret
            }
        };
        self.enrollment_view(&secret, &user.email)
    }

    fn enrollment_view(&self, secret: &[u8], email: &str) -> Result<EnrollmentView, MfaError> {
        let issuer = &self.settings().totp.issuer;
        // totp-rs omits parameters at their defaults; spell them out so every app reads them alike.
        let otpauth_uri = format!(
            "{}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            totp::totp(secret, issuer, email)?.get_url()
        );
        Ok(EnrollmentView {
            qr_svg: qr_svg(&otpauth_uri)?,
            activation_code: format_activation_code(secret),
            otpauth_uri,
        })
    }

    /// Confirms enrollment in the sign-in that showed the secret: a valid code for that flow's
    /// pending secret makes it the user's linked app (one per user: a second confirmation, from
    /// any flow, finds it linked), and the code's step is remembered so it cannot be used again.
    pub(crate) fn confirm_enrollment(
        &self,
        user: &User,
        flow: &str,
        input: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(), MfaError> {
        let code = normalise_code(input)?;
        if self.linked_app(&user.id)?.is_some() {
            return Err(MfaError::AlreadyLinked);
        }
        if !self.may_enroll(user, flow)? {
            return Err(MfaError::RelinkByEmail);
        }
        let now = self.now();
        let flow_id = crate::crypto::hash_token(flow);
        let shown = flows::pending_secret(&mut *self.store().conn()?, now, &flow_id, &user.id)?;
        let PendingSecret::Sealed(sealed) = shown else {
            return Err(MfaError::NotEnrolled);
        };
        let locks = self.reserve_code_attempt(user)?;
        let secret = self
            .secrets()
            .open(&sealed, &flows::pending_aad(&user.id, &flow_id))?;
        let Some(step) = matching_step(&secret, &code, now, self.settings().totp.drift_steps)?
        else {
            return Err(self.code_failed(user, ip, locks)?);
        };
        let linked_sealed = self
            .secrets()
            .seal(&secret, &store::totp::linked_aad(&user.id))?;
        let browser: Option<String> = user_agent.map(|u| u.chars().take(200).collect());
        let result = self.store().tx(|conn| {
            // Only one confirmation of this flow's secret gets it (a double submit gets nothing).
            if !flows::take_pending_secret(conn, &flow_id, &sealed)? {
                return Ok(false);
            }
            store::totp::insert_linked(conn, now, &user.id, &linked_sealed, Some(step))?;
            attempts::clear(conn, &Counter::Totp(&user.id))?;
            relink::relinked_in(conn, user, now)?;
            let actor = Actor::User(user.id.clone());
            let mut ev = AuditEvent::new(AuditAction::MfaEnrolled, &actor)
                .user(&user.account_id, &user.id)
                .ip(ip);
            if let Some(b) = &browser {
                ev = ev.detail(format!("browser={b}"));
            }
            audit::record(conn, now, &ev)?;
            Ok::<_, StoreError>(true)
        });
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(MfaError::CodeReplayed),
            // Another sign-in of this user linked an app first.
            Err(e) if e.is_unique_violation() => Err(MfaError::AlreadyLinked),
            Err(e) => Err(e.into()),
        }
    }

    /// Verifies a sign-in code against the linked app; each code works once. The attempt is
    /// counted before the code is checked.
    pub(crate) fn verify_totp(
        &self,
        user: &User,
        input: &str,
        ip: Option<&str>,
    ) -> Result<(), MfaError> {
        let code = normalise_code(input)?;
        let store::totp::LinkedApp {
            secret_sealed: sealed,
            last_used_step: last_used,
        } = self.linked_app(&user.id)?.ok_or(MfaError::NotEnrolled)?;
        let locks = self.reserve_code_attempt(user)?;
        let secret = self
            .secrets()
            .open(&sealed, &store::totp::linked_aad(&user.id))?;
        let now = self.now();
        let Some(step) = matching_step(&secret, &code, now, self.settings().totp.drift_steps)?
        else {
            return Err(self.code_failed(user, ip, locks)?);
        };
        let accepted = last_used.is_none_or(|last| step > last)
            && self.store().tx(|conn| {
                // The database decides between racing requests: one moves the step forward.
                let won = store::totp::use_step(conn, &user.id, step)?;
                if won {
                    attempts::clear(conn, &Counter::Totp(&user.id))?;
                }
                Ok::<_, StoreError>(won)
            })?;
        if accepted {
            return Ok(());
        }
        self.audit(
            &AuditEvent::new(AuditAction::MfaCodeReplayed, &Actor::User(user.id.clone()))
                .user(&user.account_id, &user.id)
                .ip(ip),
        )?;
        Err(MfaError::CodeReplayed)
    }

    /// Takes a code attempt for this user; `Some(lock)` if a failure of this attempt locks.
    fn reserve_code_attempt(&self, user: &User) -> Result<Option<Locked>, MfaError> {
        let counters = [Counter::Totp(&user.id)];
        match attempts::reserve(
            self.store(),
            self.now(),
            &self.settings().throttle,
            &counters,
        )? {
            Reserved::Taken(taken) => Ok(taken.reached()),
            Reserved::Refused(l) => Err(MfaError::Locked(l)),
        }
    }

    fn code_failed(
        &self,
        user: &User,
        ip: Option<&str>,
        locks: Option<Locked>,
    ) -> Result<MfaError, StoreError> {
        self.audit(
            &AuditEvent::new(AuditAction::MfaCodeFailed, &Actor::User(user.id.clone()))
                .user(&user.account_id, &user.id)
                .ip(ip),
        )?;
        Ok(match locks {
            Some(l) => MfaError::Locked(l),
            None => MfaError::InvalidCode,
        })
    }

    /// The TOTP lockout state of a user (for `user show`).
    pub fn totp_lockout(&self, user: &User) -> Result<Option<CounterState>, StoreError> {
        attempts::state(
            &mut *self.store().conn()?,
            &Counter::Totp(&user.id),
            self.now(),
        )
    }
}
