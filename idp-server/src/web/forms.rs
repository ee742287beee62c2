//! What the page handlers share: reading a form, the redirects, and the pages that say a form
//! or a sign-in has expired.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use url::Url;

use idp_core::signin::SignInError;

use super::error::AppError;
use super::params::Params;
use super::state::AppState;
use super::text;
use crate::i18n::{msg, Msg};

/// Parses an `application/x-www-form-urlencoded` body (duplicates, NUL and bad UTF-8 refused).
pub fn parse_form(state: &AppState, body: &[u8]) -> Result<Params, AppError> {
    Params::parse(body).map_err(|e| {
        AppError::page(
            StatusCode::BAD_REQUEST,
            msg("invalid-form-title"),
            text::form_refusal(&e),
        )
        .with_brand(&state.config.brand)
    })
}

/// 303 to a page of ours.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// 302 to an app (never cached).
pub fn found(location: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `redirect_uri` with the given response parameters and `iss` (RFC 9207) appended.
pub fn redirect_with(
    redirect_uri: &str,
    issuer: &str,
    params: &[(&str, &str)],
) -> Result<String, AppError> {
    let mut url = Url::parse(redirect_uri).map_err(|e| AppError::internal(&e))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("iss", issuer);
    }
    Ok(url.to_string())
}

/// The refusal for a form whose CSRF token does not match its cookie secret.
pub fn form_expired(state: &AppState, hint: Msg) -> AppError {
    AppError::page(StatusCode::FORBIDDEN, msg("form-expired-title"), hint)
        .with_brand(&state.config.brand)
}

/// The page for a sign-in that expired (or a form sent twice).
pub fn sign_in_expired(state: &AppState) -> AppError {
    AppError::page(
        StatusCode::BAD_REQUEST,
        msg("sign-in-expired-title"),
        msg("sign-in-expired"),
    )
    .with_brand(&state.config.brand)
}

/// A form page refused for a lockout (locked `until`) says when to come back (RFC 6585 4,
/// RFC 9110 10.2.3).
pub fn retry_after(mut res: HttpResponse, until: Option<i64>, now: i64) -> HttpResponse {
    if let Some(until) = until {
        res.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from((until - now).max(1)),
        );
    }
    res
}

/// Until when a refusal is locked, if it is a lockout.
pub fn locked_until(refusal: &SignInError) -> Option<i64> {
    match refusal {
        SignInError::Locked(l) => Some(l.until),
        _ => None,
    }
}

/// The answer to a sign-in refusal that is not shown on the form itself.
pub fn refusal(state: &AppState, e: SignInError) -> AppError {
    match e {
        SignInError::Expired | SignInError::WrongStage => sign_in_expired(state),
        SignInError::TooManySignIns(l) => AppError::page(
            StatusCode::TOO_MANY_REQUESTS,
            msg("too-many-sign-ins-title"),
            msg("too-many-sign-ins").with("minutes", text::minutes_until(l.until, state.idp.now())),
        )
        .with_brand(&state.config.brand)
        .with_retry_after(l.until - state.idp.now()),
        SignInError::Disabled => AppError::page(
            StatusCode::FORBIDDEN,
            msg("user-disabled-title"),
            msg("user-disabled"),
        )
        .with_brand(&state.config.brand),
        SignInError::Store(s) => s.into(),
        other => AppError::internal(&other),
    }
}
