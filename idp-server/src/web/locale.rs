//! Which language a request's pages speak: the `ui_locales` an app sent to /authorize (kept
//! for the browser in a cookie, so every page of that sign-in and the mails they cause follow
//! it; the language a user picks on `/account` is kept the same way), else the browser's
//! `Accept-Language`, else (on a signed-in user's own pages) the language the user chose, else
//! `[ui] default_locale`.
//!
//! The middleware decides before the handler runs (handlers take it as the `Tr` extractor),
//! lets /authorize change it, and renders error pages in it afterwards: an `AppError` page is
//! built without a request, so its words are put in the request's language here. Every page
//! says its language in `Content-Language` too.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};

use super::browser::{cookie, CookieName};
use super::error::AppError;
use super::state::AppState;
use crate::i18n::{msg, Lang, Tr};

/// Set when /authorize chose a language from `ui_locales`: the response remembers it.
#[derive(Clone, Copy)]
struct Chosen(Lang);

/// The language the request itself names: the browser's kept choice (the cookie), else its
/// `Accept-Language`.
fn named(state: &AppState, req: &HttpRequest) -> Option<Lang> {
    req.cookie(CookieName::Locale.of(state))
        .and_then(|c| Lang::from_tag(c.value()))
        .or_else(|| {
            // The header may come as several lines (RFC 9110 5.3): one list.
            let lines: Vec<&str> = req
                .headers()
                .get_all(header::ACCEPT_LANGUAGE)
                .filter_map(|v| v.to_str().ok())
                .collect();
            Lang::from_accept_language(&lines.join(","))
        })
}

/// The language of a request before its handler runs.
fn negotiate(state: &AppState, req: &HttpRequest) -> Lang {
    named(state, req).unwrap_or(state.config.default_locale)
}

/// The request's language (the middleware's choice, or /authorize's).
pub fn of(req: &HttpRequest) -> Tr {
    Tr::new(req.extensions().get::<Lang>().copied().unwrap_or_default())
}

/// The language of a signed-in user's own page: what the request names, else the language
/// the user chose on `/account` (`locale`), else `[ui] default_locale`. It becomes the
/// request's language (its `Content-Language`, and any error page after it).
pub fn of_user(req: &HttpRequest, state: &AppState, locale: Option<&str>) -> Tr {
    let lang = named(state, req)
        .or_else(|| locale.and_then(Lang::from_tag))
        .unwrap_or(state.config.default_locale);
    req.extensions_mut().insert(lang);
    Tr::new(lang)
}

/// The cookie that keeps `lang` as this browser's choice (the user chose it on `/account`).
pub fn kept(state: &AppState, lang: Lang) -> actix_web::cookie::Cookie<'static> {
    cookie(state, CookieName::Locale, lang.tag().into(), None)
}

/// An app's `ui_locales` (at /authorize or /end_session) choose the language of this answer,
/// when one of them is a language we have (otherwise nothing changes); that language, if any.
pub fn choose(req: &HttpRequest, ui_locales: Option<&str>) -> Option<Lang> {
    let lang = ui_locales.and_then(Lang::from_ui_locales)?;
    req.extensions_mut().insert(lang);
    Some(lang)
}

/// The browser keeps `lang` for its later pages (/authorize, once the app and its redirect URI
/// are known good: a link to a refused request cannot change the browser's language).
pub fn remember(req: &HttpRequest, lang: Lang) {
    req.extensions_mut().insert(Chosen(lang));
}

impl FromRequest for Tr {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Tr, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(of(req)))
    }
}

/// A form too large to read (actix's payload limit answers it before any handler, in plain
/// English text) gets a page like every other refusal; the JSON endpoints keep their answer.
fn too_large_form<B>(res: &ServiceResponse<B>, state: &AppState) -> Option<AppError> {
    let path = res.request().path();
    let api = path == "/token" || path == "/userinfo" || path.starts_with("/admin/");
    let foreign = res
        .response()
        .error()
        .is_some_and(|e| e.as_error::<AppError>().is_none());
    (res.status() == StatusCode::PAYLOAD_TOO_LARGE && foreign && !api).then(|| {
        AppError::page(
            StatusCode::PAYLOAD_TOO_LARGE,
            msg("form-too-large-title"),
            msg("form-too-large"),
        )
        .with_brand(&state.config.brand)
    })
}

/// The middleware (see the module's documentation).
pub async fn localize(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let lang = negotiate(&state, req.request());
    req.extensions_mut().insert(lang);
    let mut res = next.call(req).await?;
    let tr = of(res.request());
    if let Some(err) = too_large_form(&res, &state) {
        let body = err.page_body(tr, &state.config.brand).unwrap_or_default();
        let mut page = err.error_response().set_body(BoxBody::new(body));
        // The security headers (CSP, frame and sniffing rules) the answer already carries.
        for (name, value) in res.headers() {
            if !page.headers().contains_key(name) && name != header::CONTENT_LENGTH {
                page.headers_mut().insert(name.clone(), value.clone());
            }
        }
        page.headers_mut().insert(
            header::CONTENT_LANGUAGE,
            header::HeaderValue::from_static(tr.tag()),
        );
        return Ok(res.into_response(page).map_into_right_body());
    }
    let chosen = res.request().extensions().get::<Chosen>().copied();
    if let Some(Chosen(lang)) = chosen {
        let c = kept(&state, lang);
        // A cookie that cannot be added leaves the language to Accept-Language later on.
        if let Err(e) = res.response_mut().add_cookie(&c) {
            tracing::warn!(error = %e, "language cookie not set");
        }
    }
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_page {
        res.headers_mut().insert(
            header::CONTENT_LANGUAGE,
            header::HeaderValue::from_static(tr.tag()),
        );
    }
    let page = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .and_then(|e| e.page_body(tr, &state.config.brand));
    Ok(match page {
        Some(body) => res.map_body(|_, _| EitherBody::right(BoxBody::new(body))),
        None => res.map_into_left_body(),
    })
}
