//! What a request tells about its browser: the client address (through `client_addr`), the
//! user agent, the cookies the provider sets (HttpOnly, SameSite=Lax, `__Host-` and Secure on
//! https), and the flow cookie that starts a sign-in.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::{client_addr, AppState};

/// The cookie that holds the SSO session's secret.
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_session"
    } else {
        "idp_session"
    }
}

/// The cookie that holds a half-finished sign-in's handle.
pub fn flow_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_flow"
    } else {
        "idp_flow"
    }
}

/// The cookie that binds the forms of pages without a session or flow (forgot password,
/// registration and reset links) to their browser.
pub fn form_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_csrf"
    } else {
        "idp_csrf"
    }
}

/// The cookie that carries a notice across the redirect after a form succeeded (once: the page
/// that shows it removes it), so reloading that page resends nothing. Only we can set it: a link
/// cannot make the page claim something happened.
pub fn notice_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_notice"
    } else {
        "idp_notice"
    }
}

/// The cookie that keeps the language an app asked for (`ui_locales`) for the browser's later
/// pages.
pub fn locale_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_locale"
    } else {
        "idp_locale"
    }
}

/// The cookie that says the browser completed a sign-in as a user before (the core makes and
/// verifies its value: `Idp::vouch_for_browser`); it keeps others' failures from refusing that
/// user's password in this browser. Not a credential.
pub fn known_browser_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_known"
    } else {
        "idp_known"
    }
}

/// The known-browser cookie with this value, for as long as the core honours it.
pub fn known_browser_cookie(state: &AppState, value: String) -> Cookie<'static> {
    cookie(
        state,
        known_browser_cookie_name(state),
        value,
        Some(idp_core::model::KNOWN_BROWSER_TTL_SECS),
    )
}

/// A cookie the browser sends back only to us: HttpOnly, SameSite=Lax, Path=/, and Secure (with
/// the `__Host-` prefix) when the issuer is https.
pub fn cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(CookieDuration::seconds(secs));
    }
    c
}

pub fn removal_cookie(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, name, String::new(), Some(0));
    c.make_removal();
    c
}

/// The client's address: the TCP peer, or what a trusted proxy says it is (see
/// [`client_addr`]).
pub fn client_ip(state: &AppState, req: &HttpRequest) -> Option<String> {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    client_addr::client_ip(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &state.config.trusted_proxies,
    )
    .map(|ip| ip.to_string())
}

/// The value of a cookie.
pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_string())
}

/// What the sign-in use cases need to know of the browser, owned (it crosses into the blocking
/// pool); [`RequestBrowser::get`] lends it out as `idp_core::signin::Browser`.
#[derive(Debug, Clone, Default)]
pub struct RequestBrowser {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub session: Option<String>,
    pub known_browser: Option<String>,
}

impl RequestBrowser {
    pub fn of(state: &AppState, req: &HttpRequest) -> Self {
        RequestBrowser {
            ip: client_ip(state, req),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            session: cookie_value(req, session_cookie_name(state)),
            known_browser: cookie_value(req, known_browser_cookie_name(state)),
        }
    }

    pub fn get(&self) -> idp_core::signin::Browser<'_> {
        idp_core::signin::Browser {
            ip: self.ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            session: self.session.as_deref(),
            known_browser: self.known_browser.as_deref(),
        }
    }
}

/// Sets the flow cookie of a sign-in just started and sends the browser to the sign-in page.
pub fn start_sign_in(state: &AppState, handle: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(flow_cookie(state, handle))
        .insert_header((header::LOCATION, "/login"))
        .finish()
}

/// The cookie that carries a sign-in flow's handle for its lifetime.
pub fn flow_cookie(state: &AppState, handle: String) -> Cookie<'static> {
    let ttl = state.idp.settings().login_flow_ttl_secs;
    cookie(state, flow_cookie_name(state), handle, Some(ttl))
}
