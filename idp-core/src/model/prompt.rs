//! How an authorization request asks to treat the browser's existing session (OIDC Core
//! 3.1.2.1: `prompt`, `max_age`, `id_token_hint`).

/// How an authorization request (OIDC Core 3.1.2.1) asks to treat an existing session.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    /// `prompt=none`: never show a page.
    pub none: bool,
    /// `prompt=login`: always ask for the password.
    pub login: bool,
    /// `max_age`: a sign-in older than this many seconds asks again (0: always).
    pub max_age: Option<i64>,
    /// The user an `id_token_hint` names: only that user's session may serve the request.
    pub subject: Option<Hinted>,
}

/// Whom an `id_token_hint` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hinted {
    /// This user (the hint verified).
    User(String),
    /// Nobody the provider can vouch for: the hint names a key id it does not have (a key retired
    /// and unpublished since, or an invented one; unverifiable either way). It only withholds
    /// the session: no session serves the request, and `prompt=none` gets `login_required`.
    Unknown,
}
