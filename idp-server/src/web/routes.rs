//! Routing: which handler answers which path and method, the middleware every answer passes
//! through (security headers, the language, the deadline, the access log and request metrics),
//! and the server that runs it all. Handlers never import from here.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpServer};

use super::documents::{discovery, healthz, jwks, not_found, public_metrics, readyz, stylesheet};
use super::state::AppState;
use super::{
    account, admin, authorize, branding, console, deadline, error, introspection, lifecycle,
    locale, logout, signin, token, userinfo,
};

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

/// The whole application on `data`: every route behind the middleware every answer passes
/// through. The server runs one per worker; benchmarks and tests may call it in-process.
pub fn app(
    data: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(data)
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
}

/// Builds the HTTP server on a bound listener. `workers` defaults to one per core.
pub fn build_server(
    state: AppState,
    listener: std::net::TcpListener,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || app(data.clone())).shutdown_timeout(10);
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.listen(listener)?.run())
}
