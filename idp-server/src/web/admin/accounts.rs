//! `/admin/v1/accounts`: accounts and their MFA policy.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use idp_core::accounts::AccountError;
use idp_core::support::Creation;
use idp_core::MfaPolicy;

use super::auth::AdminCaller;
use super::dto::{AccountCreate, AccountList, AccountOut, AccountPatch, Body, MfaOut, MfaPut};
use super::problem::{run, ApiError, BadRequest, ConflictResponse, NotFoundResponse, Refusals};
use crate::config::AdminScope;
use crate::web::AppState;

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::InvalidSlug(_) | AccountError::InvalidName(_) => {
                ApiError::InvalidRequest(e.to_string())
            }
            AccountError::SlugTaken(_) => ApiError::Conflict(e.to_string()),
            AccountError::NotFound(_) => ApiError::NotFound(e.to_string()),
            AccountError::Store(s) => s.into(),
            AccountError::Crypto(c) => {
                tracing::error!(error = %c, "admin API");
                ApiError::Internal
            }
        }
    }
}

/// The accounts this client may see.
#[utoipa::path(get, operation_id = "listAccounts", path = "/admin/v1/accounts", tag = "accounts",
    responses((status = 200, body = AccountList), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn list(
    caller: AdminCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    let idp = state.idp.clone();
    let accounts = run(move || idp.list_accounts()).await?;
    let items = accounts
        .iter()
        .filter(|a| caller.may_act_on(&a.slug).is_ok())
        .map(AccountOut::from)
        .collect();
    Ok(HttpResponse::Ok().json(AccountList {
        items,
        next_cursor: None,
    }))
}

/// Creates an account (MFA off). Repeating the same request returns the same account (200);
/// the slug with another name is a conflict (409).
#[utoipa::path(post, operation_id = "createAccount", path = "/admin/v1/accounts", tag = "accounts", request_body = AccountCreate,
    responses((status = 201, body = AccountOut, description = "Created"), (status = 200, body = AccountOut, description = "It existed already, as asked"), (status = 400, response = BadRequest), (status = 409, response = ConflictResponse), Refusals),
    security(("admin_token" = ["admin:accounts"])))]
pub async fn create(
    caller: AdminCaller,
    state: web::Data<AppState>,
    Body(body): Body<AccountCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Accounts)?;
    caller.may_act_on(body.slug.trim())?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let created = run(move || idp.create_account_once(&body.slug, &body.name, &actor)).await?;
    Ok(match created {
        Creation::Created(a) => HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/admin/v1/accounts/{}", a.slug)))
            .json(AccountOut::from(&a)),
        Creation::Existing(a) => HttpResponse::Ok().json(AccountOut::from(&a)),
        Creation::Conflict(a) => {
            return Err(ApiError::Conflict(format!(
                "the account {} exists with another name",
                a.slug
            )))
        }
    })
}

/// One account.
#[utoipa::path(get, operation_id = "getAccount", path = "/admin/v1/accounts/{slug}", tag = "accounts",
    params(("slug" = String, Path, description = "The account's slug")),
    responses((status = 200, body = AccountOut), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn get(
    caller: AdminCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    caller.may_act_on(&slug)?;
    let idp = state.idp.clone();
    let account = run(move || idp.account_by_slug(&slug)).await?;
    Ok(HttpResponse::Ok().json(AccountOut::from(&account)))
}

/// Renames an account (its slug stays).
#[utoipa::path(patch, operation_id = "updateAccount", path = "/admin/v1/accounts/{slug}", tag = "accounts",
    params(("slug" = String, Path, description = "The account's slug")),
    request_body = AccountPatch,
    responses((status = 200, body = AccountOut), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:accounts"])))]
pub async fn patch(
    caller: AdminCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    Body(body): Body<AccountPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Accounts)?;
    caller.may_act_on(&slug)?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let (_, account) = run(move || idp.rename_account(&slug, &body.name, &actor)).await?;
    Ok(HttpResponse::Ok().json(AccountOut::from(&account)))
}

/// The account's MFA policy, and for each of its users whether an app is linked.
#[utoipa::path(get, operation_id = "getAccountMfa", path = "/admin/v1/accounts/{slug}/mfa", tag = "mfa",
    params(("slug" = String, Path, description = "The account's slug")),
    responses((status = 200, body = MfaOut), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn get_mfa(
    caller: AdminCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    caller.may_act_on(&slug)?;
    let idp = state.idp.clone();
    let overview = run(move || idp.mfa_overview(&slug)).await?;
    Ok(HttpResponse::Ok().json(MfaOut::from(overview)))
}

/// Turns MFA on or off for every user of the account. On: every session that never passed a
/// second factor ends now (apps get a back-channel logout). Off: linked apps are kept.
#[utoipa::path(put, operation_id = "setAccountMfa", path = "/admin/v1/accounts/{slug}/mfa", tag = "mfa",
    params(("slug" = String, Path, description = "The account's slug")),
    request_body = MfaPut,
    responses((status = 200, body = MfaOut), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:mfa"])))]
pub async fn put_mfa(
    caller: AdminCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    Body(body): Body<MfaPut>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Mfa)?;
    caller.may_act_on(&slug)?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let policy = if body.required {
        MfaPolicy::Required
    } else {
        MfaPolicy::Off
    };
    let (ended, overview) = run(move || idp.set_account_mfa(&slug, policy, &actor)).await?;
    if !ended.is_empty() {
        state.deliver_logouts();
    }
    Ok(HttpResponse::Ok().json(MfaOut::from(overview)))
}
