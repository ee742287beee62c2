//! What `/token`, `/revoke` and `/introspect` share: the strict form body, the client a call
//! names with the secret it presents (`client_secret_basic` or `client_secret_post`, RFC 6749
//! 2.3.1), how a failed client authentication answers (RFC 6749 5.2), and `no-store`.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use idp_core::model::ClientCredentials;
use idp_core::token::ClientAuthError;

use super::error::AppError;
use super::params::{is_form, Params};
use super::state::AppState;
use crate::config::Client;

/// RFC 6749 5.2: a 401, and (RFC 7235 3.1) every 401 names the scheme to authenticate with,
/// whichever way the client tried (or did not).
pub(super) fn invalid_client() -> AppError {
    AppError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed".into(),
        www_authenticate: Some("Basic realm=\"token\"".into()),
    }
}

/// Too many failed client authentications for this client from this address: 429, with the
/// RFC 6749 error `invalid_client` and a `Retry-After`.
fn locked_out(until: i64, now: i64) -> AppError {
    AppError::OAuth {
        status: StatusCode::TOO_MANY_REQUESTS,
        error: "invalid_client",
        description: "too many failed client authentications from this address; try again later"
            .into(),
        www_authenticate: None,
    }
    .with_retry_after((until - now).max(1))
}

/// How a failed client authentication answers (`/token`, `/revoke`, `/introspect`).
pub(super) fn client_auth_refusal(e: ClientAuthError, now: i64) -> AppError {
    match e {
        ClientAuthError::Failed => invalid_client(),
        ClientAuthError::Locked(l) => locked_out(l.until, now),
        ClientAuthError::Store(e) => AppError::from(e).into_json(),
    }
}

/// A form body, parsed strictly (`/token`, `/revoke`, `/introspect`).
pub(super) fn form_params(
    req: &HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<Params, AppError> {
    let body = body.map_err(super::error::unreadable_body)?;
    if !is_form(req) {
        return Err(AppError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(&body).map_err(|e| AppError::invalid_request(e.to_string()))
}

/// The client the request names and the secret it presents (not yet checked).
fn identify_client(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
) -> Result<(Arc<Client>, Option<String>), AppError> {
    let basic = match req.headers().get(header::AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().map_err(|_| invalid_client())?;
            // RFC 7235 2.1: the scheme's name is case-insensitive.
            let encoded = value
                .get(..6)
                .filter(|scheme| scheme.eq_ignore_ascii_case("basic "))
                .map(|_| &value[6..])
                .ok_or_else(invalid_client)?;
            let decoded = STANDARD
                .decode(encoded.trim())
                .map_err(|_| invalid_client())?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
            // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("v={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((
                decode(id).ok_or_else(invalid_client)?,
                decode(secret).ok_or_else(invalid_client)?,
            ))
        }
        None => None,
    };
    if basic.is_some() && params.has("client_secret") {
        return Err(AppError::invalid_request(
            "use one client authentication method, not two",
        ));
    }
    let (client_id, secret) = match &basic {
        Some((id, secret)) => {
            if params.get("client_id").is_some_and(|b| b != id) {
                return Err(AppError::invalid_request(
                    "client_id does not match the authenticated client",
                ));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        // RFC 6749 5.2: no client authentication at all is `invalid_client` too.
        None => (
            params.get("client_id").ok_or_else(invalid_client)?,
            params.get("client_secret"),
        ),
    };
    let client = state.config.client(client_id).ok_or_else(invalid_client)?;
    Ok((client, secret.map(str::to_string)))
}

/// A client's call at `/token`, `/revoke` or `/introspect`: the client the request names (in the
/// current configuration), the secret it presents (not yet checked) and the caller's address.
pub(super) struct ClientCall {
    pub(super) client: Arc<Client>,
    secret: Option<String>,
    ip: String,
}

impl ClientCall {
    /// Identifies the client of a request whose form is `params`.
    pub(super) fn of(
        req: &HttpRequest,
        state: &AppState,
        params: &Params,
    ) -> Result<ClientCall, AppError> {
        let (client, secret) = identify_client(req, state, params)?;
        let ip = super::browser::client_ip(state, req).unwrap_or_default();
        Ok(ClientCall { client, secret, ip })
    }

    /// The credentials for the core's client authentication.
    pub(super) fn credentials(&self) -> ClientCredentials<'_> {
        ClientCredentials {
            secret: self.secret.as_deref(),
            ip: &self.ip,
        }
    }
}

/// RFC 6749 5.1: token responses are never cached.
pub(super) fn no_store(
    mut builder: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}
