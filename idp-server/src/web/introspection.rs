//! `/revoke` (RFC 7009) and `/introspect` (RFC 7662): the form read and the client identified as
//! at `/token`, the token recognised (an access token is a JWT this provider signed; anything
//! else is looked up as a refresh token), then one core call. Both answer `no-store`.

use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::introspection::{ActiveToken, PresentedToken, TokenKind};
use serde_json::json;

use super::client_call::{client_auth_refusal, form_params, invalid_client, no_store, ClientCall};
use super::error::AppError;
use super::state::{blocking, AppState};
use crate::tokens::{verify_access_token, AccessTokenClaims};

/// The token a request names (RFC 7009 2.1, RFC 7662 2.1: `token`, required). Its
/// `token_type_hint` is only a hint: whatever it says, both kinds are looked for (RFC 7009 2.1).
fn token_param(params: &super::params::Params) -> Result<String, AppError> {
    params
        .get("token")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| AppError::invalid_request("token is required"))
}

/// The claims of `token` if it is an access token this provider signed and that has not
/// expired; anything else is no access token.
fn access_claims(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    let keys = state.keyring().ok()?;
    verify_access_token(token, &keys, &state.config.issuer, &state.verified_tokens).ok()
}

fn presented<'a>(claims: Option<&'a AccessTokenClaims>, raw: &'a str) -> PresentedToken<'a> {
    match claims {
        Some(c) => PresentedToken::Access {
            grant_id: &c.gid,
            client_id: &c.client_id,
        },
        None => PresentedToken::Other(raw),
    }
}

/// RFC 7009: a client revokes its own token; the answer is 200 whatever became of it.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    let params = form_params(&req, body)?;
    let call = ClientCall::of(&req, &state, &params)?;
    let raw = token_param(&params)?;
    let claims = access_claims(&state, &raw);
    let idp = state.idp.clone();
    blocking(move || {
        let token = presented(claims.as_ref(), &raw);
        idp.revoke_token(&call.client.registration(), &call.credentials(), token)
    })
    .await?
    .map_err(|e| client_auth_refusal(e, state.idp.now()))?;
    Ok(no_store(HttpResponse::Ok()).finish())
}

/// RFC 7662: whether a token is active, and what is behind it, for the client it was issued to
/// or a resource server; `{"active": false}` and nothing else otherwise.
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    let params = form_params(&req, body)?;
    let call = ClientCall::of(&req, &state, &params)?;
    // RFC 7662 2.1: the caller must be authenticated; a public client has nothing to do it with.
    if call.client.secret_sha256.is_none() {
        return Err(invalid_client());
    }
    let raw = token_param(&params)?;
    let claims = access_claims(&state, &raw);
    let idp = state.idp.clone();
    let asked = claims.clone();
    let active = blocking(move || {
        let token = presented(asked.as_ref(), &raw);
        idp.introspect(&call.client.registration(), &call.credentials(), token)
    })
    .await?
    .map_err(|e| client_auth_refusal(e, state.idp.now()))?;
    let body = match active {
        Some(live) => active_body(&state.config.issuer, &live, claims.as_ref()),
        None => json!({ "active": false }),
    };
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// RFC 7662 2.2 for an active token: what the token says (an access token's own claims) with
/// what is true now (the session's `sid` and its current `idle_exp`).
fn active_body(
    issuer: &str,
    live: &ActiveToken,
    claims: Option<&AccessTokenClaims>,
) -> serde_json::Value {
    let (scope, exp, iat, aud, token_type) = match (live.kind, claims) {
        (TokenKind::Access, Some(c)) => (c.scope.as_str(), c.exp, c.iat, c.aud.as_str(), "Bearer"),
        (
            TokenKind::Refresh {
                issued_at,
                expires_at,
            },
            _,
        ) => (
            live.scope.as_str(),
            expires_at,
            issued_at,
            live.client_id.as_str(),
            "refresh_token",
        ),
        // The core names an access token only when the server verified one.
        (TokenKind::Access, None) => return json!({ "active": false }),
    };
    json!({
        "active": true,
        "sub": live.subject,
        "client_id": live.client_id,
        "scope": scope,
        "exp": exp,
        "iat": iat,
        "iss": issuer,
        "aud": aud,
        "token_type": token_type,
        "sid": live.session_id,
        "idle_exp": live.idle_expires_at,
    })
}
