//! TOTP (RFC 6238) as the second factor, and the per-account MFA policy that decides who needs it.
//!
//! Invariants:
//! - A code is accepted at most once per user: the matched time step is stored and any code of
//!   that step or an earlier one is refused, the enrollment code included, on every replica.
//! - A pending secret belongs to the sign-in (login flow) that showed it and expires with it; it
//!   becomes the linked app only after a valid code in that flow; one linked app per user.
//! - Secrets are sealed with the master key, bound to the user id (and a pending one to its flow).

use diesel::prelude::*;
use serde::Serialize;
use totp_rs::{Algorithm, TOTP};

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::{ct_eq, random_bytes, CryptoError};
use crate::flows;
use crate::model::{MfaPolicy, User};
use crate::store::schema::totp_credentials as tc;
use crate::store::StoreError;
use crate::throttle::{self, key, Locked, ThrottleError};
use crate::Idp;

/// What every authenticator app supports: SHA1, 6 digits, 30 seconds.
pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
/// 160-bit secrets, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

#[derive(Debug, Clone)]
pub struct TotpSettings {
    /// Shown in the app next to the account (e.g. the product name). No `:` allowed.
    pub issuer: String,
    /// Steps of clock drift tolerated either side of now.
    pub drift_steps: u8,
}

impl Default for TotpSettings {
    fn default() -> Self {
        TotpSettings {
            issuer: "Identity Provider".into(),
            drift_steps: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("Enter the 6-digit code from your authenticator app.")]
    InvalidFormat,
    #[error("That code is not correct. Use the newest code your app shows.")]
    InvalidCode,
    #[error("That code has already been used. Wait for the next code in your app.")]
    CodeReplayed,
    #[error("Too many wrong codes; try again later.")]
    Locked(Locked),
    #[error("An authenticator app is already linked to this user.")]
    AlreadyLinked,
    #[error("No authenticator app is linked to this user.")]
    NotEnrolled,
    #[error("invalid TOTP settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for MfaError {
    fn from(e: diesel::result::Error) -> Self {
        MfaError::Store(e.into())
    }
}

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

/// A user's MFA state, for `mfa status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentState {
    NotEnrolled,
    Pending,
    Linked,
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

/// Strips spaces and dashes; the rest must be exactly 6 ASCII digits.
pub fn normalise_code(input: &str) -> Result<String, MfaError> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}' | '\t'))
        .collect();
    if code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(MfaError::InvalidFormat)
    }
}

/// The base32 secret in groups of 4 characters.
pub fn format_activation_code(secret: &[u8]) -> String {
    let b32 = base32_encode(secret);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 4648 base32 without padding (what authenticator apps expect).
pub fn base32_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<TOTP, MfaError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(|e| MfaError::Settings(e.to_string()))
}

/// The step whose code equals `code`, looking `drift` steps either side of `now`. Every candidate
/// is computed and compared in constant time, so timing does not tell which step matched.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    now: i64,
    drift: u8,
) -> Result<Option<i64>, MfaError> {
    let t = totp(secret, "x", "x")?;
    let current = now.div_euclid(STEP_SECS as i64);
    let mut found = None;
    for offset in -(i64::from(drift))..=i64::from(drift) {
        let step = current + offset;
        if step < 0 {
            continue;
        }
        let candidate = t.generate(step as u64 * STEP_SECS);
        if ct_eq(candidate.as_bytes(), code.as_bytes()) {
            found = Some(found.map_or(step, |f: i64| f.max(step)));
        }
    }
    Ok(found)
}

/// An inline SVG QR code for `data`.
pub fn qr_svg(data: &str) -> Result<String, MfaError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| MfaError::Settings(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration: the SVG is embedded in an HTML page.
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

/// The binding of a linked app's sealed secret: its user.
pub(crate) fn linked_aad(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// The binding of a pending (shown, not yet confirmed) secret: its user and the login flow that
/// showed it, so it opens in that flow only.
pub(crate) fn pending_aad(user_id: &str, flow_id: &str) -> String {
    format!("totp-pending:{user_id}:{flow_id}")
}

/// A linked app's row: sealed secret and the last step used.
type CredRow = (String, Option<i64>);

impl Idp {
    fn load_credential(&self, user_id: &str) -> Result<Option<CredRow>, StoreError> {
        let mut conn = self.store().conn()?;
        Ok(tc::table
            .find(user_id)
            .filter(tc::linked.eq(true))
            .select((tc::secret_sealed, tc::last_used_step))
            .get_result(&mut conn)
            .optional()?)
    }

    /// Linked, pending (a sign-in is showing a QR code right now) or not enrolled.
    pub fn enrollment_state(&self, user_id: &str) -> Result<EnrollmentState, StoreError> {
        if self.load_credential(user_id)?.is_some() {
            return Ok(EnrollmentState::Linked);
        }
        let now = self.now();
        let mut conn = self.store().conn()?;
        Ok(if flows::has_pending_secret(&mut conn, now, user_id)? {
            EnrollmentState::Pending
        } else {
            EnrollmentState::NotEnrolled
        })
    }

    /// The second step this user needs after the password: decided by the account's policy only.
    pub fn mfa_step(&self, user: &User) -> Result<MfaStep, StoreError> {
        let account = self
            .account_by_id(&user.account_id)?
            .ok_or_else(|| StoreError::Corrupt(format!("user {} has no account", user.id)))?;
        if account.mfa_policy == MfaPolicy::Off {
            return Ok(MfaStep::None);
        }
        Ok(match self.load_credential(&user.id)? {
            Some(_) => MfaStep::Verify,
            None => MfaStep::Enroll,
        })
    }

    /// Starts (or resumes) enrollment in one sign-in (`flow` is its handle): returns the QR code
    /// and activation code of the flow's own pending secret, creating it if needed. A secret is
    /// never shown to another sign-in: whoever passes the password step next gets a new one, so
    /// a secret copied with a phished password cannot become the real user's app. Refused while
    /// an app is linked.
    pub fn begin_enrollment(&self, user: &User, flow: &str) -> Result<EnrollmentView, MfaError> {
        if self.load_credential(&user.id)?.is_some() {
            return Err(MfaError::AlreadyLinked);
        }
        let now = self.now();
        let aad = pending_aad(&user.id, &flows::flow_id(flow));
        let mut conn = self.store().conn()?;
        let secret = match flows::pending_secret(&mut conn, now, flow, &user.id)? {
            None => return Err(MfaError::NotEnrolled),
            // Reloading the page shows the same secret, so a scan made a moment ago stays valid.
            Some(Some(sealed)) => self.secrets().open(&sealed, &aad)?,
            Some(None) => {
                let secret = random_bytes::<SECRET_BYTES>()?.to_vec();
                let sealed = self.secrets().seal(&secret, &aad)?;
                drop(conn);
                let stored = self
                    .store()
                    .tx(|c| flows::put_pending_secret(c, now, flow, &user.id, &sealed))?;
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
            totp(secret, issuer, email)?.get_url()
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
    pub fn confirm_enrollment(
        &self,
        user: &User,
        flow: &str,
        input: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(), MfaError> {
        let code = normalise_code(input)?;
        if self.load_credential(&user.id)?.is_some() {
            return Err(MfaError::AlreadyLinked);
        }
        let now = self.now();
        let sealed = {
            let mut conn = self.store().conn()?;
            flows::pending_secret(&mut conn, now, flow, &user.id)?
                .flatten()
                .ok_or(MfaError::NotEnrolled)?
        };
        let locks = self.reserve_totp_attempt(user)?;
        let secret = self
            .secrets()
            .open(&sealed, &pending_aad(&user.id, &flows::flow_id(flow)))?;
        let Some(step) = matching_step(&secret, &code, now, self.settings().totp.drift_steps)?
        else {
            return Err(self.totp_failed(user, ip, locks)?);
        };
        let linked_sealed = self.secrets().seal(&secret, &linked_aad(&user.id))?;
        let browser: Option<String> = user_agent.map(|u| u.chars().take(200).collect());
        let result = self.store().tx(|conn| {
            // Only one confirmation of this flow's secret gets it (a double submit gets nothing).
            if !flows::take_pending_secret(conn, flow, &sealed)? {
                return Ok(false);
            }
            diesel::insert_into(tc::table)
                .values((
                    tc::user_id.eq(&user.id),
                    tc::secret_sealed.eq(&linked_sealed),
                    tc::linked.eq(true),
                    tc::last_used_step.eq(Some(step)),
                    tc::created_at.eq(now),
                    tc::linked_at.eq(Some(now)),
                ))
                .execute(conn)?;
            self.throttle_clear(conn, &key::totp(&user.id))?;
            let actor = Actor::User(user.id.clone());
            let mut ev = AuditEvent::new(AuditAction::MfaEnrolled, &actor)
                .user(&user.account_id, &user.id)
                .ip(ip);
            if let Some(b) = &browser {
                ev = ev.detail(format!("browser={b}"));
            }
            audit::record(conn, now, &ev)?;
            Ok::<_, MfaError>(true)
        });
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(MfaError::CodeReplayed),
            // Another sign-in of this user linked an app first.
            Err(MfaError::Store(e)) if e.is_unique_violation() => Err(MfaError::AlreadyLinked),
            Err(e) => Err(e),
        }
    }

    /// Verifies a sign-in code against the linked app; each code works once. The attempt is
    /// counted before the code is checked (see [`throttle`]).
    pub fn verify_totp(&self, user: &User, input: &str, ip: Option<&str>) -> Result<(), MfaError> {
        let code = normalise_code(input)?;
        let (sealed, last_used) = self
            .load_credential(&user.id)?
            .ok_or(MfaError::NotEnrolled)?;
        let locks = self.reserve_totp_attempt(user)?;
        let secret = self.secrets().open(&sealed, &linked_aad(&user.id))?;
        let now = self.now();
        let Some(step) = matching_step(&secret, &code, now, self.settings().totp.drift_steps)?
        else {
            return Err(self.totp_failed(user, ip, locks)?);
        };
        let actor = Actor::User(user.id.clone());
        if last_used.is_some_and(|last| step <= last) {
            self.audit(
                &AuditEvent::new(AuditAction::MfaCodeReplayed, &actor)
                    .user(&user.account_id, &user.id)
                    .ip(ip),
            )?;
            return Err(MfaError::CodeReplayed);
        }
        let accepted = self.store().tx(|conn| {
            // The database decides between racing requests: only one can move the step forward.
            let n = diesel::update(
                tc::table
                    .find(&user.id)
                    .filter(tc::linked.eq(true))
                    .filter(tc::last_used_step.is_null().or(tc::last_used_step.lt(step))),
            )
            .set(tc::last_used_step.eq(Some(step)))
            .execute(conn)?;
            if n == 1 {
                self.throttle_clear(conn, &key::totp(&user.id))?;
            }
            Ok::<_, MfaError>(n == 1)
        })?;
        if accepted {
            Ok(())
        } else {
            self.audit(
                &AuditEvent::new(AuditAction::MfaCodeReplayed, &actor)
                    .user(&user.account_id, &user.id)
                    .ip(ip),
            )?;
            Err(MfaError::CodeReplayed)
        }
    }

    /// Takes a code attempt for this user; `Some(lock)` if a failure of this attempt locks.
    fn reserve_totp_attempt(&self, user: &User) -> Result<Option<Locked>, MfaError> {
        let k = key::totp(&user.id);
        match self.reserve_attempts(&[(&k, &self.settings().throttle.totp_per_user)]) {
            Ok(locks) => Ok(locks),
            Err(ThrottleError::Locked(l)) => Err(MfaError::Locked(l)),
            Err(ThrottleError::Store(e)) => Err(e.into()),
        }
    }

    fn totp_failed(
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

    /// Removes a user's linked app: their next sign-in shows a new QR code.
    pub fn disconnect_mfa(
        &self,
        user: &User,
        actor: &Actor,
    ) -> Result<crate::accounts::Change, MfaError> {
        let now = self.now();
        self.store().tx(|conn| {
            let n = diesel::delete(tc::table.find(&user.id)).execute(conn)?;
            if n == 0 {
                return Ok(crate::accounts::Change::Already);
            }
            self.throttle_clear(conn, &key::totp(&user.id))?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::MfaDisconnected, actor)
                    .user(&user.account_id, &user.id),
            )?;
            Ok(crate::accounts::Change::Changed)
        })
    }

    /// The TOTP lockout state of a user (for `user show`).
    pub fn totp_lockout(&self, user: &User) -> Result<Option<throttle::CounterState>, StoreError> {
        self.throttle_state(&key::totp(&user.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA1 rows: the 20-byte ASCII secret "12345678901234567890", 8 digits.
    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new_unchecked(Algorithm::SHA1, 8, 0, 30, secret, None, String::new());
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time), expected, "T = {time}");
        }
    }

    #[test]
    fn codes_with_spaces_or_dashes_are_accepted_and_junk_is_not() {
        assert_eq!(normalise_code("123 456").unwrap(), "123456");
        assert_eq!(normalise_code(" 123-456 ").unwrap(), "123456");
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "123456\n"] {
            assert!(
                matches!(normalise_code(bad), Err(MfaError::InvalidFormat)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn activation_code_is_base32_in_groups_of_four() {
        // RFC 4648 test vector: "foobar" -> MZXW6YTBOI
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        let code = format_activation_code(&[0u8; 20]);
        assert_eq!(code, "AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA");
    }

    #[test]
    fn drift_of_one_step_is_tolerated_and_two_is_not() {
        let secret = [42u8; 20];
        let t = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            0,
            30,
            secret.to_vec(),
            None,
            String::new(),
        );
        let now = 1_700_000_000i64;
        let step = now / 30;
        let prev = t.generate(((step - 1) * 30) as u64);
        let next = t.generate(((step + 1) * 30) as u64);
        let far = t.generate(((step - 2) * 30) as u64);
        assert_eq!(
            matching_step(&secret, &prev, now, 1).unwrap(),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&secret, &next, now, 1).unwrap(),
            Some(step + 1)
        );
        assert_eq!(matching_step(&secret, &far, now, 1).unwrap(), None);
        assert_eq!(matching_step(&secret, &prev, now, 0).unwrap(), None);
    }

    proptest::proptest! {
        /// Any 6-digit code, however spaces and dashes are sprinkled into it, reads as itself.
        #[test]
        fn separators_never_change_a_code(digits in "[0-9]{6}", seps in proptest::collection::vec("[ -]{0,2}", 7)) {
            let mut typed = String::new();
            for (i, d) in digits.chars().enumerate() {
                typed.push_str(&seps[i]);
                typed.push(d);
            }
            typed.push_str(&seps[6]);
            proptest::prop_assert_eq!(normalise_code(&typed).unwrap(), digits);
        }

        /// Whatever is typed, an accepted code is exactly 6 ASCII digits taken from the input.
        #[test]
        fn accepted_codes_are_six_digits_of_the_input(input in "\\PC{0,12}") {
            if let Ok(code) = normalise_code(&input) {
                proptest::prop_assert_eq!(code.len(), 6);
                proptest::prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
                let kept: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{a0}' | '\t')).collect();
                proptest::prop_assert_eq!(kept, code);
            }
        }
    }

    #[test]
    fn qr_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/X:a%40b.c?secret=AAAA").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    }
}
