//! Admin API errors as RFC 9457 problem details (`application/problem+json`), each with a
//! stable `type`: a caller branches on the type, a person reads the title and detail.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::web::blocking;

/// An RFC 9457 problem detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:idp:problem:not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
}

/// Why an admin call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed (JSON, query, cursor, a value out of range).
    InvalidRequest(String),
    /// 401: no token, or one that is not a valid admin token of a configured admin client.
    InvalidToken(String),
    /// 403: the token lacks the scope this operation needs.
    InsufficientScope(&'static str),
    /// 403: the client may not act on this account.
    ForeignAccount,
    /// 404: no such resource.
    NotFound(String),
    /// 405: the path does not take this method; these it does.
    MethodNotAllowed(&'static str),
    /// 409: a resource with that key exists and differs from what was asked.
    Conflict(String),
    /// 429: over the client's call rate; retry after so many seconds.
    RateLimited(i64),
    /// 503: the database cannot be reached.
    Unavailable,
    /// 500.
    Internal,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        match self {
            ApiError::InvalidRequest(d) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "The request is not valid",
                d.clone(),
            ),
            ApiError::InvalidToken(d) => (
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "A valid admin access token is required",
                d.clone(),
            ),
            ApiError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "The token lacks the scope this operation needs",
                format!("this operation needs the scope {scope}"),
            ),
            ApiError::ForeignAccount => (
                StatusCode::FORBIDDEN,
                "foreign-account",
                "The client may not act on this account",
                "the account is not among this client's admin_accounts".into(),
            ),
            ApiError::NotFound(d) => (StatusCode::NOT_FOUND, "not-found", "Not found", d.clone()),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not take this method; see /admin/v1/openapi.json".into(),
            ),
            ApiError::Conflict(d) => (
                StatusCode::CONFLICT,
                "conflict",
                "A different resource with that key exists",
                d.clone(),
            ),
            ApiError::RateLimited(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many calls",
                format!("this client is over its call rate; try again in {secs} s"),
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
                "the database cannot be reached; try again shortly".into(),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "an unexpected error occurred".into(),
            ),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let (status, kind, title, detail) = self.parts();
        Problem {
            kind: format!("urn:idp:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.problem();
        write!(f, "{}: {}", p.kind, p.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/problem+json")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            // RFC 6750 3: how to authenticate, and why that failed.
            ApiError::InvalidToken(_) => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"admin\", error=\"invalid_token\"",
                ));
            }
            ApiError::InsufficientScope(scope) => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"admin\", error=\"insufficient_scope\", scope=\"{scope}\""
                    ),
                ));
            }
            ApiError::RateLimited(secs) => {
                res.insert_header((header::RETRY_AFTER, (*secs).max(1).to_string()));
            }
            ApiError::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::MethodNotAllowed(allow) => {
                res.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        // Serialising a struct of strings cannot fail; the fallback keeps the type anyway.
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        res.body(body)
    }
}

impl From<idp_core::StoreError> for ApiError {
    fn from(e: idp_core::StoreError) -> Self {
        match e {
            idp_core::StoreError::Unavailable(_) | idp_core::StoreError::Connect(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "database error");
                ApiError::Internal
            }
        }
    }
}

impl From<crate::web::AppError> for ApiError {
    fn from(e: crate::web::AppError) -> Self {
        match e {
            crate::web::AppError::Unavailable { .. } => ApiError::Unavailable,
            _ => ApiError::Internal,
        }
    }
}

/// Reusable responses of the OpenAPI document: every refusal is a problem document.
macro_rules! problem_responses {
    ($($name:ident => $description:literal),* $(,)?) => {$(
        #[derive(ToResponse)]
        #[response(description = $description, content_type = "application/problem+json")]
        #[allow(dead_code)]
        pub struct $name(Problem);
    )*};
}

problem_responses!(
    BadRequest => "The request is malformed (`urn:idp:problem:invalid-request`).",
    Unauthorized => "No valid admin access token (`urn:idp:problem:invalid-token`).",
    Forbidden => "The token lacks the scope (`urn:idp:problem:insufficient-scope`) or the client may not act on the account (`urn:idp:problem:foreign-account`).",
    NotFoundResponse => "No such resource (`urn:idp:problem:not-found`).",
    ConflictResponse => "A different resource with that key exists (`urn:idp:problem:conflict`).",
    TooManyRequests => "Over the client's call rate (`urn:idp:problem:rate-limited`); see Retry-After.",
    ServiceUnavailable => "The database cannot be reached (`urn:idp:problem:unavailable`); see Retry-After.",
);

/// The refusals every operation may answer, declared once for the OpenAPI document: no valid
/// token, a scope or account the client lacks, over its call rate, the database unreachable.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Refusals {
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] Forbidden),
    #[response(status = 429)]
    TooManyRequests(#[ref_response] TooManyRequests),
    #[response(status = 503)]
    ServiceUnavailable(#[ref_response] ServiceUnavailable),
}

/// Runs core work on the blocking pool and turns its error into a problem.
pub(super) async fn run<T, E, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    Ok(blocking(f).await??)
}
