//! Authorization codes and grants: what a code is bound to, and what a redeemed code or a
//! rotated refresh token yields.

use super::{Account, PendingAuthorization, SsoSession, User};

/// What an authorization code is bound to.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    /// The app the code is for.
    pub client_id: &'a str,
    /// The redirect URI it must be redeemed with.
    pub redirect_uri: &'a str,
    /// The session it was issued in.
    pub session_id: &'a str,
    /// The user signed in.
    pub user_id: &'a str,
    /// The granted scope.
    pub scope: &'a str,
    /// The app's nonce, for the ID token.
    pub nonce: Option<&'a str>,
    /// PKCE S256 challenge (RFC 7636), when the client sent one.
    pub code_challenge: Option<&'a str>,
}

impl<'a> NewCode<'a> {
    /// The code that answers `request` for `user_id` signed in through `session_id`.
    pub fn of(request: &'a PendingAuthorization, session_id: &'a str, user_id: &'a str) -> Self {
        NewCode {
            client_id: &request.client_id,
            redirect_uri: &request.redirect_uri,
            session_id,
            user_id,
            scope: &request.scope,
            nonce: request.nonce.as_deref(),
            code_challenge: request.code_challenge.as_deref(),
        }
    }
}

/// What a redeemed code or a rotated refresh token yields: everything needed to mint tokens.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The grant (refresh-token family); access tokens name it as `gid`.
    pub grant_id: String,
    /// The app.
    pub client_id: String,
    /// The scope of these tokens.
    pub scope: String,
    /// The nonce of the authorization request (code redemption only).
    pub nonce: Option<String>,
    /// The session, as slid by this request.
    pub session: SsoSession,
    /// The new refresh token (raw; only its hash is stored).
    pub refresh_token: String,
    /// The user the grant belongs to and their account, read in the grant's transaction (one
    /// query with the code or grant row, no second checkout for the token response's claims).
    pub user: User,
    /// The user's account (its slug goes into the `account` claim).
    pub account: Account,
}
