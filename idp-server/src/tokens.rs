//! The tokens apps receive. ID tokens (OIDC Core 2) and access tokens (JWT, RFC 9068 profile)
//! both carry `sid` and `idle_exp`: the Unix time at which the SSO session ends if nothing
//! happens. Access tokens are short-lived, so an active app refreshes (sliding `idle_exp`) and
//! an idle one does not.

use idp_core::oauth::Issued;
use idp_core::sessions::{SsoSession, AMR_MFA, AMR_OTP};
use idp_core::{Account, User};
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};

use crate::config::{Client, Config};
use crate::keys::{Keyring, SigningAlg};

/// `acr` values: password only, or password plus a second factor.
pub const ACR_PASSWORD: &str = "urn:idp:acr:pwd";
pub const ACR_MFA: &str = "urn:idp:acr:mfa";

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

#[derive(Debug, Serialize, Deserialize)]
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
    Sign(String),
    #[error("invalid token")]
    Invalid,
    #[error(transparent)]
    Crypto(#[from] idp_core::crypto::CryptoError),
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

fn acr(session: &SsoSession) -> &'static str {
    if session.has_mfa() {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

/// The RFC 8176 `amr` of a session: `["pwd"]` or `["pwd","otp","mfa"]`.
pub fn amr_for(with_otp: bool) -> Vec<&'static str> {
    if with_otp {
        vec![idp_core::sessions::AMR_PASSWORD, AMR_OTP, AMR_MFA]
    } else {
        vec![idp_core::sessions::AMR_PASSWORD]
    }
}

/// The token endpoint's successful answer.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
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
        user: &User,
        account: &Account,
    ) -> Result<TokenResponse, TokenError> {
        let session = &issued.session;
        let idle_exp = session.idle_expires_at();
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
            acr: acr(session).into(),
            azp: client.client_id.clone(),
            idle_exp,
            email: has_scope(scope, "email").then(|| user.email.clone()),
            email_verified: has_scope(scope, "email").then_some(user.email_verified),
            name: has_scope(scope, "profile").then(|| user.display_name.clone()),
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
            id_token: self.sign(client.id_token_alg, "JWT", &id_claims)?,
            access_token: self.sign(self.config.access_token_alg, "at+jwt", &access_claims)?,
            token_type: "Bearer",
            expires_in: access_ttl,
            refresh_token: issued.refresh_token.clone(),
            refresh_expires_in: (idle_exp - self.now).max(0),
            scope: scope.clone(),
        })
    }

    /// A Back-Channel Logout 1.0 logout token.
    pub fn logout_token(
        &self,
        client_id: &str,
        user_id: &str,
        sid: &str,
    ) -> Result<String, TokenError> {
        let claims = LogoutTokenClaims {
            iss: &self.config.issuer,
            aud: client_id,
            iat: self.now,
            exp: self.now + 120,
            jti: idp_core::crypto::random_id()?,
            sub: user_id,
            sid,
            events: serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
        };
        self.sign(SigningAlg::Rs256, "logout+jwt", &claims)
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
    let (alg, key) = keys.verifier(&kid).ok_or(TokenError::Invalid)?;
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
pub fn verify_access_token(
    token: &str,
    keys: &Keyring,
    issuer: &str,
) -> Result<AccessTokenClaims, TokenError> {
    decode(token, keys, issuer, Some("at+jwt"), true)
}

/// Verifies an ID token we issued, ignoring its expiry (as `id_token_hint` allows).
pub fn verify_id_token_hint(
    token: &str,
    keys: &Keyring,
    issuer: &str,
) -> Result<IdTokenClaims, TokenError> {
    decode(token, keys, issuer, Some("JWT"), false)
}
