//! Signing in to the console: it is an app of the provider like any other (the built-in client
//! `console`, public, PKCE S256), so its session is the grant that sign-in creates, inside the
//! SSO session: idle timeout, logout, an operator's revoke, a revoked role end it as they end
//! any app's. The browser holds two cookies, each sealed with the master key under its own AAD
//! (so neither can be forged, read, or swapped for the other):
//! - while signing in, the request's `state`, PKCE verifier, `nonce` and return path (short-lived,
//!   SameSite=Lax: it must survive the redirects through `/authorize` and the sign-in pages);
//! - once signed in, the grant's id (SameSite=Strict: no other site can send a request that
//!   carries it; Path=/console: no other page of ours receives it).
//!
//! The code is redeemed in-process through the one token path (`Idp::token_request` with the
//! console's current registration), never over HTTP to ourselves. Every request then asks
//! `Idp::console_entry` who the grant belongs to now.

use actix_web::cookie::SameSite;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::console::{ConsoleEntry, Staff};
use idp_core::crypto::{ct_eq, random_token, sha256_b64url};
use idp_core::model::ClientCredentials;
use idp_core::roles::CONSOLE_CLIENT_ID;
use idp_core::sessions::{Logout, LogoutRequest};
use idp_core::token::{TokenAnswer, TokenRequest};
use serde::{Deserialize, Serialize};

use super::super::browser::{client_ip, cookie_with, removal_cookie, CookieName};
use super::super::csrf::{csrf_for, csrf_ok};
use super::super::error::AppError;
use super::super::forms::{form_expired, parse_form, see_other};
use super::super::locale;
use super::super::params::Params;
use super::super::render::html as page;
use super::super::state::{blocking, blocking_try, AppState};
use super::pages::{Frame, MessagePage};
use crate::config::console_redirect_uri;
use crate::i18n::{msg, Tr};

/// The AAD of the sign-in cookie: it opens as nothing else.
const SIGN_IN_AAD: &str = "console-sign-in";
/// The AAD of the console cookie.
const SESSION_AAD: &str = "console-session";
/// Where the console's cookies are sent.
const PATH: &str = "/console";

/// A sign-in under way, sealed into its cookie.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    nonce: String,
    back: String,
    started_at: i64,
}

/// Where a sign-in returns to: a console page, never anything else (an open redirect would
/// let a link send a freshly signed-in browser anywhere).
pub fn console_path(wanted: &str) -> String {
    let under = wanted
        .strip_prefix(PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'));
    let plain = wanted.len() <= 2000
        && !wanted.contains("//")
        && !wanted.contains('\\')
        && !wanted.chars().any(char::is_control)
        && !wanted.starts_with("/console/callback")
        && !wanted.starts_with("/console/signout");
    if under && plain {
        wanted.to_string()
    } else {
        PATH.to_string()
    }
}

/// Who is at the console: the staff member, the CSRF token of their forms, their address.
pub struct Desk {
    pub staff: Staff,
    pub csrf: String,
    pub ip: Option<String>,
}

impl Desk {
    /// The page frame for this console user.
    pub fn frame<'a>(&'a self, state: &'a AppState, t: Tr, title: String) -> Frame<'a> {
        Frame {
            t,
            product: &state.config.brand,
            title,
            who: Some((&self.staff.user.email, &self.csrf)),
            notice: None,
        }
    }
}

/// A request at the console: its desk, or the answer to give instead (off to sign in, or the
/// 403 "no access" page).
pub enum Entry {
    Desk(Box<Desk>),
    Answer(HttpResponse),
}

/// Admits a console request: the cookie opened, then `console_entry` (see the module's
/// comment). `back` is the console page to return to after a sign-in.
pub async fn enter(req: &HttpRequest, state: &AppState, back: &str) -> Result<Entry, AppError> {
    let Some((sealed, grant_id)) = grant_of(req, state) else {
        return start_sign_in(state, back).map(Entry::Answer);
    };
    let idp = state.idp.clone();
    match blocking_try(move || idp.console_entry(&grant_id)).await? {
        ConsoleEntry::Staff(staff) => Ok(Entry::Desk(Box::new(Desk {
            staff: *staff,
            csrf: csrf_for(&sealed),
            ip: client_ip(state, req),
        }))),
        ConsoleEntry::NoRole(_) => no_access(req, state, &sealed).map(Entry::Answer),
        ConsoleEntry::SignedOut => start_sign_in(state, back).map(Entry::Answer),
    }
}

/// The console cookie as sent and the grant id it seals, if it opens.
fn grant_of(req: &HttpRequest, state: &AppState) -> Option<(String, String)> {
    let sealed = CookieName::Console.value(state, req)?;
    let raw = state.idp.secrets().open(&sealed, SESSION_AAD).ok()?;
    let grant = String::from_utf8(raw).ok()?;
    Some((sealed, grant))
}

/// Signed in, holding no role: a plain page that shows no data, and the way out.
fn no_access(req: &HttpRequest, state: &AppState, sealed: &str) -> Result<HttpResponse, AppError> {
    let t = locale::of(req);
    let csrf = csrf_for(sealed);
    page(
        StatusCode::FORBIDDEN,
        &MessagePage {
            f: Frame {
                t,
                product: &state.config.brand,
                title: t.tr("console-no-access-title"),
                who: None,
                notice: None,
            },
            message: t.tr("console-no-access"),
            link: None,
            refresh: None,
            sign_out: Some(&csrf),
        },
    )
}

/// Off to `/authorize` as the console app, with a fresh `state`, PKCE verifier and `nonce`
/// kept sealed in the sign-in cookie. Without `prompt`: a live SSO session that the session rule
/// admits signs the console in at once (no page shown).
fn start_sign_in(state: &AppState, back: &str) -> Result<HttpResponse, AppError> {
    let fresh = || random_token().map_err(|e| AppError::internal(&e));
    let pending = Pending {
        state: fresh()?,
        verifier: fresh()?,
        nonce: fresh()?,
        back: console_path(back),
        started_at: state.idp.now(),
    };
    let json = serde_json::to_vec(&pending).map_err(|e| AppError::internal(&e))?;
    let sealed = state
        .idp
        .secrets()
        .seal(&json, SIGN_IN_AAD)
        .map_err(|e| AppError::internal(&e))?;
    let mut url = url::Url::parse(&format!("{}/authorize", state.config.issuer))
        .map_err(|e| AppError::internal(&e))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CONSOLE_CLIENT_ID)
        .append_pair("redirect_uri", &console_redirect_uri(&state.config.issuer))
        .append_pair("scope", "openid")
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair(
            "code_challenge",
            &sha256_b64url(pending.verifier.as_bytes()),
        )
        .append_pair("code_challenge_method", "S256");
    let ttl = state.idp.settings().login_flow_ttl_secs;
    let cookie = cookie_with(
        state,
        CookieName::ConsoleSignIn,
        sealed,
        SameSite::Lax,
        Some(ttl),
    );
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((actix_web::http::header::LOCATION, url.to_string()))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// The sign-in under way, if its cookie opens and has not outlived a login flow.
fn pending_of(req: &HttpRequest, state: &AppState) -> Option<Pending> {
    let sealed = CookieName::ConsoleSignIn.value(state, req)?;
    let raw = state.idp.secrets().open(&sealed, SIGN_IN_AAD).ok()?;
    let p: Pending = serde_json::from_slice(&raw).ok()?;
    let ttl = state.idp.settings().login_flow_ttl_secs;
    (state.idp.now() - p.started_at <= ttl).then_some(p)
}

fn sign_in_failed(state: &AppState, status: StatusCode) -> AppError {
    AppError::page(
        status,
        msg("console-sign-in-failed-title"),
        msg("console-sign-in-failed"),
    )
    .with_brand(&state.config.brand)
}

/// GET /console/callback: the `state` checked against the sign-in cookie (constant time), the
/// code redeemed with the verifier, the `nonce` checked, and the console cookie set.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let params = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let Some(pending) = pending_of(&req, &state) else {
        return Err(sign_in_failed(&state, StatusCode::BAD_REQUEST));
    };
    let state_ok = params
        .get("state")
        .is_some_and(|s| ct_eq(s.as_bytes(), pending.state.as_bytes()));
    let Some(code) = params.get("code").filter(|_| state_ok).map(str::to_string) else {
        return Err(sign_in_failed(&state, StatusCode::BAD_REQUEST));
    };
    let Some(client) = state.config.client(CONSOLE_CLIENT_ID) else {
        return Err(AppError::Internal);
    };
    let ip = client_ip(&state, &req).unwrap_or_default();
    let idp = state.idp.clone();
    let request = TokenRequest::AuthorizationCode {
        code,
        redirect_uri: console_redirect_uri(&state.config.issuer),
        verifier: Some(pending.verifier.clone()),
    };
    let answer = blocking(move || {
        let credentials = ClientCredentials {
            secret: None,
            ip: &ip,
        };
        idp.token_request(&client.registration(), &credentials, &request)
    })
    .await?;
    let issued = match answer {
        Ok(TokenAnswer::Issued(issued)) => issued,
        Ok(TokenAnswer::AdminAccess { .. }) => return Err(AppError::Internal),
        Err(e) => {
            tracing::warn!(error = %e, "console sign-in: code refused");
            return Err(sign_in_failed(&state, StatusCode::BAD_REQUEST));
        }
    };
    let nonce_ok = issued
        .nonce
        .as_deref()
        .is_some_and(|n| ct_eq(n.as_bytes(), pending.nonce.as_bytes()));
    if !nonce_ok {
        return Err(sign_in_failed(&state, StatusCode::BAD_REQUEST));
    }
    let sealed = state
        .idp
        .secrets()
        .seal(issued.grant_id.as_bytes(), SESSION_AAD)
        .map_err(|e| AppError::internal(&e))?;
    let t = locale::of(&req);
    // A page that refreshes itself to the console rather than a redirect: after a sign-in that
    // started on another site (a link in a mail), a redirect would still count as that site's
    // navigation and the browser would withhold the SameSite=Strict cookie just set; a
    // navigation this page starts is our own.
    let mut res = page(
        StatusCode::OK,
        &MessagePage {
            f: Frame {
                t,
                product: &state.config.brand,
                title: t.tr("console-signed-in-title"),
                who: None,
                notice: None,
            },
            message: t.tr("console-signed-in"),
            link: Some((&pending.back, t.tr("console-continue"))),
            refresh: Some(&pending.back),
            sign_out: None,
        },
    )?;
    let console = cookie_with(
        state.get_ref(),
        CookieName::Console,
        sealed,
        SameSite::Strict,
        None,
    );
    for c in [console, removal_cookie(&state, CookieName::ConsoleSignIn)] {
        res.add_cookie(&c).map_err(|e| AppError::internal(&e))?;
    }
    Ok(res)
}

/// POST /console/signout: ends the SSO session the console runs in (and the browser's, as
/// `/end_session` does), with back-channel logout to every app signed in through it, so nobody
/// leaves the console still signed in to other apps without knowing. CSRF-checked.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let Some((sealed, grant_id)) = grant_of(&req, &state) else {
        return Ok(see_other(PATH));
    };
    if !csrf_ok(&sealed, params.get("csrf")) {
        return Err(form_expired(&state, msg("form-stale")));
    }
    let browser_session = CookieName::Session.value(&state, &req);
    let ip = client_ip(&state, &req);
    let idp = state.idp.clone();
    let outcome = blocking_try(move || {
        // The console's own session, named by its grant (the browser's SSO cookie may be gone
        // or another's); the browser's session beside it.
        let hint = match idp.console_entry(&grant_id)? {
            ConsoleEntry::Staff(s) => Some((s.session_id, s.user.id)),
            _ => None,
        };
        idp.log_out(&LogoutRequest {
            browser_session: browser_session.as_deref(),
            confirmed: true,
            hint: hint.as_ref().map(|(sid, sub)| (sid.as_str(), sub.as_str())),
            ip: ip.as_deref(),
        })
    })
    .await?;
    if let Logout::Done(ended) = outcome {
        if !ended.is_empty() {
            state.deliver_logouts();
        }
    }
    let t = locale::of(&req);
    let mut res = page(
        StatusCode::OK,
        &MessagePage {
            f: Frame {
                t,
                product: &state.config.brand,
                title: t.tr("signed-out-title"),
                who: None,
                notice: None,
            },
            message: t.tr("signed-out"),
            link: Some((PATH, t.tr("console-sign-in-again"))),
            refresh: None,
            sign_out: None,
        },
    )?;
    for c in [
        removal_cookie(&state, CookieName::Console),
        removal_cookie(&state, CookieName::Session),
    ] {
        res.add_cookie(&c).map_err(|e| AppError::internal(&e))?;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::console_path;

    #[test]
    fn a_sign_in_returns_only_to_a_console_page() {
        for kept in [
            "/console",
            "/console/users/abc",
            "/console/audit?account=acme",
        ] {
            assert_eq!(console_path(kept), kept);
        }
        for refused in [
            "https://evil.example/",
            "//evil.example/console",
            "/consolex",
            "/console//evil.example",
            "/console\\@evil",
            "/console/callback?code=x",
            "/console/signout",
            "/login",
            "",
        ] {
            assert_eq!(console_path(refused), "/console", "{refused:?}");
        }
    }
}
