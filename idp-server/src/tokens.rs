//! The tokens apps receive. ID tokens (OIDC Core 2) and access tokens (JWT, RFC 9068 profile)
//! both carry `sid` and `idle_exp`: the Unix time at which the SSO session ends if nothing
//! happens. Access tokens are short-lived, so an active app refreshes (sliding `idle_exp`) and
//! an idle one does not.

use std::collections::HashMap;
use std::sync::Mutex;

use idp_core::oauth::Issued;
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alg::SigningAlg;
use crate::config::{Client, Config};
use crate::keys::Keyring;

#[derive(Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    pub amr: Vec<String>,
    pub acr: String,
    pub azp: String,
    pub idle_exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub sid: String,
    pub idle_exp: i64,
    pub auth_time: i64,
    /// The grant (refresh-token family) this token belongs to; revoking it kills the token.
    pub gid: String,
}

impl AccessTokenClaims {
    /// Claims of a real access token's size and shape, for measuring signatures (the hidden
    /// `ceiling` command that bench/pinned.sh runs, and the criterion benches).
    #[doc(hidden)]
    pub fn sample(issuer: &str, now: i64) -> Self {
        AccessTokenClaims {
            iss: issuer.to_string(),
            sub: "0123456789abcdef0123456789abcdef".into(),
            aud: "demo".into(),
            client_id: "demo".into(),
            exp: now + 300,
            iat: now,
            jti: "fedcba9876543210fedcba9876543210".into(),
            scope: "openid email profile".into(),
            sid: "00112233445566778899aabbccddeeff".into(),
            idle_exp: now + 1800,
            auth_time: now,
            gid: "ffeeddccbbaa99887766554433221100".into(),
        }
    }
}

/// The access token of an admin client (client credentials grant, RFC 6749 4.4; JWT profile,
/// RFC 9068): its audience is the admin API and nothing else, and it names no user or session,
/// so it is useless at /userinfo, as a user's access token is useless at the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminTokenClaims {
    pub iss: String,
    /// The admin client.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// Space-separated admin scopes.
    pub scope: String,
}

/// The audience of admin API tokens.
pub fn admin_audience(issuer: &str) -> String {
    format!("{issuer}/admin/v1")
}

/// The client credentials grant's answer (no refresh token, no ID token).
#[derive(Debug, Serialize)]
pub struct AdminTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

#[derive(Debug, Serialize)]
pub struct LogoutTokenClaims<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: &'a str,
    pub sid: &'a str,
    pub events: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no signing key for {0}")]
    NoKey(&'static str),
    #[error("token signing failed: {0}")]
    Sign(#[from] crate::keys::SignError),
    #[error("invalid token")]
    Invalid,
    /// Names a key id this provider does not have (any more): unverifiable.
    #[error("names a key id this provider does not have")]
    UnknownKey,
    #[error(transparent)]
    Crypto(#[from] idp_core::crypto::CryptoError),
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

/// The token endpoint's successful answer.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// Absent when the scope (narrowed at a refresh) no longer holds `openid`: the answer is then
    /// an OAuth access token only (OIDC Core 12.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub refresh_token: String,
    /// Seconds left in the idle window: refresh before then or the session ends.
    pub refresh_expires_in: i64,
    pub scope: String,
}

pub struct Minter<'a> {
    pub config: &'a Config,
    pub keys: &'a Keyring,
    pub now: i64,
}

impl Minter<'_> {
    fn sign<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, TokenError> {
        self.keys
            .signer(alg)
            .ok_or(TokenError::NoKey(alg.as_str()))?
            .sign_jwt(typ, claims)
            .map_err(TokenError::Sign)
    }

    /// Mints the ID token, access token and response for a code redemption or refresh.
    pub fn token_response(
        &self,
        client: &Client,
        issued: &Issued,
    ) -> Result<TokenResponse, TokenError> {
        let (user, account) = (&issued.user, &issued.account);
        let session = &issued.session;
        let idle_exp = session.idle_expires_at;
        let scope = &issued.scope;
        let id_claims = IdTokenClaims {
            iss: self.config.issuer.clone(),
            sub: user.id.clone(),
            aud: client.client_id.clone(),
            exp: self.now + self.config.id_token_ttl.as_secs() as i64,
            iat: self.now,
            auth_time: session.auth_time,
            nonce: issued.nonce.clone(),
            sid: session.id.clone(),
            amr: session.amr.clone(),
            acr: session.auth_method().acr().into(),
            azp: client.client_id.clone(),
            idle_exp,
            email: has_scope(scope, "email").then(|| user.email.clone()),
            email_verified: has_scope(scope, "email").then_some(user.email_verified),
            // OIDC Core 5.3.2: a claim without a value is left out, not sent empty.
            name: (has_scope(scope, "profile") && !user.display_name.is_empty())
                .then(|| user.display_name.clone()),
            account: has_scope(scope, "profile").then(|| account.slug.clone()),
        };
        // An access token never outlives the idle window it was issued in.
        let access_ttl =
            (self.config.access_token_ttl.as_secs() as i64).min((idle_exp - self.now).max(1));
        let access_claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: user.id.clone(),
            aud: client.client_id.clone(),
            client_id: client.client_id.clone(),
            exp: self.now + access_ttl,
            iat: self.now,
            jti: idp_core::crypto::random_id()?,
            scope: scope.clone(),
            sid: session.id.clone(),
            idle_exp,
            auth_time: session.auth_time,
            gid: issued.grant_id.clone(),
        };
        Ok(TokenResponse {
            id_token: if has_scope(scope, "openid") {
                Some(self.sign(client.id_token_alg, "JWT", &id_claims)?)
            } else {
                None
            },
            access_token: self.sign(self.config.access_token_alg, "at+jwt", &access_claims)?,
            token_type: "Bearer",
            expires_in: access_ttl,
            refresh_token: issued.refresh_token.clone(),
            refresh_expires_in: (idle_exp - self.now).max(0),
            scope: scope.clone(),
        })
    }

    /// An admin client's access token for `scope` (space-separated admin scopes it holds).
    pub fn admin_token(
        &self,
        client: &Client,
        scope: &str,
    ) -> Result<AdminTokenResponse, TokenError> {
        let ttl = self.config.access_token_ttl.as_secs() as i64;
        let claims = AdminTokenClaims {
            iss: self.config.issuer.clone(),
            sub: client.client_id.clone(),
            aud: admin_audience(&self.config.issuer),
            client_id: client.client_id.clone(),
            exp: self.now + ttl,
            iat: self.now,
            jti: idp_core::crypto::random_id()?,
            scope: scope.to_string(),
        };
        Ok(AdminTokenResponse {
            access_token: self.sign(self.config.access_token_alg, "at+jwt", &claims)?,
            token_type: "Bearer",
            expires_in: ttl,
            scope: scope.to_string(),
        })
    }

    /// A Back-Channel Logout 1.0 logout token, signed with the algorithm the client registered
    /// for its ID tokens (the one it verifies).
    pub fn logout_token(
        &self,
        client: &Client,
        user_id: &str,
        sid: &str,
    ) -> Result<String, TokenError> {
        let claims = LogoutTokenClaims {
            iss: &self.config.issuer,
            aud: &client.client_id,
            iat: self.now,
            exp: self.now + 120,
            jti: idp_core::crypto::random_id()?,
            sub: user_id,
            sid,
            events: serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
        };
        self.sign(client.id_token_alg, "logout+jwt", &claims)
    }
}

fn validation(alg: SigningAlg, issuer: &str, check_exp: bool) -> Validation {
    let mut v = Validation::new(alg.jwt());
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.validate_exp = check_exp;
    v.leeway = 0;
    v.set_required_spec_claims(&["iss", "sub", "exp", "iat"]);
    v
}

fn decode<T: serde::de::DeserializeOwned>(
    token: &str,
    keys: &Keyring,
    issuer: &str,
    typ: Option<&str>,
    check_exp: bool,
) -> Result<T, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    let kid = header.kid.ok_or(TokenError::Invalid)?;
    let (alg, key) = keys.verifier(&kid).ok_or(TokenError::UnknownKey)?;
    if header.alg != alg.jwt() {
        return Err(TokenError::Invalid);
    }
    if let Some(t) = typ {
        if header.typ.as_deref() != Some(t) {
            return Err(TokenError::Invalid);
        }
    }
    jsonwebtoken::decode::<T>(token, key, &validation(alg, issuer, check_exp))
        .map(|d| d.claims)
        .map_err(|_| TokenError::Invalid)
}

/// Verifies an access token's signature, type, issuer and expiry.
///
/// An app calls `/userinfo` (or a resource server asks us) with the same access token many times
/// during its few minutes of life, and the RSA verification was a quarter of a `/userinfo`
/// call's CPU. So the claims of tokens that verified are remembered by the SHA-256 of the token,
/// for the keyring they verified with (a reload or rotation starts from an empty memory). A
/// remembered token is still refused once expired; only successes are remembered, so garbage
/// cannot fill the memory; and whether its grant and session are still live is asked of the
/// database on every call, as before.
pub fn verify_access_token(
    token: &str,
    keys: &Keyring,
    issuer: &str,
    remembered: &VerifiedAccessTokens,
) -> Result<AccessTokenClaims, TokenError> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(claims) = remembered.get(keys.generation(), &digest) {
        return unexpired(claims.exp)
            .then_some(claims)
            .ok_or(TokenError::Invalid);
    }
    let claims = verify_access_token_signature(token, keys, issuer)?;
    remembered.insert(keys.generation(), digest, claims.clone());
    Ok(claims)
}

/// RFC 7519 4.1.4: a token is not accepted on or after its `exp` (jsonwebtoken, even without
/// leeway, still takes it in that very second).
fn unexpired(exp: i64) -> bool {
    i64::try_from(jsonwebtoken::get_current_timestamp()).is_ok_and(|now| now < exp)
}

/// The full verification of an access token (signature, type, issuer, expiry), never remembered.
pub fn verify_access_token_signature(
    token: &str,
    keys: &Keyring,
    issuer: &str,
) -> Result<AccessTokenClaims, TokenError> {
    let claims: AccessTokenClaims = decode(token, keys, issuer, Some("at+jwt"), true)?;
    unexpired(claims.exp)
        .then_some(claims)
        .ok_or(TokenError::Invalid)
}

/// How many verified access tokens are remembered (about 400 bytes each); when full, the
/// memory forgets them all and starts again.
const VERIFIED_ACCESS_TOKENS_MAX: usize = 4096;

/// The memory of verified access tokens (see [`verify_access_token`]), for one keyring at a
/// time: a different keyring generation empties it.
#[derive(Debug, Default)]
pub struct VerifiedAccessTokens {
    map: Mutex<(u64, HashMap<[u8; 32], AccessTokenClaims>)>,
}

impl VerifiedAccessTokens {
    fn get(&self, generation: u64, digest: &[u8; 32]) -> Option<AccessTokenClaims> {
        let map = self.map.lock().ok()?;
        if map.0 != generation {
            return None;
        }
        map.1.get(digest).cloned()
    }

    fn insert(&self, generation: u64, digest: [u8; 32], claims: AccessTokenClaims) {
        if let Ok(mut map) = self.map.lock() {
            if map.0 != generation || map.1.len() >= VERIFIED_ACCESS_TOKENS_MAX {
                *map = (generation, HashMap::new());
            }
            map.1.insert(digest, claims);
        }
    }

    #[cfg(test)]
    fn len(&self, generation: u64) -> usize {
        self.map
            .lock()
            .map(|m| if m.0 == generation { m.1.len() } else { 0 })
            .unwrap_or(0)
    }
}

/// Verifies an admin API token: signature, type, issuer, expiry and the admin audience.
pub fn verify_admin_token(
    token: &str,
    keys: &Keyring,
    issuer: &str,
) -> Result<AdminTokenClaims, TokenError> {
    let claims: AdminTokenClaims = decode(token, keys, issuer, Some("at+jwt"), true)?;
    if !unexpired(claims.exp)
        || claims.aud != admin_audience(issuer)
        || claims.sub != claims.client_id
    {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

/// Verifies an ID token we issued, ignoring its expiry (as `id_token_hint` allows).
pub fn verify_id_token_hint(
    token: &str,
    keys: &Keyring,
    issuer: &str,
) -> Result<IdTokenClaims, TokenError> {
    decode(token, keys, issuer, Some("JWT"), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example.com";

    fn keyring() -> Keyring {
        Keyring::load_or_create(&crate::keys::tests::test_idp(), 600).expect("keys")
    }

    fn claims(exp_in: i64) -> AccessTokenClaims {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).expect("time");
        AccessTokenClaims {
            iss: ISSUER.into(),
            sub: "user-1".into(),
            aud: "demo".into(),
            client_id: "demo".into(),
            exp: now + exp_in,
            iat: now,
            jti: "jti-1".into(),
            scope: "openid email".into(),
            sid: "sid-1".into(),
            idle_exp: now + 1800,
            auth_time: now,
            gid: "grant-1".into(),
        }
    }

    fn sign(keys: &Keyring, claims: &AccessTokenClaims) -> String {
        keys.signer(SigningAlg::Rs256)
            .expect("signer")
            .sign_jwt("at+jwt", claims)
            .expect("sign")
    }

    #[test]
    fn verified_access_tokens_are_remembered_but_still_expire() {
        let keys = keyring();
        let memory = VerifiedAccessTokens::default();
        let token = sign(&keys, &claims(300));
        let first = verify_access_token(&token, &keys, ISSUER, &memory).expect("valid");
        assert_eq!(memory.len(keys.generation()), 1);
        let again = verify_access_token(&token, &keys, ISSUER, &memory).expect("remembered");
        assert_eq!(again.gid, first.gid);
        assert_eq!(again.exp, first.exp);

        // A remembered token whose time has passed is refused without a new verification.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        memory.insert(keys.generation(), digest, claims(-1));
        assert!(verify_access_token(&token, &keys, ISSUER, &memory).is_err());

        // Another keyring (a reload or a rotation) remembers nothing.
        let other = keyring();
        assert_ne!(other.generation(), keys.generation());
        assert_eq!(memory.len(other.generation()), 0);
        assert!(
            verify_access_token(&token, &other, ISSUER, &memory).is_err(),
            "signed by a key this keyring does not hold"
        );
        assert_eq!(
            memory.len(other.generation()),
            0,
            "a refusal is not remembered"
        );
    }

    /// RFC 7519 4.1.4: a token must not be accepted on or after its `exp`, remembered or not.
    #[test]
    fn an_access_token_is_refused_from_its_expiry_second() {
        let keys = keyring();
        let memory = VerifiedAccessTokens::default();
        let token = sign(&keys, &claims(0));
        assert!(verify_access_token(&token, &keys, ISSUER, &memory).is_err());
        let fresh = sign(&keys, &claims(300));
        let digest: [u8; 32] = Sha256::digest(fresh.as_bytes()).into();
        memory.insert(keys.generation(), digest, claims(0));
        assert!(verify_access_token(&fresh, &keys, ISSUER, &memory).is_err());
    }

    #[test]
    fn refused_tokens_are_not_remembered() {
        let keys = keyring();
        let token = sign(&keys, &claims(300));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = sign(
            &keys,
            &AccessTokenClaims {
                sub: "admin".into(),
                ..claims(300)
            },
        );
        parts[1] = forged.split('.').nth(1).expect("payload");
        let spliced = parts.join(".");
        let memory = VerifiedAccessTokens::default();
        assert!(verify_access_token(&spliced, &keys, ISSUER, &memory).is_err());
        let expired = sign(&keys, &claims(-5));
        assert!(verify_access_token(&expired, &keys, ISSUER, &memory).is_err());
        assert!(verify_access_token(&token, &keys, "https://other.example", &memory).is_err());
        assert!(verify_access_token("not.a.token", &keys, ISSUER, &memory).is_err());
        assert_eq!(memory.len(keys.generation()), 0);
        verify_access_token(&token, &keys, ISSUER, &memory).expect("the genuine token");
        assert_eq!(memory.len(keys.generation()), 1);
    }
}
