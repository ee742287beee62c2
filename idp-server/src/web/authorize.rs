//! `/authorize` (OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636, RFC 9207). The client and the exact
//! redirect URI are checked before anything else: if either is wrong the user sees an error page
//! and is never redirected. Later errors go back to the app with `error`, `state` and `iss`.
//! What to do with a valid request (reuse the session, or sign in) is the core's decision.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::flows::PendingAuthorization;
use idp_core::signin::{Authorization, Hinted, Prompt};

use super::browser::{start_sign_in, RequestBrowser};
use super::forms::{found, redirect_with, refusal};
use super::params::{ParamError, Params};
use super::{blocking, locale, text, AppError, AppState};
use crate::config::Client;
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
    match trusted_redirect(config, client_id.as_deref(), redirect_uri.as_deref()) {
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

/// The one rule for where a refusal may go back to the app: a client users sign in to, and a
/// redirect URI registered for it exactly; anything else is a page, never a redirect.
fn trusted_redirect<'a>(
    config: &crate::config::Config,
    client_id: Option<&str>,
    redirect_uri: Option<&'a str>,
) -> Result<(Arc<Client>, &'a str), Refusal> {
    let client_id = client_id.ok_or_else(|| Refusal::Page(msg("no-client-id")))?;
    let client = config
        .client(client_id)
        // An admin client is a program with client credentials: nobody signs in to it.
        .filter(|c| c.admin.is_none())
        .ok_or_else(|| Refusal::Page(msg("unknown-client")))?;
    let redirect_uri = redirect_uri.ok_or_else(|| Refusal::Page(msg("no-redirect-uri")))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(Refusal::Page(msg("unknown-redirect-uri")));
    }
    Ok((client, redirect_uri))
}

/// [`validate_request`] of parameters already parsed.
fn validate_params(
    config: &crate::config::Config,
    params: &Params,
) -> Result<ValidRequest, Refusal> {
    // 1. Client and redirect URI, before anything else.
    let (client, redirect_uri) =
        trusted_redirect(config, params.get("client_id"), params.get("redirect_uri"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CB: &str = "http%3A%2F%2F127.0.0.1%3A9000%2Fcb";

    fn config() -> Config {
        Config::parse(
            "t.toml",
            r#"
issuer = "http://127.0.0.1:8080"
[[clients]]
client_id = "spa"
name = "SPA"
redirect_uris = ["http://127.0.0.1:9000/cb"]
public = true
[[clients]]
client_id = "web"
name = "Web"
redirect_uris = ["http://127.0.0.1:9000/cb"]
secret_sha256 = "d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146"
[[clients]]
client_id = "legacy"
name = "Legacy"
redirect_uris = ["http://127.0.0.1:9000/cb"]
secret_sha256 = "d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146"
require_pkce = false
"#,
        )
        .unwrap()
    }

    fn good(client: &str) -> String {
        format!(
            "client_id={client}&redirect_uri={CB}&response_type=code&scope=openid%20email&state=s1\
             &nonce=n1&code_challenge={CH}&code_challenge_method=S256"
        )
    }

    fn validate(query: &str) -> Result<ValidRequest, Refusal> {
        validate_request(&config(), query.as_bytes())
    }

    /// The error the app gets back (and the redirect it goes to, which must be the registered one).
    fn redirected(query: &str) -> &'static str {
        match validate(query) {
            Err(Refusal::Redirect {
                redirect_uri,
                error,
                state,
                ..
            }) => {
                assert_eq!(redirect_uri, "http://127.0.0.1:9000/cb");
                assert_eq!(
                    state.as_deref(),
                    Some("s1"),
                    "state goes back with the error"
                );
                error
            }
            other => panic!("expected a redirect for {query}, got {other:?}"),
        }
    }

    fn shown(query: &str) -> String {
        match validate(query) {
            Err(Refusal::Page(message)) => crate::i18n::Tr::default().show(&message),
            other => panic!("expected an error page for {query}, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_is_accepted_as_asked() {
        let v = validate(&format!("{}&login_hint=ann%40example.com", good("spa"))).unwrap();
        assert_eq!(v.pending.client_id, "spa");
        assert_eq!(v.pending.redirect_uri, "http://127.0.0.1:9000/cb");
        assert_eq!(v.pending.scope, "openid email");
        assert_eq!(v.pending.state.as_deref(), Some("s1"));
        assert_eq!(v.pending.nonce.as_deref(), Some("n1"));
        assert_eq!(v.pending.code_challenge.as_deref(), Some(CH));
        assert_eq!(v.pending.login_hint.as_deref(), Some("ann@example.com"));
        assert!(!v.prompt_none && !v.force_login);
        assert_eq!(v.max_age, None);
    }

    #[test]
    fn an_unknown_client_or_redirect_uri_is_never_redirected_to() {
        let q = good("spa");
        assert!(shown(&q.replace("client_id=spa", "client_id=nope")).contains("not registered"));
        assert!(shown(&q.replace("client_id=spa&", "")).contains("client_id"));
        assert!(shown(&q.replace(&format!("redirect_uri={CB}&"), "")).contains("redirect_uri"));
        // Exact match only: no prefix, suffix, case, port or query games.
        for uri in [
            "http%3A%2F%2F127.0.0.1%3A9000%2Fcb%2F",
            "http%3A%2F%2F127.0.0.1%3A9000%2Fcb%3Fx%3D1",
            "http%3A%2F%2F127.0.0.1%3A9000%2FCB",
            "http%3A%2F%2F127.0.0.1%3A9001%2Fcb",
            "http%3A%2F%2F127.0.0.1%3A9000%2Fcb%23f",
            "http%3A%2F%2F127.0.0.1%3A9000%2Fc",
        ] {
            let message = shown(&q.replace(CB, uri));
            assert!(message.contains("not registered"), "{uri}: {message}");
        }
        // Even an otherwise broken request is not redirected when the URI is wrong.
        let broken =
            "client_id=spa&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&response_type=token";
        assert!(matches!(validate(broken), Err(Refusal::Page(_))));
        // A repeated parameter is malformed, not "the first one wins".
        let twice = format!("{q}&redirect_uri=http%3A%2F%2Fevil.example%2Fcb");
        assert!(matches!(validate(&twice), Err(Refusal::Page(_))));
        let twice = format!("{q}&client_id=spa");
        assert!(matches!(validate(&twice), Err(Refusal::Page(_))));
        // Another parameter repeated, with the client and its URI beyond doubt: back to the app
        // (RFC 6749 4.1.2.1), with its state when that is not the one repeated.
        assert_eq!(redirected(&format!("{q}&scope=openid")), "invalid_request");
        match validate(&format!("{q}&state=s2")) {
            Err(Refusal::Redirect {
                redirect_uri,
                state,
                error,
                ..
            }) => assert_eq!(
                (redirect_uri.as_str(), state, error),
                ("http://127.0.0.1:9000/cb", None, "invalid_request")
            ),
            other => panic!("{other:?}"),
        }
        // One nobody reads is ignored (RFC 6749 3.1).
        assert!(validate(&format!("{q}&foo=1&foo=2")).is_ok());
    }

    #[test]
    fn later_errors_go_back_to_the_app() {
        let q = good("spa");
        assert_eq!(
            redirected(&q.replace("response_type=code", "response_type=token")),
            "unsupported_response_type"
        );
        assert_eq!(
            redirected(&q.replace("response_type=code&", "")),
            "invalid_request"
        );
        assert_eq!(
            redirected(&q.replace("scope=openid%20email", "scope=email")),
            "invalid_scope"
        );
        assert_eq!(
            redirected(&format!("{q}&response_mode=fragment")),
            "invalid_request"
        );
        assert_eq!(
            redirected(&format!("{q}&request=eyJ")),
            "request_not_supported"
        );
        assert_eq!(
            redirected(&format!("{q}&request_uri=https%3A%2F%2Fx")),
            "request_uri_not_supported"
        );
        assert_eq!(
            redirected(&format!("{q}&registration=%7B%7D")),
            "registration_not_supported"
        );
        assert_eq!(
            redirected(&q.replace("nonce=n1", &format!("nonce={}", "n".repeat(513)))),
            "invalid_request"
        );
    }

    #[test]
    fn pkce_is_s256_and_required_unless_a_confidential_client_opts_out() {
        let q = good("spa");
        let without = q.replace(
            &format!("&code_challenge={CH}&code_challenge_method=S256"),
            "",
        );
        assert_eq!(redirected(&without), "invalid_request", "public client");
        assert_eq!(
            redirected(&without.replace("client_id=spa", "client_id=web")),
            "invalid_request",
            "confidential client, PKCE by default"
        );
        let legacy = validate(&without.replace("client_id=spa", "client_id=legacy")).unwrap();
        assert_eq!(legacy.pending.code_challenge, None);
        for bad in [
            q.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            q.replace("&code_challenge_method=S256", ""),
            q.replace(&format!("code_challenge={CH}&"), ""),
            q.replace(CH, &CH[..42]),
            q.replace(CH, &format!("{}=", &CH[..42])),
        ] {
            assert_eq!(redirected(&bad), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn prompt_and_max_age_are_read_strictly() {
        let q = good("spa");
        let v = validate(&format!("{q}&prompt=login&max_age=0")).unwrap();
        assert!(v.force_login && !v.prompt_none);
        assert_eq!(v.max_age, Some(0));
        assert!(validate(&format!("{q}&prompt=none")).unwrap().prompt_none);
        assert!(
            !validate(&format!("{q}&prompt=consent"))
                .unwrap()
                .force_login
        );
        assert!(
            validate(&format!("{q}&prompt=select_account"))
                .unwrap()
                .force_login
        );
        for bad in [
            "prompt=none%20login",
            "prompt=bogus",
            "max_age=-1",
            "max_age=ten",
        ] {
            assert_eq!(
                redirected(&format!("{q}&{bad}")),
                "invalid_request",
                "{bad}"
            );
        }
    }

    #[test]
    fn unsupported_scopes_are_dropped_and_odd_hints_ignored() {
        let q = good("spa").replace("scope=openid%20email", "scope=openid%20admin%20profile");
        let v = validate(&format!("{q}&login_hint=a%0Ab")).unwrap();
        assert_eq!(v.pending.scope, "openid profile");
        assert_eq!(
            v.pending.login_hint, None,
            "a hint with a control character"
        );
    }
}
