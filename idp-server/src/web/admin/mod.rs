//! The admin API (`/admin/v1`, JSON): what a support ticket asks, for a program such as a
//! help-desk system. Callers authenticate with the client credentials grant at /token (an admin
//! client: `grant_types = ["client_credentials"]`, `scopes`, optionally `admin_accounts`); every
//! call is checked for its scope and account and counted against the client's rate; every
//! change is an audit event whose actor is the client, with its `X-Actor` header beside it.
//! Errors are RFC 9457 problem documents. The OpenAPI document is generated from these
//! handlers and types and served at `/admin/v1/openapi.json`.

mod accounts;
mod audit;
mod auth;
mod dto;
mod problem;
mod roles;
mod users;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpResponse};
use idp_core::audit::{AuditAction, AuditEvent};

use crate::web::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub use problem::{ApiError, Problem};

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "admin_token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "An access token from POST /token with grant_type=client_credentials \
                             (an admin client's id and secret); its scopes decide what it may do.",
                        ))
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Identity provider admin API",
        version = "1",
        description = "The support actions of the CLI, for programs: accounts and their MFA policy, users, their authenticator app and sessions, and the audit log."
    ),
    paths(
        accounts::list, accounts::create, accounts::get, accounts::patch,
        accounts::get_mfa, accounts::put_mfa,
        users::list, users::create, users::get, users::patch,
        users::disable, users::enable, users::unlock, users::reset_link,
        users::delete_totp, users::sessions, users::revoke_sessions,
        roles::grant, roles::revoke,
        audit::list,
    ),
    components(
        schemas(Problem),
        responses(
            problem::BadRequest, problem::Unauthorized, problem::Forbidden,
            problem::NotFoundResponse, problem::ConflictResponse, problem::TooManyRequests,
            problem::ServiceUnavailable,
        ),
    ),
    modifiers(&BearerToken),
    tags(
        (name = "accounts", description = "Customer companies"),
        (name = "mfa", description = "The per-account MFA policy and users' authenticator apps"),
        (name = "users", description = "The people who sign in"),
        (name = "sessions", description = "Users' SSO sessions"),
        (name = "audit", description = "Who did what"),
    ),
)]
struct AdminDoc;

/// The OpenAPI 3.1 document of the admin API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    AdminDoc::openapi()
}

async fn openapi(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// The document, serialised once.
struct OpenApiJson(String);

fn bad_request(detail: String) -> actix_web::Error {
    ApiError::InvalidRequest(detail).into()
}

async fn no_such_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such admin API operation".into()))
}

/// A path of the API, and the methods it serves: another method is a 405 problem with `Allow`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow))
    }))
}

/// Every read of personal data (users, their sessions, the audit log) and every refused call
/// (400, 403, 404, 409) of an authenticated admin client is an audit event: who, from where,
/// what (path and query). A call without a valid token names nobody and is not recorded (anyone
/// could fill the log with them), nor is a 429 (the limit is there to shed such load).
async fn record_calls(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    // The query too: a search key (`?email=`) is what a read looked for.
    let path = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{}", req.path(), q.chars().take(300).collect::<String>()),
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let caller = res.request().extensions().get::<auth::Caller>().cloned();
    let (Some(auth::Caller(actor)), Some(state)) = (caller, state) else {
        return Ok(res);
    };
    let status = res.status();
    let personal = path.starts_with("/admin/v1/users") || path.starts_with("/admin/v1/audit");
    let refused = [
        StatusCode::BAD_REQUEST,
        StatusCode::FORBIDDEN,
        StatusCode::NOT_FOUND,
        StatusCode::CONFLICT,
    ];
    let action = if refused.contains(&status) {
        AuditAction::AdminRefused
    } else if method == Method::GET && status.is_success() && personal {
        AuditAction::AdminRead
    } else {
        return Ok(res);
    };
    let detail = format!("{method} {path} {}", status.as_u16());
    let idp = state.idp.clone();
    let recorded =
        crate::web::blocking(move || idp.audit(&AuditEvent::new(action, &actor).detail(detail)))
            .await;
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::error!(
            action = action.as_str(),
            "admin call not recorded in the audit log"
        );
    }
    Ok(res)
}

/// The `/admin/v1` scope: every route, with JSON, query and path errors as problems.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let doc = openapi_document().to_json().unwrap_or_else(|_| "{}".into());
    cfg.service(
        web::scope("/admin/v1")
            .wrap(from_fn(record_calls))
            .app_data(web::Data::new(OpenApiJson(doc)))
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|e, _| bad_request(format!("the JSON body is not valid: {e}"))),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| bad_request(format!("the query is not valid: {e}"))),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| bad_request(format!("the path is not valid: {e}"))),
            )
            .service(resource("/openapi.json", "GET").route(web::get().to(openapi)))
            .service(
                resource("/accounts", "GET, POST")
                    .route(web::get().to(accounts::list))
                    .route(web::post().to(accounts::create)),
            )
            .service(
                resource("/accounts/{slug}", "GET, PATCH")
                    .route(web::get().to(accounts::get))
                    .route(web::patch().to(accounts::patch)),
            )
            .service(
                resource("/accounts/{slug}/mfa", "GET, PUT")
                    .route(web::get().to(accounts::get_mfa))
                    .route(web::put().to(accounts::put_mfa)),
            )
            .service(
                resource("/users", "GET, POST")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .service(
                resource("/users/{id}", "GET, PATCH")
                    .route(web::get().to(users::get))
                    .route(web::patch().to(users::patch)),
            )
            .service(resource("/users/{id}/disable", "POST").route(web::post().to(users::disable)))
            .service(resource("/users/{id}/enable", "POST").route(web::post().to(users::enable)))
            .service(resource("/users/{id}/unlock", "POST").route(web::post().to(users::unlock)))
            .service(
                resource("/users/{id}/reset-link", "POST").route(web::post().to(users::reset_link)),
            )
            .service(
                resource("/users/{id}/totp", "DELETE").route(web::delete().to(users::delete_totp)),
            )
            .service(
                resource("/users/{id}/sessions", "GET, DELETE")
                    .route(web::get().to(users::sessions))
                    .route(web::delete().to(users::revoke_sessions)),
            )
            .service(
                resource("/users/{id}/roles/{role}", "PUT, DELETE")
                    .route(web::put().to(roles::grant))
                    .route(web::delete().to(roles::revoke)),
            )
            .service(resource("/audit", "GET").route(web::get().to(audit::list)))
            .default_service(web::to(no_such_route)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route is in the document, with the bearer scheme and the problem responses.
    #[test]
    fn the_document_describes_every_operation() {
        let doc: serde_json::Value =
            serde_json::from_str(&openapi_document().to_json().unwrap()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let mut ops: Vec<String> = paths
            .iter()
            .flat_map(|(p, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| format!("{} {p}", m.to_uppercase()))
            })
            .collect();
        ops.sort();
        assert_eq!(
            ops,
            [
                "DELETE /admin/v1/users/{id}/roles/{role}",
                "DELETE /admin/v1/users/{id}/sessions",
                "DELETE /admin/v1/users/{id}/totp",
                "GET /admin/v1/accounts",
                "GET /admin/v1/accounts/{slug}",
                "GET /admin/v1/accounts/{slug}/mfa",
                "GET /admin/v1/audit",
                "GET /admin/v1/users",
                "GET /admin/v1/users/{id}",
                "GET /admin/v1/users/{id}/sessions",
                "PATCH /admin/v1/accounts/{slug}",
                "PATCH /admin/v1/users/{id}",
                "POST /admin/v1/accounts",
                "POST /admin/v1/users",
                "POST /admin/v1/users/{id}/disable",
                "POST /admin/v1/users/{id}/enable",
                "POST /admin/v1/users/{id}/reset-link",
                "POST /admin/v1/users/{id}/unlock",
                "PUT /admin/v1/accounts/{slug}/mfa",
                "PUT /admin/v1/users/{id}/roles/{role}",
            ]
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["admin_token"]["scheme"],
            "bearer"
        );
        let mut ids: Vec<&str> = paths
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20, "operation ids are unique");
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{method} {path}");
                assert!(
                    !op["security"].as_array().unwrap().is_empty(),
                    "{method} {path}"
                );
            }
        }
    }
}
