//! `/token` (RFC 6749 3.2, 4.1.3, 4.4, 6; OIDC Core 3.1.3): the request parsed into a typed
//! [`TokenRequest`] and the client's credentials, then one core call
//! ([`idp_core::Idp::token_request`]: client authentication with its lockout, the grant allowed
//! for the client's kind, the grant run), then the tokens minted. Client authentication by
//! `client_secret_basic` or `client_secret_post`, or none for public clients with PKCE
//! ([`super::client_call`], which `/revoke` and `/introspect` share). Every answer is `no-store`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::oauth::GrantError;
use idp_core::token::{TokenAnswer, TokenError, TokenRequest};

use super::client_call::{client_auth_refusal, form_params, no_store, ClientCall};
use super::error::AppError;
use super::params::Params;
use super::state::{blocking, AppState};
use crate::tokens::Minter;

/// How a refused token request answers (RFC 6749 5.2).
fn token_refusal(e: TokenError, now: i64) -> AppError {
    let oauth = |error, description: &str| {
        AppError::oauth(StatusCode::BAD_REQUEST, error, description.to_string())
    };
    match e {
        TokenError::Client(e) => client_auth_refusal(e, now),
        TokenError::UnauthorizedClient(why) => oauth("unauthorized_client", why),
        TokenError::InvalidRequest(why) => AppError::invalid_request(why),
        TokenError::InvalidScope => oauth(
            "invalid_scope",
            "the scope asks for more than this client holds",
        ),
        TokenError::Grant(GrantError::InvalidGrant(why)) => oauth("invalid_grant", why),
        // RFC 6749 6: a refresh may narrow the scope, never widen it.
        TokenError::Grant(GrantError::InvalidScope) => {
            oauth("invalid_scope", "the scope exceeds the original grant")
        }
        TokenError::Grant(e) => AppError::from(e).into_json(),
    }
}

/// The grant a token request asks for (RFC 6749 4.1.3, 4.4, 6), with what it must carry.
fn parse_request(params: &Params) -> Result<TokenRequest, AppError> {
    let required = |name: &'static str, why: &'static str| {
        params
            .get(name)
            .map(str::to_string)
            .ok_or_else(|| AppError::invalid_request(why))
    };
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| AppError::invalid_request("grant_type is required"))?;
    Ok(match grant_type {
        "authorization_code" => TokenRequest::AuthorizationCode {
            code: required("code", "code is required")?,
            redirect_uri: required("redirect_uri", "redirect_uri is required")?,
            verifier: params.get("code_verifier").map(str::to_string),
        },
        "refresh_token" => TokenRequest::RefreshToken {
            token: required("refresh_token", "refresh_token is required")?,
            scope: params.get("scope").map(str::to_string),
        },
        "client_credentials" => TokenRequest::ClientCredentials {
            scope: params.get("scope").map(str::to_string),
        },
        _ => {
            return Err(AppError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
            ))
        }
    })
}

pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    let params = form_params(&req, body)?;
    let call = ClientCall::of(&req, &state, &params)?;
    let request = parse_request(&params)?;
    // One hand-off to the blocking pool for the whole database part: the client's lockout and
    // the grant (single-use claim, rotation, session slide, and the user it was issued to, all
    // in one transaction).
    let idp = state.idp.clone();
    let (answer, call) = blocking(move || {
        let answer = idp.token_request(&call.client.registration(), &call.credentials(), &request);
        (answer, call)
    })
    .await?;
    let answer = answer.map_err(|e| token_refusal(e, state.idp.now()))?;
    let client = call.client;
    let keys = state.keyring()?;
    let minter = Minter {
        config: &state.config,
        keys: &keys,
        now: state.idp.now(),
    };
    let json = |e| AppError::from(e).into_json();
    Ok(match answer {
        TokenAnswer::Issued(issued) => {
            let body = minter.token_response(&client, &issued).map_err(json)?;
            no_store(HttpResponse::Ok()).json(body)
        }
        TokenAnswer::AdminAccess { scope } => {
            let body = minter.admin_token(&client, &scope).map_err(json)?;
            no_store(HttpResponse::Ok()).json(body)
        }
    })
}
