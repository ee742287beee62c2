//! SSO sessions: one per browser sign-in, how it was completed (`AuthMethod`), and how it ends.

use serde::Serialize;

/// How long sessions last.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Automatic logout after this long without activity (default 30 minutes).
    pub idle_timeout_secs: i64,
    /// No sign-in lasts longer (default 12 hours).
    pub max_lifetime_secs: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle_timeout_secs: 30 * 60,
            max_lifetime_secs: 12 * 60 * 60,
        }
    }
}

/// Authentication methods references (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
/// RFC 8176: a one-time password.
pub const AMR_OTP: &str = "otp";
/// RFC 8176: more than one factor.
pub const AMR_MFA: &str = "mfa";

/// `acr` of a sign-in with the password alone.
pub const ACR_PASSWORD: &str = "urn:idp:acr:pwd";
/// `acr` of a sign-in with the password and a second factor.
pub const ACR_MFA: &str = "urn:idp:acr:mfa";

/// How a sign-in was completed: the one source of a session's `amr` and `acr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// The password alone (the account does not require MFA).
    Password,
    /// The password and a TOTP code from the linked app.
    PasswordAndTotp,
}

impl AuthMethod {
    /// RFC 8176 `amr`: `["pwd"]` or `["pwd", "otp", "mfa"]`.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            AuthMethod::Password => &[AMR_PASSWORD],
            AuthMethod::PasswordAndTotp => &[AMR_PASSWORD, AMR_OTP, AMR_MFA],
        }
    }
    /// The `acr` claim.
    pub fn acr(self) -> &'static str {
        match self {
            AuthMethod::Password => ACR_PASSWORD,
            AuthMethod::PasswordAndTotp => ACR_MFA,
        }
    }
    /// The method behind a stored `amr` (a one-time password makes it the second).
    pub fn of_amr<S: AsRef<str>>(amr: &[S]) -> Self {
        if amr.iter().any(|a| a.as_ref() == AMR_OTP) {
            AuthMethod::PasswordAndTotp
        } else {
            AuthMethod::Password
        }
    }
    /// The method behind `amr` as stored (space-separated).
    pub fn of_stored_amr(amr: &str) -> Self {
        Self::of_amr(&amr.split_whitespace().collect::<Vec<_>>())
    }
    /// Whether a second factor was passed.
    pub fn passed_second_factor(self) -> bool {
        self == AuthMethod::PasswordAndTotp
    }
}

/// Why a session ended (stored with it, in the audit log and in the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The user logged out (RP-initiated logout or the sign-out page).
    Logout,
    /// A new sign-in in the same browser replaced it.
    Replaced,
    /// An operator ended it.
    Revoked,
    /// The user was disabled.
    UserDisabled,
    /// The user changed their password (their other sessions end).
    PasswordChanged,
    /// A password reset by email link.
    PasswordReset,
    /// An operator set a new password.
    PasswordSet,
    /// MFA was turned on for the account and this session never passed a second factor.
    MfaEnabled,
    /// Found in use without the second factor its account requires (defence in depth).
    MfaMissing,
    /// The user was granted a role, which always needs a second factor, and this session never
    /// passed one.
    RoleGranted,
    /// An operator disconnected the user's authenticator app (lost phone): the sessions its
    /// codes opened end with it.
    AppDisconnected,
    /// A registration was completed in the same browser.
    Registration,
    /// 30 minutes (by default) without activity.
    IdleTimeout,
    /// The absolute lifetime (12 hours by default) passed.
    MaxLifetime,
}

impl EndReason {
    /// Whether ending a user's sessions for this reason also cancels their sign-ins in progress
    /// (see `store::sessions::end_all_of_user`): when a credential changed or an operator ends
    /// everything (a password set or reset, a disconnected app, a revoke or an import). A
    /// disabled user's sign-in is refused at each of its steps anyway, saying why.
    pub fn cancels_sign_ins(self) -> bool {
        matches!(
            self,
            EndReason::PasswordChanged
                | EndReason::PasswordReset
                | EndReason::PasswordSet
                | EndReason::AppDisconnected
                | EndReason::Revoked
        )
    }

    /// As stored and sent: `idle_timeout`, `logout`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Replaced => "replaced",
            EndReason::Revoked => "revoked",
            EndReason::UserDisabled => "user_disabled",
            EndReason::PasswordChanged => "password_changed",
            EndReason::PasswordReset => "password_reset",
            EndReason::PasswordSet => "password_set",
            EndReason::MfaEnabled => "mfa_enabled",
            EndReason::MfaMissing => "mfa_missing",
            EndReason::RoleGranted => "role_granted",
            EndReason::AppDisconnected => "app_disconnected",
            EndReason::Registration => "registration",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::MaxLifetime => "max_lifetime",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
/// An SSO session: one per browser sign-in, shared by every app reached through it.
pub struct SsoSession {
    /// Public session id (`sid` claim).
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// When the user signed in (`auth_time`).
    pub auth_time: i64,
    /// RFC 8176 methods used (see `AuthMethod`).
    pub amr: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The last activity (sign-in, refresh, reuse at `/authorize`).
    pub last_active_at: i64,
    /// The idle timeout it was started with.
    pub idle_timeout_secs: i64,
    /// Its absolute end.
    pub expires_at: i64,
    /// When the session ends if nothing happens: the `idle_exp` claim.
    pub idle_expires_at: i64,
    /// When it ended, if it did.
    pub ended_at: Option<i64>,
    /// Where the sign-in came from.
    pub ip: Option<String>,
    /// The browser it came from (trimmed).
    pub user_agent: Option<String>,
}

/// When a session active at `now` idles out: `idle_timeout_secs` later, but never after its
/// absolute end (`expires_at`). The rule behind `idle_expires_at` and the `idle_exp` claim;
/// `store/live.rs` writes it (and [`SsoSession::is_live`]) in SQL for the queries.
pub fn idle_deadline(now: i64, idle_timeout_secs: i64, expires_at: i64) -> i64 {
    (now + idle_timeout_secs).min(expires_at)
}

impl SsoSession {
    /// Live at `now`: not ended and before `idle_expires_at` (the smaller of the idle and the
    /// absolute deadline). The one liveness rule; `store/live.rs` is its SQL form.
    pub fn is_live(&self, now: i64) -> bool {
        self.ended_at.is_none() && now < self.idle_expires_at
    }
    /// Whether the sign-in behind this session passed a second factor.
    pub fn has_mfa(&self) -> bool {
        self.auth_method().passed_second_factor()
    }
    /// How the sign-in behind this session was completed.
    pub fn auth_method(&self) -> AuthMethod {
        AuthMethod::of_amr(&self.amr)
    }
}

/// A session that was just ended, with the apps to tell (each is sent a back-channel logout
/// through the outbox).
#[derive(Debug, Clone, Serialize)]
pub struct EndedSession {
    /// The session's public id.
    pub sid: String,
    /// Whose it was.
    pub user_id: String,
    /// Their account (`None` only if the user was deleted meanwhile).
    pub account_id: Option<String>,
    /// The apps that held a grant in it and listen for back-channel logout (sorted).
    pub clients: Vec<String>,
    /// Why it ended.
    pub reason: EndReason,
}

/// Which apps are told, through the outbox, that a session they hold a grant in has ended: the
/// server names those with a `backchannel_logout_uri` (at start and at every reload). Every
/// grant is revoked either way; an app that does not listen gets no outbox row, which the
/// deliverer would only claim and drop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LogoutListeners {
    /// Every app holding a grant (what a domain without a configuration assumes).
    #[default]
    All,
    /// Only these apps.
    Only(std::collections::BTreeSet<String>),
}

impl LogoutListeners {
    /// Only the apps named.
    pub fn only<S: Into<String>>(clients: impl IntoIterator<Item = S>) -> Self {
        LogoutListeners::Only(clients.into_iter().map(Into::into).collect())
    }
    /// Whether `client_id` is told.
    pub fn listens(&self, client_id: &str) -> bool {
        match self {
            LogoutListeners::All => true,
            LogoutListeners::Only(set) => set.contains(client_id),
        }
    }
}

/// What one sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Sessions ended now because their idle window or absolute lifetime had passed.
    pub ended: usize,
    /// Back-channel logouts queued for them.
    pub logouts_queued: usize,
}

/// A user's own password change (see `Idp::set_password`): the session it is made in, the
/// hash of the current password they just confirmed, and the session that takes over.
#[derive(Debug, Clone, Copy)]
pub struct OwnChange<'a> {
    /// The session the change is made in: it must still be live, and it ends with the others
    /// (a thief holding a copy of its cookie, the reason a user may be changing the password,
    /// loses it and every app signed in through it).
    pub sid: &'a str,
    /// The stored hash the current password verified against: it must still be the stored one.
    pub checked: &'a str,
    /// The browser's new session (same sign-in, new id), stored in the change's transaction.
    pub successor: &'a SsoSession,
    /// The hash of the successor's cookie secret.
    pub successor_secret_hash: &'a str,
}
