//! `/token` (RFC 6749 3.2, 4.1.3, 6; OIDC Core 3.1.3). Client authentication by
//! `client_secret_basic` or `client_secret_post` (a SHA-256 of a high-entropy secret, compared
//! in constant time), or none for public clients with PKCE. Every answer is `no-store`.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use idp_core::oauth::{GrantError, TokenGrant};
use idp_core::throttle::ClientAuthFailure;
use sha2::{Digest, Sha256};

use super::params::{is_form, Params};
use super::{blocking, AppError, AppState};
use crate::config::{AdminAccess, Client};
use crate::tokens::Minter;

/// RFC 6749 5.2: a 401, and (RFC 7235 3.1) every 401 names the scheme to authenticate with,
/// whichever way the client tried (or did not).
fn invalid_client() -> AppError {
    AppError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed".into(),
        www_authenticate: Some("Basic realm=\"token\"".into()),
    }
}

fn unauthorized_client(description: &str) -> AppError {
    AppError::oauth(StatusCode::BAD_REQUEST, "unauthorized_client", description)
}

/// The client credentials grant (RFC 6749 4.4) of an admin client: an access token for the
/// admin API with the scopes asked for (all of the client's when none are), never more. The
/// client's lockout at this address is honoured as for every grant.
async fn client_credentials(
    state: &AppState,
    client: &Client,
    admin: &AdminAccess,
    params: &Params,
    lock_ip: Option<String>,
) -> Result<HttpResponse, AppError> {
    // A locked-out client learns nothing more, not even about its scopes.
    if let Some(ip) = lock_ip {
        let idp = state.idp.clone();
        let cid = client.client_id.clone();
        let lock = blocking(move || idp.client_auth_lock(&cid, &ip))
            .await?
            .map_err(|e| AppError::from(e).into_json())?;
        if let Some(l) = lock {
            return Err(locked_out(l.until, state.idp.now()));
        }
    }
    let held: Vec<&str> = admin.scopes.iter().map(|s| s.as_str()).collect();
    let scope = match params.get("scope") {
        None => held.join(" "),
        Some(asked) => {
            let asked: Vec<&str> = asked.split_whitespace().collect();
            if asked.is_empty() || asked.iter().any(|s| !held.contains(s)) {
                return Err(AppError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "the scope asks for more than this client holds",
                ));
            }
            // In the held order, each once (the held scopes are sorted and distinct).
            let granted: Vec<&str> = held.into_iter().filter(|h| asked.contains(h)).collect();
            granted.join(" ")
        }
    };
    let keys = state.keyring()?;
    let minter = Minter {
        config: &state.config,
        keys: &keys,
        now: state.idp.now(),
    };
    let response = minter
        .admin_token(client, &scope)
        .map_err(|e| AppError::from(e).into_json())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

fn invalid_grant(description: &str) -> AppError {
    AppError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Who is calling, and what the database must still say about it. The secret itself is checked
/// here (a SHA-256 compared in constant time); the lockout of this client at the caller's
/// address lives in the database (shared by replicas) and is read in the same blocking call as
/// the grant.
struct Caller {
    client: Arc<Client>,
    /// The caller's address, for clients that authenticate with a secret (their lockout key is
    /// the client and the address together).
    lock_ip: Option<String>,
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

/// Identifies the client and checks what needs no database. A wrong secret is counted against
/// the client at the caller's address (after which it may be locked) and refused here.
async fn authenticate_client(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
) -> Result<Caller, AppError> {
    let (client, presented) = identify_client(req, state, params)?;
    let Some(expected) = client.secret_sha256 else {
        return if presented.is_none() && client.public {
            Ok(Caller {
                client,
                lock_ip: None,
            })
        } else {
            Err(invalid_client())
        };
    };
    let ip = super::browser::client_ip(state, req).unwrap_or_default();
    let ok = presented.is_some_and(|given| {
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        idp_core::crypto::ct_eq(&digest, &expected)
    });
    if ok {
        return Ok(Caller {
            client,
            lock_ip: Some(ip),
        });
    }
    let idp = state.idp.clone();
    let cid = client.client_id.clone();
    let failure = blocking(move || idp.client_auth_failed(&cid, &ip))
        .await?
        .map_err(|e| AppError::from(e).into_json())?;
    Err(match failure {
        ClientAuthFailure::Counted => invalid_client(),
        ClientAuthFailure::Locked(l) => locked_out(l.until, state.idp.now()),
    })
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

pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    let body = body.map_err(super::error::unreadable_body)?;
    if !is_form(&req) {
        return Err(AppError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(&body).map_err(|e| AppError::invalid_request(e.to_string()))?;
    let caller = authenticate_client(&req, &state, &params).await?;
    let client = caller.client;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| AppError::invalid_request("grant_type is required"))?;
    // An admin client only ever gets admin tokens; an app users sign in to never does.
    match (grant_type, &client.admin) {
        ("client_credentials", Some(admin)) => {
            return client_credentials(&state, &client, admin, &params, caller.lock_ip).await
        }
        ("client_credentials", None) => {
            return Err(unauthorized_client(
                "this client may not use the client_credentials grant",
            ))
        }
        (_, Some(_)) => {
            return Err(unauthorized_client(
                "an admin client may only use the client_credentials grant",
            ))
        }
        (_, None) => {}
    }
    let grant = match grant_type {
        "authorization_code" => {
            let code = params
                .get("code")
                .ok_or_else(|| AppError::invalid_request("code is required"))?
                .to_string();
            let redirect_uri = params
                .get("redirect_uri")
                .ok_or_else(|| AppError::invalid_request("redirect_uri is required"))?
                .to_string();
            let verifier = params.get("code_verifier").map(str::to_string);
            if client.public && verifier.is_none() {
                return Err(AppError::invalid_request(
                    "code_verifier is required for public clients",
                ));
            }
            TokenGrant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            }
        }
        "refresh_token" => TokenGrant::RefreshToken {
            token: params
                .get("refresh_token")
                .ok_or_else(|| AppError::invalid_request("refresh_token is required"))?
                .to_string(),
            scope: params.get("scope").map(str::to_string),
        },
        _ => {
            return Err(AppError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
            ))
        }
    };
    // One hand-off to the blocking pool for the whole database part: the lockout check and the
    // grant (single-use claim, rotation, session slide, and the user it was issued to, all in
    // one transaction).
    let idp = state.idp.clone();
    let cid = client.client_id.clone();
    let lock_ip = caller.lock_ip;
    let granted = blocking(move || idp.token_grant(&cid, lock_ip.as_deref(), &grant)).await?;
    let issued = match granted {
        Ok(issued) => issued,
        Err(GrantError::InvalidGrant(why)) => return Err(invalid_grant(why)),
        // RFC 6749 6: a refresh may narrow the scope, never widen it.
        Err(GrantError::InvalidScope) => {
            return Err(AppError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "the scope exceeds the original grant",
            ))
        }
        Err(GrantError::ClientLocked(l)) => return Err(locked_out(l.until, state.idp.now())),
        Err(e) => return Err(AppError::from(e).into_json()),
    };
    let keys = state.keyring()?;
    let minter = Minter {
        config: &state.config,
        keys: &keys,
        now: state.idp.now(),
    };
    let response = minter
        .token_response(&client, &issued)
        .map_err(|e| AppError::from(e).into_json())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
