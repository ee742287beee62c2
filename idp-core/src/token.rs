//! The token endpoint's use case (RFC 6749 3.2, 4.1.3, 4.4, 6): the server parses the
//! request into a [`TokenRequest`] and the client's credentials, and [`Idp::token_request`]
//! authenticates the client (with its lockout), checks that the client may use the grant, and
//! runs it.

pub use crate::clients::ClientAuthError;
use crate::model::{ClientCredentials, ClientKind, ClientRegistration, Issued};
use crate::oauth::GrantError;
use crate::store::StoreError;
use crate::Idp;

/// A token request, one variant per grant type the provider supports.
#[derive(Debug, Clone)]
pub enum TokenRequest {
    /// Redeem an authorization code (RFC 6749 4.1.3).
    AuthorizationCode {
        /// The code.
        code: String,
        /// Exactly the one of the authorization request.
        redirect_uri: String,
        /// The PKCE verifier (RFC 7636).
        verifier: Option<String>,
    },
    /// Rotate a refresh token (RFC 6749 6).
    RefreshToken {
        /// The refresh token.
        token: String,
        /// A narrower scope for this response.
        scope: Option<String>,
    },
    /// An admin client's access token to the admin API (RFC 6749 4.4).
    ClientCredentials {
        /// The scopes asked for (all the client holds when none).
        scope: Option<String>,
    },
}

/// What a token request yields.
#[derive(Debug)]
pub enum TokenAnswer {
    /// A user's tokens: an ID token, an access token and a refresh token are minted from this.
    Issued(Box<Issued>),
    /// An admin access token with this scope (space-separated, in the order the client holds).
    AdminAccess {
        /// The granted scope.
        scope: String,
    },
}

/// Why a token request was refused; each maps to its RFC 6749 5.2 error.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The client could not be authenticated.
    #[error(transparent)]
    Client(#[from] ClientAuthError),
    /// `unauthorized_client`: this client may not use this grant.
    #[error("{0}")]
    UnauthorizedClient(&'static str),
    /// `invalid_request`: a parameter this client must send is missing.
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// `invalid_scope` at the client credentials grant.
    #[error("the scope asks for more than this client holds")]
    InvalidScope,
    /// The grant was refused (`invalid_grant`, or `invalid_scope` at refresh).
    #[error(transparent)]
    Grant(#[from] GrantError),
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Client(ClientAuthError::Store(e))
    }
}

impl Idp {
    /// A token request: the client authenticated ([`Idp::authenticate_client`]), the grant
    /// allowed for its kind (an app never gets an admin token, an admin client only ever gets
    /// one, a resource server gets none), then run: the code redeemed, the refresh token
    /// rotated, or the admin scope decided.
    pub fn token_request(
        &self,
        client: &ClientRegistration<'_>,
        credentials: &ClientCredentials<'_>,
        request: &TokenRequest,
    ) -> Result<TokenAnswer, TokenError> {
        self.authenticate_client(client, credentials)?;
        match (&client.kind, request) {
            (ClientKind::Admin { scopes }, TokenRequest::ClientCredentials { scope }) => {
                Ok(TokenAnswer::AdminAccess {
                    scope: admin_scope(scopes, scope.as_deref())?,
                })
            }
            (ClientKind::Admin { .. }, _) => Err(TokenError::UnauthorizedClient(
                "an admin client may only use the client_credentials grant",
            )),
            (ClientKind::ResourceServer, _) => Err(TokenError::UnauthorizedClient(
                "a resource server may not use any grant; it may only introspect tokens",
            )),
            (ClientKind::App { .. }, TokenRequest::ClientCredentials { .. }) => {
                Err(TokenError::UnauthorizedClient(
                    "this client may not use the client_credentials grant",
                ))
            }
            (
                ClientKind::App { redirect_uris },
                TokenRequest::AuthorizationCode {
                    code,
                    redirect_uri,
                    verifier,
                },
            ) => {
                if client.public && verifier.is_none() {
                    return Err(TokenError::InvalidRequest(
                        "code_verifier is required for public clients",
                    ));
                }
                let issued = self.redeem(
                    code,
                    client.client_id,
                    redirect_uri,
                    verifier.as_deref(),
                    redirect_uris,
                )?;
                Ok(TokenAnswer::Issued(Box::new(issued)))
            }
            (ClientKind::App { .. }, TokenRequest::RefreshToken { token, scope }) => {
                let issued = self.refresh_with_scope(token, client.client_id, scope.as_deref())?;
                Ok(TokenAnswer::Issued(Box::new(issued)))
            }
        }
    }
}

/// The scope of an admin token: what is asked (all `held` when nothing is), each once, in the
/// held order (the held scopes are sorted and distinct); asking for one not held, or for an
/// empty scope, is refused.
fn admin_scope(held: &[&str], asked: Option<&str>) -> Result<String, TokenError> {
    let Some(asked) = asked else {
        return Ok(held.join(" "));
    };
    let asked: Vec<&str> = asked.split_whitespace().collect();
    if asked.is_empty() || asked.iter().any(|a| !held.contains(a)) {
        return Err(TokenError::InvalidScope);
    }
    let granted: Vec<&str> = held.iter().copied().filter(|h| asked.contains(h)).collect();
    Ok(granted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_scope_is_what_was_asked_of_what_is_held_in_the_held_order() {
        let held = ["admin:audit", "admin:users"];
        assert_eq!(admin_scope(&held, None).unwrap(), "admin:audit admin:users");
        assert_eq!(
            admin_scope(&held, Some("admin:users  admin:audit admin:users")).unwrap(),
            "admin:audit admin:users"
        );
        assert_eq!(
            admin_scope(&held, Some("admin:users")).unwrap(),
            "admin:users"
        );
        for refused in ["", "  ", "admin:users admin:accounts", "openid"] {
            assert!(
                matches!(
                    admin_scope(&held, Some(refused)),
                    Err(TokenError::InvalidScope)
                ),
                "{refused:?}"
            );
        }
    }
}
