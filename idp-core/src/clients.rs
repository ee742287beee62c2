//! The clients of the provider, as the protocol endpoints authenticate them. Clients live in the
//! server's configuration; it passes the current registration ([`ClientRegistration`]) with each
//! call. The one client authentication of `/token`, `/revoke` and `/introspect`.

use crate::crypto::{ct_eq, sha256};
use crate::model::{ClientCredentials, ClientRegistration, Locked};
use crate::store::StoreError;
use crate::throttle::ClientAuthFailure;
use crate::Idp;

/// Why a client could not be authenticated.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// Unknown client, wrong or missing secret, or a secret from a public client (RFC 6749 5.2
    /// `invalid_client`).
    #[error("client authentication failed")]
    Failed,
    /// Too many failed authentications of this client from this address: locked until then.
    #[error("too many failed client authentications; locked until {}", .0.until)]
    Locked(Locked),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

impl Idp {
    /// Authenticates a client: its secret (a SHA-256 of a high-entropy secret, compared in
    /// constant time), or none for a public client. A wrong secret is counted against the
    /// client at the caller's address, and a client locked out there is refused even with the
    /// right one; the lock is read once. Keyed on the client *and* the address, so a stranger
    /// cannot lock an app out of its own requests. The one client authentication of `/token`,
    /// `/revoke` and `/introspect`.
    pub fn authenticate_client(
        &self,
        client: &ClientRegistration<'_>,
        credentials: &ClientCredentials<'_>,
    ) -> Result<(), ClientAuthError> {
        let Some(expected) = client.secret_sha256 else {
            return match credentials.secret {
                None if client.public => Ok(()),
                _ => Err(ClientAuthError::Failed),
            };
        };
        let matches = credentials
            .secret
            .is_some_and(|given| ct_eq(&sha256(given.as_bytes()), expected));
        if matches {
            return match self.client_auth_lock(client.client_id, credentials.ip)? {
                Some(l) => Err(ClientAuthError::Locked(l)),
                None => Ok(()),
            };
        }
        match self.client_auth_failed(client.client_id, credentials.ip)? {
            ClientAuthFailure::Counted => Err(ClientAuthError::Failed),
            ClientAuthFailure::Locked(l) => Err(ClientAuthError::Locked(l)),
        }
    }
}
