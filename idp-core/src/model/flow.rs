//! Half-finished sign-ins and the authorization requests they will answer.

use serde::{Deserialize, Serialize};

/// A validated authorization request (OIDC Core 3.1.2), kept with its sign-in until the user is
/// signed in and a code is issued for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// The app.
    pub client_id: String,
    /// Exactly as registered.
    pub redirect_uri: String,
    /// Only values the provider grants.
    pub scope: String,
    /// The app's `state`, returned with the code.
    pub state: Option<String>,
    /// The app's `nonce`, carried into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// Pre-fills the email field.
    pub login_hint: Option<String>,
    /// The user an `id_token_hint` named (OIDC Core 3.1.2.1): a sign-in as anyone else gets the
    /// app `login_required`, never a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hinted_sub: Option<String>,
}

impl PendingAuthorization {
    /// The request's `id_token_hint` named someone else than `user_id`.
    pub fn hints_another_than(&self, user_id: &str) -> bool {
        self.hinted_sub.as_deref().is_some_and(|sub| sub != user_id)
    }
}

/// Where a sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStage {
    /// Waiting for email and password.
    Password,
    /// Password verified; the user must link an authenticator app.
    MfaEnroll,
    /// Password verified; the user must enter a code from their linked app.
    MfaVerify,
    /// Password verified; the user must link a new app, which after a help-desk disconnect
    /// (`relink_requires_email`) only a sign-in opened by the mailed link may do.
    RelinkByEmail,
}

impl FlowStage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FlowStage::Password => "password",
            FlowStage::MfaEnroll => "mfa_enroll",
            FlowStage::MfaVerify => "mfa_verify",
            FlowStage::RelinkByEmail => "relink_by_email",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(FlowStage::Password),
            "mfa_enroll" => Some(FlowStage::MfaEnroll),
            "mfa_verify" => Some(FlowStage::MfaVerify),
            "relink_by_email" => Some(FlowStage::RelinkByEmail),
            _ => None,
        }
    }
}

/// A half-finished sign-in.
#[derive(Debug, Clone)]
pub struct LoginFlow {
    /// The authorization request the sign-in will answer; `None` for a sign-in started at the
    /// provider itself (no app).
    pub request: Option<PendingAuthorization>,
    /// Set once the password was verified.
    pub user_id: Option<String>,
    /// The step the sign-in is at.
    pub stage: FlowStage,
    /// Unix seconds; a flow lives ten minutes.
    pub expires_at: i64,
    /// For a sign-in opened by a relink link: the hash of its token.
    pub relink_token_hash: Option<String>,
}

/// What a sign-in knows of the browser it happens in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Browser<'a> {
    /// The client address (see the server's `trusted_proxies`).
    pub ip: Option<&'a str>,
    /// The `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// The secret of the session cookie it holds, if any.
    pub session: Option<&'a str>,
    /// The known-browser cookie it holds, if any, as sent (verified by the core before it counts
    /// for anything: `Idp::known_browser`).
    pub known_browser: Option<&'a str>,
}
