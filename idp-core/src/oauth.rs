//! Authorization codes, grants and refresh tokens (RFC 6749, RFC 7636, OAuth 2.0 Security BCP).
//!
//! Invariants:
//! - A code is redeemed at most once; a second attempt revokes the grant the first one created.
//! - Refresh tokens rotate: each use returns a new one, and presenting a used one revokes the
//!   whole grant (the chain), so a stolen token dies as soon as either party uses it twice.
//! - A grant lives no longer than its SSO session: refresh slides the session's idle expiry and
//!   fails once the session has ended or expired.
//! - A session may be used only while the session rule admits it (`gate::admit_in`, inside the
//!   redemption's and the refresh's transaction: a disabled user gets no grant and no token).

use crate::crypto::{ct_eq, hash_token, random_id, random_token, sha256_b64url, CryptoError};
use crate::gate;
use crate::model::{Account, Actor, AuditAction, AuditEvent, User};
use crate::store::{
    self, audit, codes, grants, refresh_tokens, sessions, DbConnection, StoreError,
};
use crate::Idp;

pub use crate::model::{Issued, NewCode};

/// Why a grant request failed; maps to RFC 6749 `invalid_grant` with this description.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The code or refresh token is invalid, expired, used, or issued to another client or
    /// redirect URI; the text says which (for the client developer, RFC 6749 5.2).
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// A refresh asked for a scope beyond the grant's (RFC 6749 section 6).
    #[error("the scope exceeds the original grant")]
    InvalidScope,
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

/// A transaction's answer: issued, or refused with changes (a revocation) that must still be
/// committed.
enum Outcome<T> {
    Ok(T),
    Refused(&'static str),
}

/// A new refresh token for a grant, valid as long as its session can be.
fn new_refresh_token(
    conn: &mut DbConnection,
    now: i64,
    grant_id: &str,
    expires_at: i64,
) -> Result<String, GrantError> {
    let token = random_token()?;
    refresh_tokens::insert(conn, now, &hash_token(&token), grant_id, expires_at)?;
    Ok(token)
}

/// The scope values this provider grants. Any other value a client asks for (`offline_access`,
/// an API scope of another provider) is ignored, at `/authorize` and at refresh alike.
pub const SUPPORTED_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The supported values of a requested scope, each once, in the order of [`SUPPORTED_SCOPES`].
pub fn supported_scope(requested: &str) -> Vec<&'static str> {
    SUPPORTED_SCOPES
        .into_iter()
        .filter(|s| requested.split(' ').any(|r| r == *s))
        .collect()
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge. Verifiers are 43-128 unreserved chars.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed
        && ct_eq(
            sha256_b64url(verifier.as_bytes()).as_bytes(),
            challenge.as_bytes(),
        )
}

/// Whether a redemption's verifier fits the code's challenge; the refusal otherwise.
fn pkce_refusal(challenge: Option<&str>, verifier: Option<&str>) -> Option<&'static str> {
    match (challenge, verifier) {
        (Some(ch), Some(v)) if pkce_s256_matches(v, ch) => None,
        (Some(_), Some(_)) => Some("code_verifier does not match the code_challenge"),
        (Some(_), None) => Some("code_verifier is required"),
        (None, Some(_)) => Some("code_verifier sent but no code_challenge was"),
        (None, None) => None,
    }
}

impl Idp {
    /// Issues a single-use authorization code (valid `code_ttl_secs`, default 60 s) outside a
    /// sign-in: for tests, which build the situations a sign-in leads to.
    #[cfg(any(test, feature = "testing"))]
    pub fn issue_code(&self, new: &NewCode<'_>) -> Result<String, GrantError> {
        let ttl = self.settings().code_ttl_secs;
        self.store()
            .tx(|conn| issue_code_in(conn, self.now(), ttl, new))
    }

    /// Redeems a code for a new grant and its first refresh token, for tests (the token
    /// endpoint goes through [`Idp::token_request`], which passes the client's current redirect
    /// URIs).
    #[cfg(any(test, feature = "testing"))]
    pub fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Issued, GrantError> {
        let registered = [redirect_uri.to_string()];
        self.redeem(code, client_id, redirect_uri, code_verifier, &registered)
    }

    /// Redeems a code for a new grant and its first refresh token. The code is marked used by the
    /// first statement of the transaction, so of two racing redemptions exactly one wins; a
    /// redemption of an already used code revokes what the first one issued. `registered`: the
    /// client's redirect URIs in the current configuration (a URI dropped by a reload since the
    /// code was issued spends the code and gets nothing).
    pub(crate) fn redeem(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        registered: &[String],
    ) -> Result<Issued, GrantError> {
        let now = self.now();
        let code_hash = hash_token(code);
        let outcome = self
            .store()
            .tx(|conn| -> Result<Outcome<Issued>, GrantError> {
                let claimed = codes::claim(conn, &code_hash, now)?;
                let Some((c, (user, account))) = codes::with_subject(conn, &code_hash)? else {
                    return Ok(Outcome::Refused("the authorization code is invalid"));
                };
                if !claimed {
                    // Replay: RFC 6749 4.1.2 says revoke the tokens issued from this code.
                    if let Some(gid) = &c.grant_id {
                        grants::revoke(conn, now, gid)?;
                    }
                    audit::record(
                        conn,
                        now,
                        &AuditEvent::new(AuditAction::CodeReplayed, &Actor::Anonymous)
                            .detail(format!("client={client_id}")),
                    )?;
                    return Ok(Outcome::Refused(
                        "the authorization code has already been used",
                    ));
                }
                // From here the code is spent whatever happens: a wrong verifier burns it.
                if c.expires_at <= now {
                    return Ok(Outcome::Refused("the authorization code has expired"));
                }
                if !ct_eq(c.client_id.as_bytes(), client_id.as_bytes()) {
                    return Ok(Outcome::Refused(
                        "the authorization code was issued to another client",
                    ));
                }
                if c.redirect_uri != redirect_uri {
                    return Ok(Outcome::Refused(
                        "redirect_uri does not match the authorization request",
                    ));
                }
                if !registered.contains(&c.redirect_uri) {
                    return Ok(Outcome::Refused(
                        "redirect_uri is no longer registered for this client",
                    ));
                }
                if let Some(why) = pkce_refusal(c.code_challenge.as_deref(), code_verifier) {
                    return Ok(Outcome::Refused(why));
                }
                let Some(session) = sessions::touch(conn, now, &c.session_id)? else {
                    return Ok(Outcome::Refused("the session has ended or expired"));
                };
                let listeners = self.logout_listeners();
                if let Err(why) = gate::admit_in(conn, now, &user, &account, &session, &listeners)?
                {
                    return Ok(Outcome::Refused(why.description()));
                }
                let grant_id = random_id()?;
                grants::insert(
                    conn,
                    now,
                    &grant_id,
                    &c.session_id,
                    &user.id,
                    &c.client_id,
                    &c.scope,
                )?;
                codes::set_grant(conn, &code_hash, &grant_id)?;
                let refresh_token = new_refresh_token(conn, now, &grant_id, session.expires_at)?;
                Ok(Outcome::Ok(Issued {
                    grant_id,
                    client_id: c.client_id,
                    scope: c.scope,
                    nonce: c.nonce,
                    session,
                    refresh_token,
                    user,
                    account,
                }))
            })?;
        match outcome {
            Outcome::Ok(i) => Ok(i),
            Outcome::Refused(why) => Err(GrantError::InvalidGrant(why)),
        }
    }

    /// Rotates a refresh token: marks it used, checks its grant and session, slides the session's
    /// idle expiry and returns a new token. A token used twice revokes its grant.
    #[cfg(any(test, feature = "testing"))]
    pub fn refresh(&self, token: &str, client_id: &str) -> Result<Issued, GrantError> {
        self.refresh_with_scope(token, client_id, None)
    }

    /// [`Idp::refresh`] with the `scope` a client may ask for (RFC 6749 section 6): a subset of the
    /// grant's scope, for the tokens of this response only (the grant keeps its scope). Values
    /// the provider never grants are ignored; what is left beyond the grant is refused with
    /// [`GrantError::InvalidScope`] and the refresh token stays usable (nothing is written). An
    /// empty `scope` is the same as none.
    pub(crate) fn refresh_with_scope(
        &self,
        token: &str,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<Issued, GrantError> {
        // Authlib, for one, repeats the original request's scope, `offline_access` included.
        let asked: Option<Vec<&str>> = scope.map(supported_scope).filter(|v| !v.is_empty());
        let now = self.now();
        let token_hash = hash_token(token);
        let outcome = self
            .store()
            .tx(|conn| -> Result<Outcome<Issued>, GrantError> {
                let Some(refresh_tokens::Claimed {
                    grant_id,
                    expires_at,
                }) = refresh_tokens::claim(conn, &token_hash, now)?
                else {
                    // Unknown, or spent before: a spent token presented again means the chain
                    // leaked, so its grant is revoked.
                    let Some(grant_id) = refresh_tokens::grant_of(conn, &token_hash)? else {
                        return Ok(Outcome::Refused("the refresh token is invalid"));
                    };
                    grants::revoke(conn, now, &grant_id)?;
                    audit::record(
                        conn,
                        now,
                        &AuditEvent::new(AuditAction::RefreshTokenReused, &Actor::Anonymous)
                            .detail(format!("grant={grant_id}")),
                    )?;
                    return Ok(Outcome::Refused(
                        "the refresh token has already been used; its grant is revoked",
                    ));
                };
                let (g, (user, account)) = grants::with_subject(conn, &grant_id)?;
                if g.revoked_at.is_some() {
                    return Ok(Outcome::Refused("the grant has been revoked"));
                }
                if !ct_eq(g.client_id.as_bytes(), client_id.as_bytes()) {
                    grants::revoke(conn, now, &grant_id)?;
                    return Ok(Outcome::Refused(
                        "the refresh token was issued to another client",
                    ));
                }
                // An error (not a refusal) rolls back the claim above, so the client can retry with
                // the same token.
                let scope = match &asked {
                    None => g.scope,
                    Some(asked) if asked.iter().all(|s| g.scope.split(' ').any(|x| x == *s)) => {
                        asked.join(" ")
                    }
                    Some(_) => return Err(GrantError::InvalidScope),
                };
                let live = if expires_at > now {
                    sessions::touch(conn, now, &g.session_id)?
                } else {
                    None
                };
                let Some(session) = live else {
                    grants::revoke(conn, now, &grant_id)?;
                    return Ok(Outcome::Refused("the session has ended or expired"));
                };
                // A refused session ends, and its grants (this one too) with it.
                let listeners = self.logout_listeners();
                if let Err(why) = gate::admit_in(conn, now, &user, &account, &session, &listeners)?
                {
                    return Ok(Outcome::Refused(why.description()));
                }
                let refresh_token = new_refresh_token(conn, now, &grant_id, session.expires_at)?;
                Ok(Outcome::Ok(Issued {
                    grant_id,
                    client_id: g.client_id,
                    scope,
                    nonce: None,
                    session,
                    refresh_token,
                    user,
                    account,
                }))
            })?;
        match outcome {
            Outcome::Ok(i) => Ok(i),
            Outcome::Refused(why) => Err(GrantError::InvalidGrant(why)),
        }
    }

    /// The user and account behind a live grant, in one query (the `/userinfo` path): the grant
    /// is not revoked, its session is live, and the session rule admits it (a session it refuses
    /// is ended, see [`crate::gate`]).
    pub fn live_grant_subject(
        &self,
        grant_id: &str,
    ) -> Result<Option<(User, Account)>, StoreError> {
        let now = self.now();
        let Some((user, account, sid, amr)) =
            store::grants::live_subject(&mut *self.store().conn()?, grant_id, now)?
        else {
            return Ok(None);
        };
        let method = crate::model::AuthMethod::of_stored_amr(&amr);
        Ok(self
            .admit_read(&user, &account, &sid, method)?
            .is_ok()
            .then_some((user, account)))
    }
}

/// Issues a single-use authorization code for `new` in the caller's transaction, valid
/// `ttl_secs`: the one place a code is made (only its hash is stored).
pub(crate) fn issue_code_in<E>(
    conn: &mut DbConnection,
    now: i64,
    ttl_secs: i64,
    new: &NewCode<'_>,
) -> Result<String, E>
where
    E: From<CryptoError> + From<StoreError>,
{
    let code = random_token()?;
    codes::insert(conn, now, &hash_token(&code), new, now + ttl_secs)?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_s256_matches("short", challenge));
        assert_eq!(pkce_refusal(Some(challenge), Some(verifier)), None);
        assert!(pkce_refusal(Some(challenge), None).is_some());
        assert!(pkce_refusal(None, Some(verifier)).is_some());
        assert_eq!(pkce_refusal(None, None), None);
    }
}
