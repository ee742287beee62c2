//! Who is calling the admin API: a bearer token minted by the client credentials grant,
//! verified on every call (signature, type, issuer, audience, expiry), of an admin client that
//! is still configured now (a reload that removes a client or a scope takes effect at once),
//! counted against the client's call rate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use idp_core::support::AdminCall;
use idp_core::Actor;

use super::problem::ApiError;
use crate::config::{AdminScope, Client};
use crate::tokens::verify_admin_token;
use crate::web::{blocking_try, AppState};

/// An authenticated admin call.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The admin client, as configured now.
    pub client: Arc<Client>,
    /// The scopes of the token that the client still holds.
    pub scopes: Vec<AdminScope>,
    /// The audit actor: the client, and who it says it acts for (`X-Actor`).
    pub actor: Actor,
}

impl AdminCaller {
    /// Refused with 403 unless the token holds `scope`.
    pub fn require(&self, scope: AdminScope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str()))
        }
    }

    /// Refused with 403 unless the client may act on the account with this slug.
    pub fn may_act_on(&self, slug: &str) -> Result<(), ApiError> {
        match &self.client.admin {
            Some(access) if access.may_act_on(slug) => Ok(()),
            _ => Err(ApiError::ForeignAccount),
        }
    }

    /// The accounts the client is limited to, if it is.
    pub fn accounts(&self) -> Option<&[String]> {
        self.client
            .admin
            .as_ref()
            .and_then(|a| a.accounts.as_deref())
    }
}

/// The free-text `X-Actor` header (an agent, a ticket number): UTF-8 ("José, ticket 5"; it was
/// dropped when not ASCII), printable, at most 200 characters. Recorded beside the audit actor;
/// never used to decide anything.
fn on_behalf_of(req: &HttpRequest) -> Option<String> {
    let value = std::str::from_utf8(req.headers().get("x-actor")?.as_bytes()).ok()?;
    let cleaned: String = value
        .trim()
        .chars()
        .filter(|c| !idp_core::model::disguises(*c))
        .take(200)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The authenticated caller of a request, as its audit record names it.
#[derive(Clone)]
pub(super) struct Caller(pub(super) Actor);

async fn authenticate(req: HttpRequest) -> Result<AdminCaller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Internal)?
        .clone();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::InvalidToken("send Authorization: Bearer <token>".into()))?;
    let keys = state.keyring().map_err(|_| ApiError::Internal)?;
    let claims = verify_admin_token(token, &keys, &state.config.issuer).map_err(|_| {
        ApiError::InvalidToken("the token is not a valid, unexpired admin token".into())
    })?;
    let client = state
        .config
        .client(&claims.client_id)
        .filter(|c| c.admin.is_some())
        .ok_or_else(|| ApiError::InvalidToken("the client is no longer an admin client".into()))?;
    let held = client
        .admin
        .as_ref()
        .map(|a| a.scopes.clone())
        .unwrap_or_default();
    let scopes: Vec<AdminScope> = claims
        .scope
        .split_whitespace()
        .filter_map(AdminScope::parse)
        .filter(|s| held.contains(s))
        .collect();
    let idp = state.idp.clone();
    let cid = client.client_id.clone();
    match blocking_try(move || idp.admin_call(&cid)).await? {
        AdminCall::Allowed => {}
        AdminCall::Limited(l) => return Err(ApiError::RateLimited(l.until - state.idp.now())),
    }
    let actor = Actor::Client {
        client_id: client.client_id.clone(),
        on_behalf_of: on_behalf_of(&req),
        ip: crate::web::browser::client_ip(&state, &req),
    };
    // For the call's audit record (`record_calls`): who made it, once authenticated.
    actix_web::HttpMessage::extensions_mut(&req).insert(Caller(actor.clone()));
    Ok(AdminCaller {
        client,
        scopes,
        actor,
    })
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
