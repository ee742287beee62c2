//! `/authorize` (OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636, RFC 9207). The client and the exact
//! redirect URI are checked before anything else: if either is wrong the user sees an error page
//! and is never redirected. Later errors go back to the app with `error`, `state` and `iss`.
//! What to do with a valid request (reuse the session, or sign in) is the core's decision.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::signin::{Authorization, Prompt};

pub use idp_core::flows::PendingAuthorization;

use super::browser::{start_sign_in, RequestBrowser};
use super::forms::{found, redirect_with, refusal};
use super::params::Params;
use super::{blocking, AppError, AppState};

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

fn error_page(state: &AppState, message: &str) -> AppError {
    AppError::page(
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        message,
    )
    .with_product(&state.config.product_name)
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
    Page(String),
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
    let params =
        Params::parse(raw).map_err(|e| Refusal::Page(format!("The request is malformed: {e}.")))?;

    // 1. Client and redirect URI, before anything else.
    let client_id = params.get("client_id").ok_or_else(|| {
        Refusal::Page("The request does not name an application (client_id is missing).".into())
    })?;
    let client = config.client(client_id).ok_or_else(|| {
        Refusal::Page("The application is not registered with this sign-in service.".into())
    })?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| Refusal::Page("The request has no redirect_uri.".into()))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(Refusal::Page(
            "The redirect_uri is not registered for this application.".into(),
        ));
    }
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
    let force_login = prompts.contains(&"login");
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

async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    raw: &[u8],
) -> Result<HttpResponse, AppError> {
    let ValidRequest {
        pending,
        prompt_none,
        force_login,
        max_age,
    } = match validate_request(&state.config, raw) {
        Ok(v) => v,
        Err(Refusal::Page(message)) => return Err(error_page(state, &message)),
        Err(Refusal::Redirect {
            redirect_uri,
            state: app_state,
            error,
            description,
        }) => {
            return redirect_error(
                state,
                &redirect_uri,
                app_state.as_deref(),
                error,
                &description,
            );
        }
    };
    let prompt = Prompt {
        none: prompt_none,
        login: force_login,
        max_age,
    };
    let browser = RequestBrowser::of(state, req);
    let idp = state.idp.clone();
    let request = pending.clone();
    let answer = blocking(move || idp.authorize(&request, prompt, browser.get())).await?;
    match answer.map_err(|e| refusal(state, e))? {
        Authorization::Code(code) => Ok(found(code_redirect(state, &pending, &code)?)),
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

/// The app's redirect URI with a code for its request (and the request's `state`).
pub fn code_redirect(
    state: &AppState,
    pending: &PendingAuthorization,
    code: &str,
) -> Result<String, AppError> {
    let mut params = vec![("code", code)];
    if let Some(s) = pending.state.as_deref() {
        params.push(("state", s));
    }
    redirect_with(&pending.redirect_uri, &state.config.issuer, &params)
}
