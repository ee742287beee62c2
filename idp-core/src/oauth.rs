//! Authorization codes, grants and refresh tokens (RFC 6749, RFC 7636, OAuth 2.0 Security BCP).
//!
//! Invariants:
//! - A code is redeemed at most once; a second attempt revokes the grant the first one created.
//! - Refresh tokens rotate: each use returns a new one, and presenting a used one revokes the
//!   whole grant (the chain), so a stolen token dies as soon as either party uses it twice.
//! - A grant lives no longer than its SSO session: refresh slides the session's idle expiry and
//!   fails once the session has ended or expired.
//! - A session may be used only while `policy::may_use_session` says so, checked inside the
//!   redemption's and the refresh's transaction (a disabled user gets no grant and no token).

use crate::crypto::{ct_eq, hash_token, random_id, random_token, sha256_b64url, CryptoError};
use crate::model::{Account, Actor, AuditAction, AuditEvent, EndReason, User};
use crate::policy::{self, SessionRefusal};
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
    /// The client is locked out at the caller's address (failed client authentications).
    #[error("too many failed client authentications; locked until {}", .0.until)]
    ClientLocked(crate::model::Locked),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

/// A token request's grant (RFC 6749 4.1.3 and 6).
#[derive(Debug, Clone)]
pub enum TokenGrant {
    /// Redeem an authorization code.
    AuthorizationCode {
        /// The code.
        code: String,
        /// Exactly the one of the authorization request.
        redirect_uri: String,
        /// The PKCE verifier.
        verifier: Option<String>,
    },
    /// Rotate a refresh token.
    RefreshToken {
        /// The refresh token.
        token: String,
        /// A narrower scope for this response (RFC 6749 section 6).
        scope: Option<String>,
    },
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> Self {
        GrantError::Store(e.into())
    }
}

/// A transaction's answer: issued, or refused with changes (a revocation) that must still be
/// committed.
enum Outcome<T> {
    Ok(T),
    Refused(&'static str),
}

/// A live session that may not be used: a session without the second factor its account now
/// requires is ended (with back-channel logout, like every end); a disabled user's grant is
/// refused. Returns the refusal's description.
fn refuse_session(
    conn: &mut DbConnection,
    now: i64,
    sid: &str,
    why: SessionRefusal,
    listeners: &crate::model::LogoutListeners,
) -> Result<&'static str, StoreError> {
    Ok(match why {
        SessionRefusal::UserNotActive => "the user is disabled",
        SessionRefusal::SecondFactorMissing => {
            sessions::end(
                conn,
                now,
                &[sid.to_string()],
                EndReason::MfaMissing,
                listeners,
            )?;
            "the account requires a second factor this session never passed; sign in again"
        }
    })
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
    /// A token request of an authenticated client: refused while the client is locked out at
    /// the caller's address (`lock_ip`, for clients that authenticate with a secret), else the
    /// code redeemed or the refresh token rotated.
    pub fn token_grant(
        &self,
        client_id: &str,
        lock_ip: Option<&str>,
        grant: &TokenGrant,
    ) -> Result<Issued, GrantError> {
        if let Some(ip) = lock_ip {
            if let Some(l) = self.client_auth_lock(client_id, ip)? {
                return Err(GrantError::ClientLocked(l));
            }
        }
        match grant {
            TokenGrant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => self.redeem_code(code, client_id, redirect_uri, verifier.as_deref()),
            TokenGrant::RefreshToken { token, scope } => {
                self.refresh_with_scope(token, client_id, scope.as_deref())
            }
        }
    }

    /// Issues a single-use authorization code (valid `code_ttl_secs`, default 60 s).
    pub fn issue_code(&self, new: &NewCode<'_>) -> Result<String, GrantError> {
        let now = self.now();
        let code = random_token()?;
        codes::insert(
            &mut *self.store().conn()?,
            now,
            &hash_token(&code),
            new,
            now + self.settings().code_ttl_secs,
        )?;
        Ok(code)
    }

    /// Redeems a code for a new grant and its first refresh token. The code is marked used by the
    /// first statement of the transaction, so of two racing redemptions exactly one wins; a
    /// redemption of an already used code revokes what the first one issued.
    pub fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
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
                if let Some(why) = pkce_refusal(c.code_challenge.as_deref(), code_verifier) {
                    return Ok(Outcome::Refused(why));
                }
                let Some(session) = sessions::touch(conn, now, &c.session_id)? else {
                    return Ok(Outcome::Refused("the session has ended or expired"));
                };
                if let Err(why) = policy::may_use_session(&user, &account, &session) {
                    return Ok(Outcome::Refused(refuse_session(
                        conn,
                        now,
                        &c.session_id,
                        why,
                        &self.logout_listeners(),
                    )?));
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
    pub fn refresh(&self, token: &str, client_id: &str) -> Result<Issued, GrantError> {
        self.refresh_with_scope(token, client_id, None)
    }

    /// [`Idp::refresh`] with the `scope` a client may ask for (RFC 6749 section 6): a subset of the
    /// grant's scope, for the tokens of this response only (the grant keeps its scope). Values
    /// the provider never grants are ignored; what is left beyond the grant is refused with
    /// [`GrantError::InvalidScope`] and the refresh token stays usable (nothing is written). An
    /// empty `scope` is the same as none.
    pub fn refresh_with_scope(
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
                if let Err(why) = policy::may_use_session(&user, &account, &session) {
                    grants::revoke(conn, now, &grant_id)?;
                    return Ok(Outcome::Refused(refuse_session(
                        conn,
                        now,
                        &g.session_id,
                        why,
                        &self.logout_listeners(),
                    )?));
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
    /// is not revoked, its session is live, the user is active and the session meets the
    /// account's MFA policy (see [`policy`]).
    pub fn live_grant_subject(
        &self,
        grant_id: &str,
    ) -> Result<Option<(User, Account)>, StoreError> {
        let now = self.now();
        let Some((user, account, amr)) =
            store::grants::live_subject(&mut *self.store().conn()?, grant_id, now)?
        else {
            return Ok(None);
        };
        let method = crate::model::AuthMethod::of_stored_amr(&amr);
        Ok(policy::may_hold_session(&user, &account, method)
            .is_ok()
            .then_some((user, account)))
    }
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
