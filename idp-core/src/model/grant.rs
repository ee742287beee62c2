//! Authorization codes and grants: what a code is bound to, and what a redeemed code or a
//! rotated refresh token yields.

use super::{Account, SsoSession, User};

/// What an authorization code is bound to.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub session_id: &'a str,
    pub user_id: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    /// PKCE S256 challenge (RFC 7636), when the client sent one.
    pub code_challenge: Option<&'a str>,
}

/// What a redeemed code or a rotated refresh token yields: everything needed to mint tokens.
#[derive(Debug, Clone)]
pub struct Issued {
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub session: SsoSession,
    /// The new refresh token (raw; only its hash is stored).
    pub refresh_token: String,
    /// The user the grant belongs to and their account, read in the grant's transaction (one
    /// query with the code or grant row, no second checkout for the token response's claims).
    pub user: User,
    pub account: Account,
}
