//! The documents and probes the provider serves beside its endpoints: discovery, JWKS, health
//! and readiness, the stylesheet, metrics (on the public listener or their own), and the answer
//! to a path nobody serves.

use actix_web::http::header;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::error::AppError;
use super::state::{blocking, AppState};
use crate::config::Config;
use crate::i18n::{msg, Lang};
use crate::keys;

/// The discovery document (OIDC Discovery 1.0 section 3), serialised once at start.
pub fn discovery_document(config: &Config) -> Vec<u8> {
    let i = &config.issuer;
    let doc = serde_json::json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/end_session"),
        "revocation_endpoint": format!("{i}/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{i}/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr", "azp",
            "idle_exp", "email", "email_verified", "name", "account"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "select_account", "consent"],
        "ui_locales_supported": Lang::ALL.map(Lang::tag),
        "acr_values_supported": [idp_core::sessions::ACR_PASSWORD, idp_core::sessions::ACR_MFA],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

pub(super) async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.discovery.as_ref().clone())
}

pub(super) async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let keys = state.keyring()?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(keys.jwks_bytes().as_ref().clone()))
}

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let idp = state.idp.clone();
    let db = blocking(move || idp.store().ping()).await;
    let keys_ok = keys::current(&state.keys).is_some();
    match db {
        // Ready; and what an operator must fix that does not stop the service.
        Ok(Ok(())) if keys_ok => {
            HttpResponse::Ok()
                .content_type("text/plain")
                .body(match state.config.mail_warning() {
                    Some(w) => format!("ready\nwarning: {w}\n"),
                    None => "ready\n".into(),
                })
        }
        _ => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("not ready: database unreachable\n"),
    }
}

pub(super) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../static/style.css"))
}

pub(super) async fn not_found(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    Err(AppError::page(
        actix_web::http::StatusCode::NOT_FOUND,
        msg("not-found-title"),
        msg("not-found"),
    )
    .with_brand(&state.config.brand))
}

/// `/metrics` on the public listener, unless `[server] metrics_listen` moved it away.
pub(super) async fn public_metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if state.config.metrics_listen.is_some() {
        return not_found(state).await;
    }
    Ok(metrics(state).await)
}

/// The server of `[server] metrics_listen`: `/metrics` and nothing else.
pub fn build_metrics_server(
    state: AppState,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .shutdown_timeout(2)
    .listen(listener)?
    .run())
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}
