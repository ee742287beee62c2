//! `/authorize` (OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636, RFC 9207). The client and the exact
//! redirect URI are checked before anything else: if either is wrong the user sees an error page
//! and is never redirected. Later errors go back to the app with `error`, `state` and `iss`.
//! What to do with a valid request (reuse the session, or sign in) is the core's decision.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::flows::PendingAuthorization;
use idp_core::signin::{AppAnswer, Authorization, Hinted, Prompt};

use super::app_return::{app_redirect, trusted_redirect};
use super::browser::{start_sign_in, RequestBrowser};
use super::error::AppError;
use super::forms::{found, redirect_with, refusal};
use super::params::{ParamError, Params};
use super::state::{blocking, AppState};
use super::{locale, text};
use crate::i18n::{msg, Msg};
use crate::tokens::{verify_id_token_hint, TokenError};

pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    authorize(&req, &state, req.query_string().as_bytes()).await
}

pub async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    authorize(&req, &state, &body).await
}

fn error_page(state: &AppState, message: Msg) -> AppError {
    AppError::page(
        StatusCode::BAD_REQUEST,
        msg("sign-in-link-invalid-title"),
        message,
    )
    .with_brand(&state.config.brand)
}

/// An error returned to the app's (validated) redirect URI.
fn redirect_error(
    state: &AppState,
    redirect_uri: &str,
    app_state: Option<&str>,
    error: &str,
    description: &str,
) -> Result<HttpResponse, AppError> {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = app_state {
        params.push(("state", s));
    }
    Ok(found(redirect_with(
        redirect_uri,
        &state.config.issuer,
        &params,
    )?))
}

/// A request whose client and redirect URI are known good, and what it asks for.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub pending: PendingAuthorization,
    pub prompt_none: bool,
    pub force_login: bool,
    pub max_age: Option<i64>,
}

/// Why a request is refused. `Page`: shown to the user, never redirected (unknown client or
/// redirect URI, malformed request). `Redirect`: sent back to the validated redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Page(Msg),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// Validates an authorization request (OIDC Core 3.1.2.1-2, RFC 6749 4.1.1, RFC 7636 4.3).
/// Pure: no I/O, so it is unit-tested and fuzzed directly.
pub fn validate_request(
    config: &crate::config::Config,
    raw: &[u8],
) -> Result<ValidRequest, Refusal> {
    let params = Params::parse(raw).map_err(|e| unreadable(config, raw, &e))?;
    validate_params(config, &params)
}

/// A request with a parameter the provider reads repeated or unreadable: the app hears of it
/// (RFC 6749 4.1.2.1) when its client and redirect URI are beyond doubt (each sent once, and
/// [`trusted_redirect`]), else the person sees a page.
fn unreadable(config: &crate::config::Config, raw: &[u8], e: &ParamError) -> Refusal {
    let page = Refusal::Page(text::request_refusal(e));
    let client_id = Params::single(raw, "client_id");
    let redirect_uri = Params::single(raw, "redirect_uri");
    match trusted_redirect(config, client_id.as_deref(), redirect_uri.as_deref())
        .map_err(Refusal::Page)
    {
        Ok((_, redirect_uri)) => Refusal::Redirect {
            redirect_uri: redirect_uri.to_string(),
            // (None when `state` is the parameter at fault.)
            state: Params::single(raw, "state"),
            error: "invalid_request",
            description: e.to_string(),
        },
        Err(_) => page,
    }
}

/// [`validate_request`] of parameters already parsed.
fn validate_params(
    config: &crate::config::Config,
    params: &Params,
) -> Result<ValidRequest, Refusal> {
    // 1. Client and redirect URI, before anything else.
    let (client, redirect_uri) =
        trusted_redirect(config, params.get("client_id"), params.get("redirect_uri"))
            .map_err(Refusal::Page)?;
    let app_state = params.get("state");
    let fail = |error: &'static str, description: &str| {
        Err(Refusal::Redirect {
            redirect_uri: redirect_uri.to_string(),
            state: app_state.map(str::to_string),
            error,
            description: description.to_string(),
        })
    };

    // 2. The rest of the request; errors go back to the app.
    for (p, e) in [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ] {
        if params.has(p) {
            return fail(e, &format!("the {p} parameter is not supported"));
        }
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is required"),
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    if let Some(mode) = params.get("response_mode") {
        if mode != "query" {
            return fail("invalid_request", "only response_mode=query is supported");
        }
    }
    let requested = params.get("scope").unwrap_or("");
    if !requested.split(' ').any(|s| s == "openid") {
        return fail("invalid_scope", "the scope must include openid");
    }
    let scope = idp_core::oauth::supported_scope(requested).join(" ");

    let code_challenge = params.get("code_challenge");
    match (params.get("code_challenge_method"), code_challenge) {
        (Some("S256"), Some(_)) | (None, None) => {}
        // RFC 7636 4.3 defaults to "plain", which we do not accept.
        (None, Some(_)) | (Some("plain"), _) => {
            return fail("invalid_request", "code_challenge_method must be S256")
        }
        (Some(_), None) => return fail("invalid_request", "code_challenge is missing"),
        (Some(_), Some(_)) => return fail("invalid_request", "code_challenge_method must be S256"),
    }
    if let Some(ch) = code_challenge {
        if ch.len() != 43
            || !ch
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return fail(
                "invalid_request",
                "code_challenge must be a base64url SHA-256 (43 characters)",
            );
        }
    } else if client.public || client.require_pkce {
        // RFC 9700 2.1.1: PKCE for confidential clients too, unless configured off for a legacy app.
        return fail(
            "invalid_request",
            "PKCE (code_challenge with S256) is required for this client",
        );
    }

    let prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if prompts
        .iter()
        .any(|p| !matches!(*p, "none" | "login" | "consent" | "select_account"))
    {
        return fail("invalid_request", "unsupported prompt value");
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    // OIDC Core 3.1.2.1: `select_account` asks the user to choose the account; with no account
    // chooser, the choice is made by signing in (so as `login`). `consent` needs nothing more:
    // the operator registered the app, which is the organisation's consent.
    let force_login = prompts.contains(&"login") || prompts.contains(&"select_account");
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return fail("invalid_request", "max_age must be a non-negative integer"),
        },
    };
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > 512) || app_state.is_some_and(|s| s.len() > 2048) {
        return fail("invalid_request", "state or nonce is too long");
    }
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() <= 254 && !h.chars().any(char::is_control));

    Ok(ValidRequest {
        pending: PendingAuthorization {
            hinted_sub: None,
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            scope,
            state: app_state.map(str::to_string),
            nonce: nonce.map(str::to_string),
            code_challenge: code_challenge.map(str::to_string),
            login_hint: login_hint.map(str::to_string),
        },
        prompt_none,
        force_login,
        max_age,
    })
}

/// A refused request: a page, or back to the app.
fn refuse(state: &AppState, refusal: Refusal) -> Result<HttpResponse, AppError> {
    match refusal {
        Refusal::Page(message) => Err(error_page(state, message)),
        Refusal::Redirect {
            redirect_uri,
            state: app_state,
            error,
            description,
        } => redirect_error(
            state,
            &redirect_uri,
            app_state.as_deref(),
            error,
            &description,
        ),
    }
}

async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    raw: &[u8],
) -> Result<HttpResponse, AppError> {
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => {
            // Even a request that cannot be read is refused in the language it asks for.
            locale::choose(req, Params::first_readable(raw, "ui_locales").as_deref());
            return refuse(state, unreadable(&state.config, raw, &e));
        }
    };
    // The app's language for this page and the browser's next ones, even when it is refused.
    let chosen = locale::choose(req, params.get("ui_locales"));
    let ValidRequest {
        pending,
        prompt_none,
        force_login,
        max_age,
    } = match validate_params(&state.config, &params) {
        Ok(v) => v,
        Err(refusal) => return refuse(state, refusal),
    };
    if let Some(lang) = chosen {
        locale::remember(req, lang);
    }
    // OIDC Core 3.1.2.1: an ID token this provider issued (expired or not) naming the user the
    // app expects; one naming a key id it does not have (retired long ago, or invented) is
    // unverifiable and names nobody it can vouch for (no session serves it); anything
    // else is a malformed request.
    let subject = match params.get("id_token_hint") {
        None => None,
        Some(t) => match verify_id_token_hint(t, &*state.keyring()?, &state.config.issuer) {
            Ok(claims) => Some(Hinted::User(claims.sub)),
            Err(TokenError::UnknownKey) => Some(Hinted::Unknown),
            Err(_) => {
                return redirect_error(
                    state,
                    &pending.redirect_uri,
                    pending.state.as_deref(),
                    "invalid_request",
                    "id_token_hint is not an ID token issued by this provider",
                )
            }
        },
    };
    let prompt = Prompt {
        none: prompt_none,
        login: force_login,
        max_age,
        subject,
    };
    let browser = RequestBrowser::of(state, req);
    let idp = state.idp.clone();
    let request = pending.clone();
    let answer = blocking(move || idp.authorize(&request, prompt, browser.get())).await?;
    match answer.map_err(|e| refusal(state, e))? {
        Authorization::Code(code) => Ok(found(app_redirect(
            state,
            &pending,
            &AppAnswer::Code(code),
        )?)),
        Authorization::SignIn(handle) => Ok(start_sign_in(state, handle)),
        Authorization::LoginRequired => redirect_error(
            state,
            &pending.redirect_uri,
            pending.state.as_deref(),
            "login_required",
            "the user is not signed in",
        ),
    }
}

#[cfg(test)]
mod tests;
