//! `/end_session` (OpenID Connect RP-Initiated Logout 1.0). With a valid `id_token_hint` the
//! session ends at once; without one, the user confirms with a CSRF-protected form (so a foreign
//! page cannot log people out). A `post_logout_redirect_uri` is followed only when registered for
//! the client; with no session the user is still told they are signed out, never an error.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::browser::{client_ip, removal_cookie, CookieName};
use super::csrf::{csrf_for, csrf_ok};
use super::error::AppError;
use super::locale;
use super::pages::{Frame, LogoutConfirmPage, MessagePage};
use super::params::Params;
use super::render::html;
use super::state::{blocking_try, AppState};
use crate::tokens::verify_id_token_hint;
use idp_core::sessions::{Logout, LogoutRequest};

pub async fn end_session_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    end_session(&req, &state, req.query_string().as_bytes()).await
}

pub async fn end_session_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    end_session(&req, &state, &body).await
}

async fn end_session(
    req: &HttpRequest,
    state: &AppState,
    raw: &[u8],
) -> Result<HttpResponse, AppError> {
    // Logging out must always be possible: malformed parameters are ignored (and so can never
    // lead to a redirect), the user still gets the confirmation or signed-out page.
    let params = Params::parse(raw).unwrap_or_default();
    let keys = state.keyring()?;
    let hint = params
        .get("id_token_hint")
        .and_then(|t| verify_id_token_hint(t, &keys, &state.config.issuer).ok());
    // RP-Initiated Logout 1.0 section 2: with both, the hint must have been issued to that
    // client. One that was not is trusted for nothing (neither the session it names nor the
    // app's redirect): the browser is asked to confirm, as without a hint.
    let (hint, client_id) = match (params.get("client_id"), hint) {
        (Some(c), Some(h)) if c != h.aud => (None, None),
        (Some(c), h) => (h, Some(c.to_string())),
        (None, Some(h)) => {
            let aud = h.aud.clone();
            (Some(h), Some(aud))
        }
        (None, None) => (None, None),
    };
    let client = client_id.as_deref().and_then(|c| state.config.client(c));
    let redirect = params
        .get("post_logout_redirect_uri")
        .filter(|uri| client.is_some_and(|c| c.has_post_logout_uri(uri)))
        .map(str::to_string);
    let app_state = params.get("state").map(str::to_string);
    // RP-Initiated Logout 1.0 section 2: the app may name the pages' language.
    let ui_locales = params.get("ui_locales").map(str::to_string);
    locale::choose(req, ui_locales.as_deref());

    let cookie_secret = CookieName::Session.value(state, req);
    let confirmed = cookie_secret
        .as_deref()
        .is_some_and(|secret| csrf_ok(secret, params.get("csrf")));
    let idp = state.idp.clone();
    let (secret, ip) = (cookie_secret.clone(), client_ip(state, req));
    let hint_ids = hint.as_ref().map(|h| (h.sid.clone(), h.sub.clone()));
    let outcome = blocking_try(move || {
        idp.log_out(&LogoutRequest {
            browser_session: secret.as_deref(),
            confirmed,
            hint: hint_ids
                .as_ref()
                .map(|(sid, sub)| (sid.as_str(), sub.as_str())),
            ip: ip.as_deref(),
        })
    })
    .await?;
    let t = locale::of(req);
    match outcome {
        Logout::Confirm => {
            let csrf = csrf_for(cookie_secret.as_deref().unwrap_or(""));
            return html(
                StatusCode::OK,
                &LogoutConfirmPage {
                    f: Frame::new(t, &state.config.brand),
                    csrf: &csrf,
                    client_id: client_id.as_deref().unwrap_or(""),
                    post_logout_redirect_uri: redirect.as_deref().unwrap_or(""),
                    state: app_state.as_deref().unwrap_or(""),
                    ui_locales: ui_locales.as_deref().unwrap_or(""),
                },
            );
        }
        Logout::Done(ended) => {
            if !ended.is_empty() {
                state.deliver_logouts();
            }
        }
    }

    let removal = removal_cookie(state, CookieName::Session);
    if let Some(uri) = redirect {
        let mut extra = Vec::new();
        if let Some(s) = app_state.as_deref() {
            extra.push(("state", s));
        }
        let mut url = url::Url::parse(&uri).map_err(|e| AppError::internal(&e))?;
        if !extra.is_empty() {
            url.query_pairs_mut().extend_pairs(extra);
        }
        return Ok(HttpResponse::Found()
            .cookie(removal)
            .insert_header((header::LOCATION, url.to_string()))
            .finish());
    }
    let mut res = html(
        StatusCode::OK,
        &MessagePage {
            f: Frame::new(t, &state.config.brand),
            title: &t.tr("signed-out-title"),
            message: &t.tr("signed-out"),
            link: Some(("/login", &t.tr("sign-in-again"))),
        },
    )?;
    res.add_cookie(&removal)
        .map_err(|e| AppError::internal(&e))?;
    Ok(res)
}
