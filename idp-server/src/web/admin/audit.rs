//! `/admin/v1/audit`: the audit log, newest first.

use actix_web::{web, HttpResponse};
use idp_core::audit::AuditFilter;

use super::auth::AdminCaller;
use super::dto::{page_size, AuditEventOut, AuditList, AuditQueryParams};
use super::problem::{run, ApiError, BadRequest, NotFoundResponse, Refusals};
use crate::config::AdminScope;
use crate::web::AppState;

/// Audit events, newest first: filter by account, by user and by time; cursor pagination. A
/// client limited to some accounts names one of them (or a user in one).
#[utoipa::path(get, operation_id = "listAuditEvents", path = "/admin/v1/audit", tag = "audit", params(AuditQueryParams),
    responses((status = 200, body = AuditList), (status = 400, response = BadRequest), (status = 404, response = NotFoundResponse), Refusals),
    security(("admin_token" = ["admin:read"])))]
pub async fn list(
    caller: AdminCaller,
    state: web::Data<AppState>,
    query: web::Query<AuditQueryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(AdminScope::Read)?;
    let q = query.into_inner().normalised();
    let limit = page_size(q.limit)?;
    let since = match &q.since {
        None => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| ApiError::InvalidRequest("since must be an RFC 3339 time".into()))?
                .timestamp(),
        ),
    };
    let before_id = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::InvalidRequest("the cursor is not valid".into()))?,
        ),
    };
    // Which account the filter names, and that the client may act on it: a limited client is
    // refused a slug or user it may not see before either is looked up, so a name that exists
    // nowhere answers as a foreign one does.
    if let Some(slug) = &q.account {
        caller.may_act_on(slug)?;
    }
    let limited = caller.accounts().is_some();
    let idp = state.idp.clone();
    let (account, user) = (q.account.clone(), q.user.clone());
    let (account_id, account_slug) = run(move || {
        let account = match (&account, &user) {
            (Some(slug), _) => Some(idp.account_by_slug(slug)?),
            (None, Some(uid)) => Some(
                idp.user_with_account(uid)?
                    .ok_or_else(|| {
                        if limited {
                            ApiError::ForeignAccount
                        } else {
                            ApiError::NotFound(format!("no user with the id {uid:?}"))
                        }
                    })?
                    .1,
            ),
            (None, None) => None,
        };
        Ok::<_, ApiError>((
            account.as_ref().map(|a| a.id.clone()),
            account.map(|a| a.slug),
        ))
    })
    .await?;
    match (&account_slug, caller.accounts()) {
        (Some(slug), _) => caller.may_act_on(slug)?,
        (None, None) => {}
        (None, Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "this client is limited to some accounts: name one with ?account= or ?user=".into(),
            ))
        }
    }
    let idp = state.idp.clone();
    let page = run(move || {
        let filter = AuditFilter {
            account_id: account_id.as_deref(),
            user_id: q.user.as_deref(),
            since,
            before_id,
            until: None,
        };
        idp.audit_page(&filter, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AuditList {
        items: page.items.into_iter().map(AuditEventOut::from).collect(),
        next_cursor: page.next,
    }))
}
