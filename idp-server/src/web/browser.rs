//! What a request tells about its browser: the client address (through `client_addr`), the
//! user agent, the cookies the provider sets (HttpOnly, SameSite=Lax, `__Host-` and Secure on
//! https), and the flow cookie that starts a sign-in.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::client_addr;
use super::state::AppState;

/// A cookie the provider sets, by what it holds. Each has one name (with the `__Host-` prefix
/// on https for the cookies of the whole site, `__Secure-` for the console's, which are sent to
/// `/console` only and `__Host-` requires `Path=/`) and one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieName {
    /// The SSO session's secret.
    Session,
    /// A half-finished sign-in's handle.
    Flow,
    /// Binds the forms of pages without a session or flow (forgot password, registration and
    /// reset links) to their browser.
    Form,
    /// A notice across the redirect after a form succeeded (once: the page that shows it
    /// removes it), so reloading that page resends nothing. Only we can set it: a link cannot
    /// make the page claim something happened.
    Notice,
    /// The language an app asked for (`ui_locales`), for the browser's later pages.
    Locale,
    /// Says the browser completed a sign-in as a user before (the core makes and verifies its
    /// value: `Idp::vouch_for_browser`); it keeps others' failures from refusing that user's
    /// password in this browser. Not a credential.
    KnownBrowser,
    /// The console's grant, sealed.
    Console,
    /// A console sign-in under way, sealed.
    ConsoleSignIn,
    /// A console action's outcome across its redirect.
    ConsoleNotice,
}

impl CookieName {
    /// The name the browser sees (`secure`: the issuer is https).
    pub fn on(self, secure: bool) -> &'static str {
        use CookieName::*;
        match (self, secure) {
            (Session, true) => "__Host-idp_session",
            (Session, false) => "idp_session",
            (Flow, true) => "__Host-idp_flow",
            (Flow, false) => "idp_flow",
            (Form, true) => "__Host-idp_csrf",
            (Form, false) => "idp_csrf",
            (Notice, true) => "__Host-idp_notice",
            (Notice, false) => "idp_notice",
            (Locale, true) => "__Host-idp_locale",
            (Locale, false) => "idp_locale",
            (KnownBrowser, true) => "__Host-idp_known",
            (KnownBrowser, false) => "idp_known",
            (Console, true) => "__Secure-idp_console",
            (Console, false) => "idp_console",
            (ConsoleSignIn, true) => "__Secure-idp_console_sign_in",
            (ConsoleSignIn, false) => "idp_console_sign_in",
            (ConsoleNotice, true) => "__Secure-idp_console_notice",
            (ConsoleNotice, false) => "idp_console_notice",
        }
    }

    /// The name under this server's configuration.
    pub fn of(self, state: &AppState) -> &'static str {
        self.on(state.config.secure_cookies)
    }

    /// Where the browser sends it.
    pub fn path(self) -> &'static str {
        match self {
            CookieName::Console | CookieName::ConsoleSignIn | CookieName::ConsoleNotice => {
                "/console"
            }
            _ => "/",
        }
    }

    /// Its value in this request.
    pub fn value(self, state: &AppState, req: &HttpRequest) -> Option<String> {
        req.cookie(self.of(state)).map(|c| c.value().to_string())
    }
}

/// The known-browser cookie with this value, for as long as the core honours it.
pub fn known_browser_cookie(state: &AppState, value: String) -> Cookie<'static> {
    cookie(
        state,
        CookieName::KnownBrowser,
        value,
        Some(idp_core::model::KNOWN_BROWSER_TTL_SECS),
    )
}

/// A cookie the browser sends back only to us: HttpOnly, SameSite=Lax, on its name's path, and
/// Secure (with the name's prefix) when the issuer is https.
pub fn cookie(
    state: &AppState,
    name: CookieName,
    value: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    cookie_with(state, name, value, SameSite::Lax, max_age)
}

/// [`cookie`] with another SameSite policy (the console's grant is Strict).
pub fn cookie_with(
    state: &AppState,
    name: CookieName,
    value: String,
    same_site: SameSite,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name.of(state), value)
        .path(name.path())
        .http_only(true)
        .same_site(same_site)
        .secure(state.config.secure_cookies)
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(CookieDuration::seconds(secs));
    }
    c
}

/// The cookie that makes the browser forget `name`.
pub fn removal_cookie(state: &AppState, name: CookieName) -> Cookie<'static> {
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
            session: CookieName::Session.value(state, req),
            known_browser: CookieName::KnownBrowser.value(state, req),
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
    cookie(state, CookieName::Flow, handle, Some(ttl))
}
