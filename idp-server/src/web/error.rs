//! One error type for the HTTP layer. OAuth errors render as RFC 6749 JSON; everything else as a
//! friendly page (or JSON on API routes). Internal details are logged, never shown.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::pages::{Frame, MessagePage};
use crate::config::Brand;
use crate::i18n::{msg, Msg, Tr};

#[derive(Debug)]
pub enum AppError {
    /// A page telling a person what went wrong, in plain words.
    Page {
        status: StatusCode,
        title: Msg,
        message: Msg,
        /// The brand of the page (the provider's unless set).
        product: Option<Box<crate::config::Brand>>,
    },
    /// RFC 6749 section 5.2 error (token endpoint) or RFC 6750 (userinfo).
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
        www_authenticate: Option<String>,
    },
    /// The database cannot be reached: 503, and the server recovers by itself when it is back.
    Unavailable {
        json: bool,
    },
    Internal,
    /// Another error, with a `Retry-After` (seconds): a lockout or rate limit.
    Later {
        after_secs: i64,
        inner: Box<AppError>,
    },
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Page { status, title, .. } => write!(f, "{status}: {}", title.id()),
            AppError::OAuth {
                error, description, ..
            } => write!(f, "{error}: {description}"),
            AppError::Unavailable { .. } => write!(f, "service unavailable"),
            AppError::Internal => write!(f, "internal error"),
            AppError::Later { inner, .. } => inner.fmt(f),
        }
    }
}

impl AppError {
    /// A page saying `message` under `title`, in the request's language (see `web::locale`).
    pub fn page(status: StatusCode, title: Msg, message: Msg) -> Self {
        AppError::Page {
            status,
            title,
            message,
            product: None,
        }
    }

    pub fn with_brand(mut self, brand: &Brand) -> Self {
        if let AppError::Page { product, .. } = &mut self {
            *product = Some(Box::new(brand.clone()));
        }
        self
    }

    pub fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        AppError::OAuth {
            status,
            error,
            description: description.into(),
            www_authenticate: None,
        }
    }

    /// This error with a `Retry-After` of `secs` seconds.
    pub fn with_retry_after(self, secs: i64) -> Self {
        AppError::Later {
            after_secs: secs.max(1),
            inner: Box::new(self),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Turns a page-flavoured error into the JSON flavour for API endpoints.
    pub fn into_json(self) -> Self {
        match self {
            AppError::Unavailable { .. } => AppError::Unavailable { json: true },
            AppError::Page {
                status, message, ..
            } => Self::oauth(status, "invalid_request", Tr::default().show(&message)),
            other => other,
        }
    }

    /// Maps a storage failure: unreachable database → 503, anything else → 500 (logged).
    pub fn store(e: &idp_core::StoreError) -> Self {
        match e {
            idp_core::StoreError::Unavailable(_) | idp_core::StoreError::Connect(_) => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::Unavailable { json: false }
            }
            _ => {
                tracing::error!(error = %e, "database error");
                AppError::Internal
            }
        }
    }

    pub fn internal(e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        AppError::Internal
    }
}

impl From<idp_core::StoreError> for AppError {
    fn from(e: idp_core::StoreError) -> Self {
        AppError::store(&e)
    }
}

macro_rules! from_core_error {
    ($($t:ty => $store:path),* $(,)?) => {$(
        impl From<$t> for AppError {
            fn from(e: $t) -> Self {
                match e {
                    $store(s) => AppError::store(&s),
                    other => AppError::internal(&other),
                }
            }
        }
    )*};
}

from_core_error!(
    idp_core::users::UserError => idp_core::users::UserError::Store,
    idp_core::users::AuthError => idp_core::users::AuthError::Store,
    idp_core::mfa::MfaError => idp_core::mfa::MfaError::Store,
    idp_core::sessions::SessionError => idp_core::sessions::SessionError::Store,
    idp_core::oauth::GrantError => idp_core::oauth::GrantError::Store,
    idp_core::flows::FlowError => idp_core::flows::FlowError::Store,
    idp_core::email_tokens::EmailTokenError => idp_core::email_tokens::EmailTokenError::Store,
    idp_core::accounts::AccountError => idp_core::accounts::AccountError::Store,
    idp_core::mfa::RelinkError => idp_core::mfa::RelinkError::Store,
);

impl From<crate::tokens::TokenError> for AppError {
    fn from(e: crate::tokens::TokenError) -> Self {
        AppError::internal(&e)
    }
}

#[derive(serde::Serialize)]
struct OAuthBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

fn page_html(tr: Tr, title: &Msg, message: &Msg, product: &Brand) -> String {
    let (title, message) = (tr.show(title), tr.show(message));
    MessagePage {
        f: Frame::new(tr, product),
        title: &title,
        message: &message,
        link: None,
    }
    .render()
    .unwrap_or_else(|_| format!("{title}: {message}"))
}

/// An error page's head; its body is the page in the request's language, which the
/// `web::locale` middleware (around every route) writes from [`AppError::page_body`].
fn page_response(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

impl AppError {
    /// The HTML of this error's page in `tr`'s language (`brand` when the error names none),
    /// or `None` when it answers with JSON.
    pub fn page_body(&self, tr: Tr, brand: &Brand) -> Option<String> {
        let page = |title: &Msg, message: &Msg, own: Option<&Brand>| {
            page_html(tr, title, message, own.unwrap_or(brand))
        };
        match self {
            AppError::Page {
                title,
                message,
                product,
                ..
            } => Some(page(title, message, product.as_deref())),
            AppError::Unavailable { json: false } => {
                Some(page(&msg("unavailable-title"), &msg("unavailable"), None))
            }
            AppError::Internal => Some(page(&msg("internal-title"), &msg("internal"), None)),
            AppError::Later { inner, .. } => inner.page_body(tr, brand),
            AppError::OAuth { .. } | AppError::Unavailable { json: true } => None,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Page { status, .. } | AppError::OAuth { status, .. } => *status,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Later { inner, .. } => inner.status_code(),
        }
    }

    /// The response without its page: the `web::locale` middleware writes the page in the
    /// request's language and brand (the words depend on the request, which this has not).
    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Page { status, .. } => page_response(*status),
            AppError::OAuth {
                status,
                error,
                description,
                www_authenticate,
            } => {
                let mut res = HttpResponse::build(*status);
                res.insert_header((header::CACHE_CONTROL, "no-store"));
                res.insert_header((header::PRAGMA, "no-cache"));
                if let Some(w) = www_authenticate {
                    res.insert_header((header::WWW_AUTHENTICATE, w.as_str()));
                }
                res.json(OAuthBody {
                    error,
                    error_description: description,
                })
            }
            AppError::Unavailable { json: true } => HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "5"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(OAuthBody {
                    error: "temporarily_unavailable",
                    error_description: "the service is temporarily unavailable; try again shortly",
                }),
            AppError::Unavailable { json: false } => {
                let mut res = page_response(StatusCode::SERVICE_UNAVAILABLE);
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
                res
            }
            AppError::Internal => page_response(StatusCode::INTERNAL_SERVER_ERROR),
            AppError::Later { after_secs, inner } => {
                let mut res = inner.error_response();
                if let Ok(v) = header::HeaderValue::from_str(&after_secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
        }
    }
}

/// Another method than an OAuth endpoint (`/token`, `/userinfo`) takes: 405 with `Allow`, in JSON
/// and `no-store` like every other answer an app's OAuth library reads from it.
pub async fn wrong_method(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": format!("this endpoint takes {allow}"),
        }))
}

/// A request body that could not be read (over the size limit, or cut off), refused as OAuth
/// refuses, in JSON with the status actix gave it: an app's library reads this answer.
pub fn unreadable_body(e: actix_web::Error) -> AppError {
    AppError::oauth(
        e.as_response_error().status_code(),
        "invalid_request",
        "the request body could not be read",
    )
}
