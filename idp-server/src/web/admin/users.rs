//! `/admin/v1/users`: users, their authenticator app and their sessions.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use idp_core::email_tokens::EmailTokenError;
use idp_core::mfa::MfaError;
use idp_core::support::Creation;
use idp_core::users::{NewUser, ProfileChange, UserError, UserQuery};
use idp_core::{Account, Idp, User};

use super::auth::AdminCaller;
use super::dto::{
    page_size, Body, DisconnectReason, LinkSent, Revoked, SessionList, SessionOut, UserCreate,
    UserList, UserOut, UserPatch, UserQueryParams,
};
use super::problem::{run, ApiError, BadRequest, ConflictResponse, NotFoundResponse, Refusals};
use crate::config::AdminScope;
use crate::web::{blocking, AppState};

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::InvalidEmail(_)
            | UserError::InvalidWorkEmail(_)
            | UserError::InvalidName(_)
            | UserError::Password(_) => ApiError::InvalidRequest(e.to_string()),
            UserError::EmailTaken(_) | UserError::NotRegistered(_) => {
                ApiError::Conflict(e.to_string())
            }
            UserError::NotFound(_) | UserError::NoSuchAccount(_) => {
                ApiError::NotFound(e.to_string())
            }
            UserError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "admin API");
                ApiError::Internal
            }
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::Reason(r) => ApiError::InvalidRequest(r.to_string()),
            MfaError::TooManyDisconnects(l) => {
                ApiError::RateLimited((l.until - chrono::Utc::now().timestamp()).max(1))
            }
            MfaError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "admin API");
                ApiError::Internal
            }
        }
    }
}

impl From<EmailTokenError> for ApiError {
    fn from(e: EmailTokenError) -> Self {
        match e {
            EmailTokenError::Disabled => ApiError::Conflict(e.to_string()),
            EmailTokenError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "admin API");
                ApiError::Internal
            }
        }
    }
}

fn user_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no user with the id {id:?}"))
}

/// The user with this id and their account, if the client may act on that account. Another
/// company's user answers exactly as an id that exists nowhere (a 403 told them apart, so a
/// limited client could learn which ids exist elsewhere).
pub(super) async fn reachable(
    caller: &AdminCaller,
    state: &AppState,
    id: &str,
) -> Result<(User, Account), ApiError> {
    let idp = state.idp.clone();
    let uid = id.to_string();
    let found = run(move || idp.user_with_account(&uid)).await?;
    match found {
        Some((user, account)) if caller.may_act_on(&account.slug).is_ok() => Ok((user, account)),
        _ => Err(user_not_found(id)),
    }
}

pub(super) fn one(user: &User, account: &Account) -> UserOut {
    let slugs = HashMap::from([(account.id.clone(), account.slug.clone())]);
    UserOut::of(user, &slugs)
}

/// Account id to slug, for the users of a page.
fn slugs(idp: &Idp) -> Result<HashMap<String, String>, ApiError> {
    Ok(idp
        .list_accounts()?
        .into_iter()
        .map(|a| (a.id, a.slug))
        .collect())
}

/// Mails a link on the blocking pool; a transport failure is a 503 (the link stays valid).
async fn mail_link(
    state: &AppState,
    user: User,
    purpose: idp_core::email_tokens::Purpose,
    token: String,
) -> Result<(), ApiError> {
    let mailer = state.mailer.clone();
    let sent = blocking(move || {
        let lang = mailer.lang_for(user.locale.as_deref(), None);
        mailer.send_link(&user, purpose, &token, lang)
    })
    .await?;
    sent.map_err(|e| {
        tracing::error!(error = %e, "link mail not sent");
        ApiError::Unavailable
    })
}

/// Users, by id: filter by account and by authentication email (case-insensitive, as at
/// sign-in); cursor pagination. A client limited to some accounts names one of them, or an
/// email (a user of another account then reads as nobody).
#[utoipa::path(get, operation_id = "listUsers", path = "/admin/v1/users", tag = "users", params(UserQueryParams),
    responses((status = 200, body = UserList), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn list(
    caller: AdminCaller,
    state: web::Data<AppState>,
    query: web::Query<UserQueryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    let q = query.into_inner().normalised();
    let account = match (&q.account, caller.accounts()) {
        (Some(a), _) => {
            caller.may_act_on(a)?;
            Some(a.clone())
        }
        (None, None) => None,
        (None, Some([only])) => Some(only.clone()),
        // One address names at most one user: looked up anywhere, shown only if it is in the
        // client's accounts (below), so another company's user reads as nobody.
        (None, Some(_)) if q.email.is_some() => None,
        (None, Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "this client is limited to some accounts: name one with ?account=".into(),
            ))
        }
    };
    let limit = page_size(q.limit)?;
    // A cursor is the last id of the previous page.
    if q.cursor.as_deref().is_some_and(|c| {
        c.len() > 64
            || !c
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }) {
        return Err(ApiError::InvalidRequest("the cursor is not valid".into()));
    }
    let idp = state.idp.clone();
    let (page, slugs) = run(move || {
        let query = UserQuery {
            account: account.as_deref(),
            email: q.email.as_deref(),
            cursor: q.cursor.as_deref(),
        };
        let page = idp.find_users(&query, limit)?;
        Ok::<_, ApiError>((page, slugs(&idp)?))
    })
    .await?;
    let items = page
        .items
        .iter()
        .map(|u| UserOut::of(u, &slugs))
        .filter(|u| caller.may_act_on(&u.account).is_ok())
        .collect();
    Ok(HttpResponse::Ok().json(UserList {
        items,
        next_cursor: page.next,
    }))
}

/// Creates an invited user (no password is ever taken); with `invite` the registration link is
/// mailed. Repeating the same request returns the same user (200); the email with another
/// account, name or work email is a conflict (409).
#[utoipa::path(post, operation_id = "createUser", path = "/admin/v1/users", tag = "users", request_body = UserCreate,
    responses((status = 201, body = UserOut, description = "Created"), (status = 200, body = UserOut, description = "It existed already, as asked"), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), (status = 409, response = ConflictResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn create(
    caller: AdminCaller,
    state: web::Data<AppState>,
    Body(body): Body<UserCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Users)?;
    caller.may_act_on(body.account.trim())?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let invite = body.invite;
    let (created, account, link) = run(move || {
        let new = NewUser {
            email: &body.email,
            display_name: &body.name,
            work_email: body.work_email.as_deref(),
            password: None,
        };
        let created = idp.create_user_once(&body.account, new, &actor)?;
        let account = idp.account_by_slug(&body.account)?;
        let link = match &created {
            Creation::Created(u) if invite => Some(idp.link_on_request(u, &actor)?),
            _ => None,
        };
        Ok::<_, ApiError>((created, account, link))
    })
    .await?;
    Ok(match created {
        Creation::Created(u) => {
            if let Some((purpose, token)) = link {
                mail_link(&state, u.clone(), purpose, token).await?;
            }
            HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/admin/v1/users/{}", u.id)))
                .json(one(&u, &account))
        }
        Creation::Existing(u) => HttpResponse::Ok().json(one(&u, &account)),
        // Within the accounts this client may act on, it may know who has the address; beyond
        // them, a generic refusal (an authentication email is unique everywhere, so the create
        // must fail, but nothing more is said of the other company's user).
        Creation::Conflict(u) => {
            let idp = state.idp.clone();
            let theirs = run(move || slugs(&idp))
                .await?
                .get(&u.account_id)
                .is_some_and(|slug| caller.may_act_on(slug).is_ok());
            return Err(ApiError::Conflict(if theirs {
                format!(
                    "a user with the email {} exists with other details",
                    u.email
                )
            } else {
                "this email address cannot be used for a new user".to_string()
            }));
        }
    })
}

/// One user.
#[utoipa::path(get, operation_id = "getUser", path = "/admin/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 200, body = UserOut), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn get(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    let (user, account) = reachable(&caller, &state, &id).await?;
    Ok(HttpResponse::Ok().json(one(&user, &account)))
}

/// Changes a user's name or work email.
#[utoipa::path(patch, operation_id = "updateUser", path = "/admin/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    request_body = UserPatch,
    responses((status = 200, body = UserOut), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn patch(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(body): Body<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Users)?;
    let (user, account) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let (_, updated) = run(move || {
        let change = ProfileChange {
            display_name: body.name.as_deref(),
            work_email: body.work_email.as_deref(),
        };
        idp.update_profile(&user.id, &change, &actor)
    })
    .await?;
    Ok(HttpResponse::Ok().json(one(&updated, &account)))
}

/// What the one-step user actions do.
#[derive(Clone, Copy)]
enum Action {
    Disable,
    Enable,
    Unlock,
}

async fn act(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: String,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Users)?;
    let (user, account) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let (ended, user) = run(move || {
        let ended = match action {
            Action::Disable => idp.set_user_enabled(&user.email, false, &actor)?.1,
            Action::Enable => idp.set_user_enabled(&user.email, true, &actor)?.1,
            Action::Unlock => {
                idp.unlock_user(&user.email, &actor)?;
                Vec::new()
            }
        };
        let user = idp.user_by_id(&user.id)?.unwrap_or(user);
        Ok::<_, UserError>((ended, user))
    })
    .await?;
    if !ended.is_empty() {
        state.deliver_logouts();
    }
    Ok(HttpResponse::Ok().json(one(&user, &account)))
}

/// Disables a user: every session ends now (apps get a back-channel logout); no link is sent
/// while disabled.
#[utoipa::path(post, operation_id = "disableUser", path = "/admin/v1/users/{id}/disable", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 200, body = UserOut), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn disable(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(caller, state, id.into_inner(), Action::Disable).await
}

/// Enables a disabled user again.
#[utoipa::path(post, operation_id = "enableUser", path = "/admin/v1/users/{id}/enable", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 200, body = UserOut), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn enable(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(caller, state, id.into_inner(), Action::Enable).await
}

/// Clears a user's password and code lockouts.
#[utoipa::path(post, operation_id = "unlockUser", path = "/admin/v1/users/{id}/unlock", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 200, body = UserOut), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn unlock(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(caller, state, id.into_inner(), Action::Unlock).await
}

/// Mails the user a link: the registration link while they have not registered, a password
/// reset link afterwards. The API never takes or returns a password; a disabled user gets no
/// link (409).
#[utoipa::path(post, operation_id = "sendUserLink", path = "/admin/v1/users/{id}/reset-link", tag = "users",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 202, body = LinkSent), (status = 404, response = NotFoundResponse), (status = 409, response = ConflictResponse), Refusals),
    security(("admin_token" = ["admin:users"])))]
pub async fn reset_link(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Users)?;
    let (user, _) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let u = user.clone();
    let (purpose, token) = run(move || idp.link_on_request(&u, &actor)).await?;
    mail_link(&state, user, purpose, token).await?;
    Ok(HttpResponse::Accepted().json(LinkSent {
        sent: purpose.as_str().into(),
    }))
}

/// Disconnects the user's authenticator app (a lost phone), for the `reason` the body gives
/// (required: 400 without one): every session of the user ends (back-channel logout), the user
/// and their account's `account-admin`s are mailed, and the next sign-in links a new app (with
/// `[mfa] relink_requires_email`, only through a link mailed to the user). Each admin client may
/// disconnect `[support] disconnects_per_hour` apps an hour (429 after, audited). Nothing to
/// disconnect is not an error.
#[utoipa::path(delete, operation_id = "disconnectUserApp", path = "/admin/v1/users/{id}/totp", tag = "mfa",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    request_body = DisconnectReason,
    responses((status = 204, description = "Disconnected (or nothing was linked)"), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:mfa"])))]
pub async fn delete_totp(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Mfa)?;
    // Read after the scope and before the user: a caller without the scope learns nothing, and
    // a missing reason changes nothing.
    let reason = serde_json::from_slice::<DisconnectReason>(&body)
        .map_err(|e| {
            ApiError::InvalidRequest(format!("the body must be {{\"reason\": \"...\"}}: {e}"))
        })?
        .reason;
    let (user, _) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let u = user.clone();
    let why = reason.clone();
    let done = run(move || idp.disconnect_mfa(&u, &actor, &why)).await?;
    if done.change == idp_core::accounts::Change::Changed {
        // The user's sessions ended with the app: their back-channel logouts go now.
        state.deliver_logouts();
        let at = state.idp.now();
        let mailer = state.mailer.clone();
        actix_web::rt::task::spawn_blocking(move || {
            for (to, e) in mailer.send_disconnect_notices(&user, &done, &reason, at) {
                tracing::error!(error = %e, %to, "disconnect notice not sent");
            }
        });
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The user's live sessions.
#[utoipa::path(get, operation_id = "listUserSessions", path = "/admin/v1/users/{id}/sessions", tag = "sessions",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 200, body = SessionList), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn sessions(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    let (user, _) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let live = run(move || idp.live_sessions(&user.id)).await?;
    Ok(HttpResponse::Ok().json(SessionList {
        items: live.iter().map(SessionOut::from).collect(),
        next_cursor: None,
    }))
}

/// Ends every session of the user now; each app holding a grant gets a back-channel logout.
#[utoipa::path(delete, operation_id = "revokeUserSessions", path = "/admin/v1/users/{id}/sessions", tag = "sessions",
    params(("id" = String, Path, description = "The user's id (`sub`)")),
    responses((status = 200, body = Revoked), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:sessions"])))]
pub async fn revoke_sessions(
    caller: AdminCaller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Sessions)?;
    let (user, _) = reachable(&caller, &state, &id).await?;
    let idp = state.idp.clone();
    let actor = caller.actor.clone();
    let ended = run(move || idp.end_user_sessions(&user, &actor, None)).await?;
    if !ended.is_empty() {
        state.deliver_logouts();
    }
    Ok(HttpResponse::Ok().json(Revoked { ended: ended.len() }))
}
