//! `/admin/v1/users/{id}/roles/{role}`: granting and taking back `support` and `account-admin`.
//! A role always needs a second factor: granting one ends the user's sessions that never passed
//! one (back-channel logout), and their next sign-in enrolls first.

use actix_web::{web, HttpResponse};
use idp_core::email_tokens::Purpose;
use idp_core::model::Role;

use super::auth::AdminCaller;
use super::dto::{RoleName, UserOut};
use super::problem::{run, ApiError, BadRequest, NotFoundResponse, Refusals};
use super::users::{one, reachable};
use crate::config::AdminScope;
use crate::web::AppState;

fn role_of(name: &str) -> Result<Role, ApiError> {
    Role::parse(name).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "{name:?} is not a role: use support or account-admin"
        ))
    })
}

async fn set(
    caller: AdminCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    held: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Users)?;
    let (id, name) = path.into_inner();
    let role = role_of(&name)?;
    // `support` acts on every account: only a client that may act on every account may make or
    // unmake one (a client limited to some accounts could otherwise mint an operator of all).
    if role == Role::Support && caller.accounts().is_some() {
        return Err(ApiError::ForeignAccount);
    }
    let (user, account) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let uid = user.id.clone();
    let subject = user.clone();
    let done = run(move || {
        idp.set_role(&subject, role, held, &actor)
            .map_err(|e| match e {
                idp_core::roles::RoleError::Store(s) => ApiError::from(s),
                idp_core::roles::RoleError::Crypto(_) => ApiError::Internal,
            })
    })
    .await?;
    if !done.ended.is_empty() {
        state.deliver_logouts();
    }
    if let Some(token) = done.relink_token {
        // Their first app only through their mailbox (see `set_role`).
        let mailer = state.mailer.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let lang = mailer.lang_for(user.locale.as_deref(), None);
            if let Err(e) = mailer.send_link(&user, Purpose::Relink, &token, lang) {
                tracing::error!(error = %e, "relink link not sent");
            }
        });
    }
    let idp = state.idp.clone();
    let now = run(move || idp.user_by_id(&uid)).await?;
    let user = now.ok_or(ApiError::NotFound("the user is gone".into()))?;
    Ok(HttpResponse::Ok().json(one(&user, &account)))
}

/// Grants a role (idempotent): the user resource, with its `roles`.
#[utoipa::path(put, operation_id = "grantUserRole", path = "/admin/v1/users/{id}/roles/{role}", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)"),
        ("role" = inline(RoleName), Path, description = "`support` or `account-admin`")),
    responses((status = 200, body = UserOut), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn grant(
    caller: AdminCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set(caller, state, path, true).await
}

/// Takes a role back (idempotent): the user resource, with its `roles`. Their console sessions
/// end.
#[utoipa::path(delete, operation_id = "revokeUserRole", path = "/admin/v1/users/{id}/roles/{role}", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)"),
        ("role" = inline(RoleName), Path, description = "`support` or `account-admin`")),
    responses((status = 200, body = UserOut), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn revoke(
    caller: AdminCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set(caller, state, path, false).await
}
