//! HTTP: the OIDC endpoints and the hosted pages. Handlers stay thin: parse the request, call the
//! core on the blocking pool (database and argon2 never run on the async workers), render.

pub mod account;
pub mod admin;
pub mod authorize;
pub mod branding;
pub mod browser;
pub mod client_addr;
pub mod console;
pub mod csrf;
mod deadline;
pub mod error;
pub mod forms;
pub mod introspection;
pub mod lifecycle;
pub mod locale;
pub mod logout;
pub mod pages;
pub mod params;
pub mod render;
pub mod signin;
mod state;
pub mod text;
pub mod token;
pub mod userinfo;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse, HttpServer};

pub use error::AppError;
pub use state::{blocking, blocking_try, AppState};

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

async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.discovery.as_ref().clone())
}

async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let keys = state.keyring()?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(keys.jwks_bytes().as_ref().clone()))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
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

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../static/style.css"))
}

async fn not_found(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    Err(AppError::page(
        actix_web::http::StatusCode::NOT_FOUND,
        msg("not-found-title"),
        msg("not-found"),
    )
    .with_brand(&state.config.brand))
}

/// Request log without query strings (they may hold `id_token_hint`) or bodies, and the
/// request metrics.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    if let Some(m) = metrics {
        m.observe_request(&method, &route, status, elapsed.as_secs_f64());
    }
    tracing::info!(%method, %path, status, ms = elapsed.as_millis() as u64, "request");
    Ok(res)
}

/// `/metrics` on the public listener, unless `[server] metrics_listen` moved it away.
async fn public_metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
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

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

/// CORS for an endpoint that a browser-based app calls from script (the token endpoint and
/// /userinfo; OAuth 2.0 for Browser-Based Apps). Any origin: these endpoints take no cookie and
/// no ambient authority, every call carries its own credential (a code with its PKCE verifier, a
/// refresh token, a Bearer token), so an origin list would protect nothing the credential does
/// not. Never with credentials (`Access-Control-Allow-Credentials` stays unset).
fn script_cors(methods: &[&'static str]) -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods(methods.iter().copied())
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(3600)
}

/// GET, and HEAD (RFC 9110 9.3.2: the same answer without its body, which actix-http leaves
/// out), for the documents caches and monitors ask about: discovery, JWKS, health, static files.
/// The pages and OIDC endpoints stay GET only (a HEAD there would start sign-ins).
fn get_or_head() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(admin::configure);
    cfg.route(
        "/.well-known/openid-configuration",
        get_or_head().to(discovery),
    )
    .route("/jwks", get_or_head().to(jwks))
    .route("/authorize", web::get().to(authorize::authorize_get))
    .route("/authorize", web::post().to(authorize::authorize_post))
    .service(
        web::resource("/token")
            .wrap(script_cors(&["POST"]))
            .route(web::post().to(token::token))
            .default_service(web::to(|| error::wrong_method("POST"))),
    )
    // RFC 7009: a browser-based app revokes its own tokens from script, as it redeems them.
    .service(
        web::resource("/revoke")
            .wrap(script_cors(&["POST"]))
            .route(web::post().to(introspection::revoke))
            .default_service(web::to(|| error::wrong_method("POST"))),
    )
    // RFC 7662: an API asks from its server; no CORS.
    .service(
        web::resource("/introspect")
            .route(web::post().to(introspection::introspect))
            .default_service(web::to(|| error::wrong_method("POST"))),
    )
    .service(
        web::resource("/userinfo")
            .wrap(script_cors(&["GET", "POST"]))
            .route(web::get().to(userinfo::userinfo))
            .route(web::post().to(userinfo::userinfo))
            .default_service(web::to(|| error::wrong_method("GET, POST"))),
    )
    .route("/end_session", web::get().to(logout::end_session_get))
    .route("/end_session", web::post().to(logout::end_session_post))
    .route("/login", web::get().to(signin::login_page))
    .route("/login/password", web::post().to(signin::submit_password))
    .route("/login/totp", web::post().to(signin::submit_totp))
    .route("/login/relink", web::post().to(signin::resend_relink))
    .route("/relink", web::get().to(signin::open_relink))
    .route("/healthz", get_or_head().to(healthz))
    .route("/readyz", get_or_head().to(readyz))
    .route("/metrics", web::get().to(public_metrics))
    .route("/static/style.css", get_or_head().to(stylesheet))
    .route("/branding/{file}", get_or_head().to(branding::asset));
    lifecycle::configure(cfg);
    account::configure(cfg);
    console::configure(cfg);
}

/// Builds the HTTP server on a bound listener. `workers` defaults to one per core.
pub fn build_server(
    state: AppState,
    listener: std::net::TcpListener,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::CONTENT_SECURITY_POLICY, CSP)),
            )
            .wrap(from_fn(locale::localize))
            .wrap(from_fn(deadline::limit))
            .wrap(from_fn(access_log))
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(10);
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.listen(listener)?.run())
}
