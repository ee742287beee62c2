//! `/userinfo` (OIDC Core 5.3): claims for a live Bearer access token, by granted scope.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::AppError;
use super::params::{is_form, Params};
use super::state::{blocking, AppState};
use crate::tokens::{has_scope, verify_access_token};

fn invalid_token(description: &str) -> AppError {
    AppError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_token",
        description: description.into(),
        www_authenticate: Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{description}\""
        )),
    }
}

/// RFC 6750 3.1: a request that cannot be read, with its challenge.
fn bad_request(description: &str) -> AppError {
    AppError::OAuth {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_request",
        description: description.into(),
        www_authenticate: Some("Bearer error=\"invalid_request\"".into()),
    }
}

pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    let body = body.map_err(super::error::unreadable_body)?;
    // RFC 6750 2.1 (the scheme's name case-insensitive, RFC 7235 2.1), or 2.2: a form body's
    // `access_token`; never both (3.1: more than one method is an invalid request).
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
                .map(|_| v[7..].trim().to_string())
        });
    // (2.2: a form body only with POST, never GET.)
    let form_token = if req.method() == actix_web::http::Method::POST && is_form(&req) {
        Params::parse(&body)
            .map_err(|e| bad_request(&e.to_string()))?
            .get("access_token")
            .map(str::to_string)
    } else {
        None
    };
    let token = match (header_token, form_token) {
        (Some(_), Some(_)) => return Err(bad_request("send the access token one way, not two")),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => {
            return Err(AppError::OAuth {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_request",
                description: "a Bearer access token is required".into(),
                www_authenticate: Some("Bearer".into()),
            })
        }
    };
    let token = token.as_str();
    let keys = state.keyring()?;
    let claims = verify_access_token(token, &keys, &state.config.issuer, &state.verified_tokens)
        .map_err(|_| invalid_token("the access token is invalid or expired"))?;
    // OIDC Core 5.3.1: the UserInfo Endpoint answers tokens issued for OpenID Connect (a
    // refresh may have narrowed the scope to leave `openid` out); RFC 6750 3.1.
    if !has_scope(&claims.scope, "openid") {
        return Err(AppError::OAuth {
            status: StatusCode::FORBIDDEN,
            error: "insufficient_scope",
            description: "the access token was not issued for the openid scope".into(),
            www_authenticate: Some("Bearer error=\"insufficient_scope\", scope=\"openid\"".into()),
        });
    }
    // A client removed from the configuration (reload) takes its tokens with it.
    if state.config.client(&claims.client_id).is_none() {
        return Err(invalid_token("the client is no longer configured"));
    }
    let idp = state.idp.clone();
    let gid = claims.gid.clone();
    let found = blocking(move || idp.live_grant_subject(&gid))
        .await?
        .map_err(|e| AppError::from(e).into_json())?;
    let Some((user, account)) = found else {
        return Err(invalid_token(
            "the grant was revoked or its session has ended",
        ));
    };
    let mut body = json!({ "sub": user.id });
    if has_scope(&claims.scope, "email") {
        body["email"] = json!(user.email);
        body["email_verified"] = json!(user.email_verified);
    }
    if has_scope(&claims.scope, "profile") {
        // OIDC Core 5.3.2: a claim without a value is left out, not sent empty.
        if !user.display_name.is_empty() {
            body["name"] = json!(user.display_name);
        }
        body["account"] = json!(account.slug);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
