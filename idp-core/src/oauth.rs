//! Authorization codes, grants and refresh tokens (RFC 6749, RFC 7636, OAuth 2.0 Security BCP).
//!
//! Invariants:
//! - A code is redeemed at most once; a second attempt revokes the grant the first one created.
//! - Refresh tokens rotate: each use returns a new one, and presenting a used one revokes the
//!   whole grant (the chain), so a stolen token dies as soon as either party uses it twice.
//! - A grant lives no longer than its SSO session: refresh slides the session's idle expiry and
//!   fails once the session has ended or expired.

use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::AccountRow;
use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::crypto::{ct_eq, hash_token, random_id, random_token, sha256_b64url, CryptoError};
use crate::policy::{self, SessionRefusal};
use crate::sessions::{self, EndReason, SsoSession};
use crate::store::schema::{
    accounts, authorization_codes as ac, grants, refresh_tokens as rt, users,
};
use crate::store::{DbConnection, StoreError};
use crate::users::UserRow;
use crate::Idp;

/// Why a grant request failed; maps to RFC 6749 `invalid_grant` with this description.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// A refresh asked for a scope beyond the grant's (RFC 6749 section 6).
    #[error("the scope exceeds the original grant")]
    InvalidScope,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> Self {
        GrantError::Store(e.into())
    }
}

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
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub session: SsoSession,
    /// The new refresh token (raw; only its hash is stored).
    #[serde(skip)]
    pub refresh_token: String,
    /// The user the grant belongs to and their account, read in the grant's transaction (one
    /// query with the code or grant row, no second checkout for the token response's claims).
    pub user: crate::User,
    pub account: crate::Account,
}

enum Outcome<T> {
    Ok(T),
    /// Refused, with changes (a revocation) that must still be committed.
    Refused(&'static str),
}

fn revoke_grant(conn: &mut DbConnection, now: i64, grant_id: &str) -> Result<(), StoreError> {
    diesel::update(
        grants::table
            .find(grant_id)
            .filter(grants::revoked_at.is_null()),
    )
    .set(grants::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// A live session that may not be used: a session without the second factor its account now
/// requires is ended (with back-channel logout, like every end); a disabled user's grant is
/// refused. Returns the refusal's description.
fn refuse_session(
    conn: &mut DbConnection,
    now: i64,
    sid: &str,
    why: SessionRefusal,
) -> Result<&'static str, StoreError> {
    Ok(match why {
        SessionRefusal::UserNotActive => "the user is disabled",
        SessionRefusal::SecondFactorMissing => {
            sessions::end_sessions(conn, now, &[sid.to_string()], EndReason::MfaMissing)?;
            "the account requires a second factor this session never passed; sign in again"
        }
    })
}

fn insert_refresh(
    conn: &mut DbConnection,
    now: i64,
    grant_id: &str,
    expires_at: i64,
) -> Result<String, GrantError> {
    let token = random_token()?;
    let token_hash = hash_token(&token);
    crate::on_backend!(conn, |c| diesel::insert_into(rt::table)
        .values((
            rt::token_hash.eq(&token_hash),
            rt::grant_id.eq(grant_id),
            rt::created_at.eq(now),
            rt::expires_at.eq(expires_at),
        ))
        .execute(c))?;
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

impl Idp {
    /// Issues a single-use authorization code (valid `code_ttl_secs`, default 60 s).
    pub fn issue_code(&self, new: &NewCode<'_>) -> Result<String, GrantError> {
        let now = self.now();
        let code = random_token()?;
        let mut conn = self.store().conn()?;
        diesel::insert_into(ac::table)
            .values((
                ac::code_hash.eq(hash_token(&code)),
                ac::client_id.eq(new.client_id),
                ac::redirect_uri.eq(new.redirect_uri),
                ac::session_id.eq(new.session_id),
                ac::user_id.eq(new.user_id),
                ac::scope.eq(new.scope),
                ac::nonce.eq(new.nonce),
                ac::code_challenge.eq(new.code_challenge),
                ac::created_at.eq(now),
                ac::expires_at.eq(now + self.settings().code_ttl_secs),
            ))
            .execute(&mut conn)?;
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
                let claimed =
                    diesel::update(ac::table.find(&code_hash).filter(ac::redeemed_at.is_null()))
                        .set(ac::redeemed_at.eq(Some(now)))
                        .execute(conn)?;
                type CodeRow = (
                    String,
                    String,
                    String,
                    String,
                    Option<String>,
                    Option<String>,
                    i64,
                    Option<String>,
                );
                // The code row with its user and account (foreign keys with ON DELETE CASCADE:
                // a code always has both).
                let row: Option<(CodeRow, UserRow, AccountRow)> = ac::table
                    .inner_join(users::table.on(users::id.eq(ac::user_id)))
                    .inner_join(accounts::table.on(accounts::id.eq(users::account_id)))
                    .filter(ac::code_hash.eq(&code_hash))
                    .select((
                        (
                            ac::client_id,
                            ac::redirect_uri,
                            ac::session_id,
                            ac::scope,
                            ac::nonce,
                            ac::code_challenge,
                            ac::expires_at,
                            ac::grant_id,
                        ),
                        users::all_columns,
                        accounts::all_columns,
                    ))
                    .get_result(conn)
                    .optional()?;
                let Some((
                    (c_client, c_redirect, sid, scope, nonce, challenge, expires_at, prior_grant),
                    user_row,
                    account_row,
                )) = row
                else {
                    return Ok(Outcome::Refused("the authorization code is invalid"));
                };
                if claimed == 0 {
                    // Replay: RFC 6749 4.1.2 says revoke the tokens issued from this code.
                    if let Some(gid) = prior_grant {
                        revoke_grant(conn, now, &gid)?;
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
                if expires_at <= now {
                    return Ok(Outcome::Refused("the authorization code has expired"));
                }
                if !ct_eq(c_client.as_bytes(), client_id.as_bytes()) {
                    return Ok(Outcome::Refused(
                        "the authorization code was issued to another client",
                    ));
                }
                if c_redirect != redirect_uri {
                    return Ok(Outcome::Refused(
                        "redirect_uri does not match the authorization request",
                    ));
                }
                match (challenge.as_deref(), code_verifier) {
                    (Some(ch), Some(v)) if pkce_s256_matches(v, ch) => {}
                    (Some(_), Some(_)) => {
                        return Ok(Outcome::Refused(
                            "code_verifier does not match the code_challenge",
                        ))
                    }
                    (Some(_), None) => return Ok(Outcome::Refused("code_verifier is required")),
                    (None, Some(_)) => {
                        return Ok(Outcome::Refused(
                            "code_verifier sent but no code_challenge was",
                        ))
                    }
                    (None, None) => {}
                }
                let Some(session) = sessions::touch(conn, now, &sid)? else {
                    return Ok(Outcome::Refused("the session has ended or expired"));
                };
                let (user, account) = crate::users::with_account(user_row, account_row)?;
                if let Err(why) = policy::may_use_session(&user, &account, &session) {
                    return Ok(Outcome::Refused(refuse_session(conn, now, &sid, why)?));
                }
                let grant_id = random_id()?;
                diesel::insert_into(grants::table)
                    .values((
                        grants::id.eq(&grant_id),
                        grants::session_id.eq(&sid),
                        grants::user_id.eq(&user.id),
                        grants::client_id.eq(&c_client),
                        grants::scope.eq(&scope),
                        grants::created_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::update(ac::table.find(&code_hash))
                    .set(ac::grant_id.eq(Some(&grant_id)))
                    .execute(conn)?;
                let refresh_token = insert_refresh(conn, now, &grant_id, session.expires_at)?;
                Ok(Outcome::Ok(Issued {
                    grant_id,
                    client_id: c_client,
                    scope,
                    nonce,
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
    /// grant's scope, for the tokens of this response only (the grant keeps its scope). A scope
    /// beyond the grant is refused with [`GrantError::InvalidScope`] and the refresh token stays
    /// usable (nothing is written). An empty `scope` is the same as none.
    pub fn refresh_with_scope(
        &self,
        token: &str,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<Issued, GrantError> {
        // Values we never grant are ignored (Authlib, for one, repeats the original request's
        // scope, `offline_access` included); what is left must lie within the grant.
        let asked: Option<Vec<&str>> = scope.map(supported_scope).filter(|v| !v.is_empty());
        let now = self.now();
        let token_hash = hash_token(token);
        let outcome = self
            .store()
            .tx(|conn| -> Result<Outcome<Issued>, GrantError> {
                let claimed: Option<(String, i64)> = crate::on_backend!(&mut *conn, |c| {
                    diesel::update(rt::table.find(&token_hash).filter(rt::used_at.is_null()))
                        .set(rt::used_at.eq(Some(now)))
                        .returning((rt::grant_id, rt::expires_at))
                        .get_result(c)
                        .optional()
                })?;
                let Some((grant_id, expires_at)) = claimed else {
                    // Unknown, or spent before: a spent token presented again means the chain
                    // leaked, so its grant is revoked.
                    let spent: Option<String> = crate::on_backend!(&mut *conn, |c| rt::table
                        .find(&token_hash)
                        .select(rt::grant_id)
                        .get_result(c)
                        .optional())?;
                    let Some(grant_id) = spent else {
                        return Ok(Outcome::Refused("the refresh token is invalid"));
                    };
                    revoke_grant(conn, now, &grant_id)?;
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
                // The grant with its user and account (foreign keys with ON DELETE CASCADE: a
                // refresh token's grant always has both).
                type GrantRow = (String, String, String, Option<i64>);
                let ((sid, g_client, scope, revoked), user_row, account_row): (
                    GrantRow,
                    UserRow,
                    AccountRow,
                ) = crate::on_backend!(&mut *conn, |c| grants::table
                    .inner_join(users::table.on(users::id.eq(grants::user_id)))
                    .inner_join(accounts::table.on(accounts::id.eq(users::account_id)))
                    .filter(grants::id.eq(&grant_id))
                    .select((
                        (
                            grants::session_id,
                            grants::client_id,
                            grants::scope,
                            grants::revoked_at,
                        ),
                        users::all_columns,
                        accounts::all_columns,
                    ))
                    .get_result(c))?;
                if revoked.is_some() {
                    return Ok(Outcome::Refused("the grant has been revoked"));
                }
                if !ct_eq(g_client.as_bytes(), client_id.as_bytes()) {
                    revoke_grant(conn, now, &grant_id)?;
                    return Ok(Outcome::Refused(
                        "the refresh token was issued to another client",
                    ));
                }
                // An error (not a refusal) rolls back the claim above, so the client can retry with
                // the same token.
                let scope = match &asked {
                    None => scope,
                    Some(asked) if asked.iter().all(|s| scope.split(' ').any(|g| g == *s)) => {
                        asked.join(" ")
                    }
                    Some(_) => return Err(GrantError::InvalidScope),
                };
                let live = if expires_at > now {
                    sessions::touch(conn, now, &sid)?
                } else {
                    None
                };
                let Some(session) = live else {
                    revoke_grant(conn, now, &grant_id)?;
                    return Ok(Outcome::Refused("the session has ended or expired"));
                };
                let (user, account) = crate::users::with_account(user_row, account_row)?;
                if let Err(why) = policy::may_use_session(&user, &account, &session) {
                    revoke_grant(conn, now, &grant_id)?;
                    return Ok(Outcome::Refused(refuse_session(conn, now, &sid, why)?));
                }
                let refresh_token = insert_refresh(conn, now, &grant_id, session.expires_at)?;
                Ok(Outcome::Ok(Issued {
                    grant_id,
                    client_id: g_client,
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
    ) -> Result<Option<(crate::User, crate::Account)>, StoreError> {
        use crate::store::schema::sso_sessions as ss;
        let now = self.now();
        let mut conn = self.store().conn()?;
        let row: Option<(crate::users::UserRow, crate::accounts::AccountRow, String)> =
            crate::on_backend!(&mut *conn, |c| grants::table
                .inner_join(ss::table.inner_join(users::table.inner_join(accounts::table)))
                .filter(grants::id.eq(grant_id))
                .filter(grants::revoked_at.is_null())
                .filter(sessions::live(now))
                .select((users::all_columns, accounts::all_columns, ss::amr))
                .get_result(c)
                .optional())?;
        let Some((user, account, amr)) = row else {
            return Ok(None);
        };
        let (user, account) = crate::users::with_account(user, account)?;
        let passed_second_factor = amr.split(' ').any(|a| a == sessions::AMR_OTP);
        if !policy::may_sign_in(&user) || !policy::meets_mfa_policy(&account, passed_second_factor)
        {
            return Ok(None);
        }
        Ok(Some((user, account)))
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
    }
}
