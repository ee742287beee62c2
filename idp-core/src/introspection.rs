//! What a client may learn or end of a token: introspection (RFC 7662) and revocation (RFC 7009).
//! Both authenticate the client as `/token` does ([`Idp::authenticate_client`], with its
//! lockout). A token is alive only while its grant is not revoked, its session is live and the
//! session rule admits it (`gate`): the moment a session ends, for any reason, every token of it
//! introspects as inactive.
//!
//! Access tokens are JWTs the server verifies (signature, issuer, type, expiry) before it asks;
//! anything else is looked up as a refresh token.

use crate::clients::ClientAuthError;
use crate::crypto::hash_token;
use crate::model::{
    Actor, AuditAction, AuditEvent, ClientCredentials, ClientKind, ClientRegistration,
};
use crate::store::{audit, grants, refresh_tokens, StoreError};
use crate::Idp;

/// A token presented for introspection or revocation.
#[derive(Debug, Clone, Copy)]
pub enum PresentedToken<'a> {
    /// An access token whose signature, issuer, type and expiry the server verified: the grant
    /// and the client it names.
    Access {
        /// Its `gid` claim.
        grant_id: &'a str,
        /// Its `client_id` claim.
        client_id: &'a str,
    },
    /// Anything else (looked up as a refresh token; unknown is inactive).
    Other(&'a str),
}

/// Which kind of token an active one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token (the server adds what its claims say).
    Access,
    /// A refresh token.
    Refresh {
        /// When it was issued.
        issued_at: i64,
        /// When it expires (its session's absolute end).
        expires_at: i64,
    },
}

/// What introspection says of an active token: the live state behind it.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    /// Access or refresh.
    pub kind: TokenKind,
    /// The user (`sub`).
    pub subject: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The grant's scope (an access token's own, maybe narrower, scope is in its claims).
    pub scope: String,
    /// The session (`sid`).
    pub session_id: String,
    /// When the session ends if nothing happens (`idle_exp`), as of now.
    pub idle_expires_at: i64,
}

impl Idp {
    /// Introspection (RFC 7662 2): the live state behind `token` when it is active and the
    /// caller may learn of it (the client it was issued to; a resource server, of access tokens
    /// only: a refresh token never belongs at an API); `None`
    /// (`{"active": false}`) otherwise, whatever the reason, so the answer tells a caller nothing
    /// about other clients' tokens. A session the session rule refuses is ended here too.
    pub fn introspect(
        &self,
        client: &ClientRegistration<'_>,
        credentials: &ClientCredentials<'_>,
        token: PresentedToken<'_>,
    ) -> Result<Option<ActiveToken>, ClientAuthError> {
        self.authenticate_client(client, credentials)?;
        let now = self.now();
        let resource_server = matches!(client.kind, ClientKind::ResourceServer);
        // One connection for the reads, given back before a refusal writes (`admit_read` takes
        // its own).
        let found = {
            let conn = &mut *self.store().conn()?;
            let (grant_id, kind) = match token {
                PresentedToken::Access { grant_id, .. } => {
                    (grant_id.to_string(), TokenKind::Access)
                }
                // A refresh token belongs to its app and never to an API: a resource server
                // that is shown one learns nothing of it.
                PresentedToken::Other(_) if resource_server => return Ok(None),
                PresentedToken::Other(raw) => {
                    let Some(t) = refresh_tokens::usable(conn, &hash_token(raw), now)? else {
                        return Ok(None);
                    };
                    let kind = TokenKind::Refresh {
                        issued_at: t.created_at,
                        expires_at: t.expires_at,
                    };
                    (t.grant_id, kind)
                }
            };
            grants::live_view(conn, &grant_id, now)?.map(|found| (found, kind))
        };
        let Some(((grant, session, user, account), kind)) = found else {
            return Ok(None);
        };
        if !(resource_server || grant.client_id == client.client_id) {
            return Ok(None);
        }
        if self
            .admit_read(&user, &account, &session.id, session.auth_method())?
            .is_err()
        {
            return Ok(None);
        }
        Ok(Some(ActiveToken {
            kind,
            subject: user.id,
            client_id: grant.client_id,
            scope: grant.scope,
            session_id: session.id,
            idle_expires_at: session.idle_expires_at,
        }))
    }

    /// Revocation (RFC 7009 2): a client's own refresh or access token ends its grant (the
    /// refresh token and every access token of it; the session and the user's other apps go
    /// on). An unknown, expired or foreign token changes nothing, and the answer is the same
    /// (2.2: the client cannot tell). Audited when a grant ended.
    pub fn revoke_token(
        &self,
        client: &ClientRegistration<'_>,
        credentials: &ClientCredentials<'_>,
        token: PresentedToken<'_>,
    ) -> Result<(), ClientAuthError> {
        self.authenticate_client(client, credentials)?;
        let now = self.now();
        let hashed = match token {
            PresentedToken::Other(raw) => Some(hash_token(raw)),
            PresentedToken::Access { .. } => None,
        };
        let actor = Actor::Client {
            client_id: client.client_id.to_string(),
            on_behalf_of: None,
            ip: Some(credentials.ip.to_string()),
        };
        self.store().tx(|conn| {
            let grant_id = match (&token, &hashed) {
                (
                    PresentedToken::Access {
                        grant_id,
                        client_id,
                    },
                    _,
                ) => (*client_id == client.client_id).then(|| grant_id.to_string()),
                (_, Some(hash)) => refresh_tokens::usable(conn, hash, now)?.map(|t| t.grant_id),
                _ => None,
            };
            let Some(grant_id) = grant_id else {
                return Ok(());
            };
            let Some(owner) = grants::owner(conn, &grant_id)? else {
                return Ok(());
            };
            if owner.client_id != client.client_id || !grants::revoke(conn, now, &grant_id)? {
                return Ok(());
            }
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::TokenRevoked, &actor)
                    .user(&owner.account_id, &owner.user_id)
                    .detail(format!("grant={grant_id} sid={}", owner.session_id)),
            )?;
            Ok::<_, StoreError>(())
        })?;
        Ok(())
    }
}
