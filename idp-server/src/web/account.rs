//! `/account`, a signed-in user's own page (where `/` leads): where they are signed in (each
//! live session with its browser and system in our own words, address, times and the apps
//! signed in through it, this browser marked), signing one other session out or every other one
//! (their apps told at once by back-channel logout), their authenticator app, the password
//! change, and the language of their pages and mails. Every form carries the CSRF token bound to
//! the session cookie and answers with a redirect back here that leaves a one-shot notice
//! (post/redirect/get: a reload resends nothing).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Datelike;
use idp_core::self_service::OwnAccount;

use super::browser::{client_ip, removal_cookie, CookieName};
use super::csrf::{csrf_for, csrf_ok};
use super::error::AppError;
use super::forms::{form_expired, parse_form, see_other};
use super::locale;
use super::pages::{AccountPage, AppView, Frame, SessionRow, When};
use super::params::Params;
use super::render::html;
use super::signed_in::{Notice, ACCOUNT_PATH};
use super::state::{blocking_try, AppState};
use crate::i18n::{msg, Lang, Tr};
use crate::user_agent::browser_of;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route(ACCOUNT_PATH, web::get().to(page))
        .route("/account/sessions/end", web::post().to(end_one))
        .route("/account/sessions/end-others", web::post().to(end_others))
        .route("/account/language", web::post().to(set_language));
}

/// GET /: a signed-in browser's page is `/account` (which sends anyone else to sign in).
async fn home() -> HttpResponse {
    see_other(ACCOUNT_PATH)
}

/// GET /account: the page, with the notice a form left for it (shown once); without a live
/// session, off to sign in (which comes back here).
async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(secret) = CookieName::Session.value(&state, &req) else {
        return Ok(see_other("/login"));
    };
    let idp = state.idp.clone();
    let s = secret.clone();
    let Some(own) = blocking_try(move || idp.own_account(&s)).await? else {
        return Ok(see_other("/login"));
    };
    let t = locale::of_user(&req, &state, own.user.locale.as_deref());
    let left = CookieName::Notice.value(&state, &req);
    let notice = left
        .as_deref()
        .and_then(Notice::named)
        .map(|n| t.show(&n.message()));
    let mut res = render(&state, t, &secret, &own, notice.as_deref())?;
    if left.is_some() {
        res.add_cookie(&removal_cookie(&state, CookieName::Notice))
            .map_err(|e| AppError::internal(&e))?;
    }
    Ok(res)
}

/// A time as the page shows it: in words of the page's language (UTC), and machine-readable.
fn when(t: Tr, at: i64) -> When {
    let d = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    When {
        iso: d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        words: t.show(
            &msg("account-date")
                .with("day", d.day().to_string())
                .with("month", i64::from(d.month()))
                .with("year", d.year().to_string())
                .with("time", d.format("%H:%M").to_string()),
        ),
    }
}

fn render(
    state: &AppState,
    t: Tr,
    secret: &str,
    own: &OwnAccount,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let user = &own.user;
    let name = if user.display_name.is_empty() {
        user.email.as_str()
    } else {
        user.display_name.as_str()
    };
    let mut sessions: Vec<SessionRow> = own
        .sessions
        .iter()
        .map(|view| {
            let s = &view.session;
            SessionRow {
                sid: s.id.clone(),
                browser: s
                    .user_agent
                    .as_deref()
                    .and_then(|ua| browser_of(&t, ua))
                    .unwrap_or_else(|| t.tr("account-unknown-browser")),
                address: s
                    .ip
                    .clone()
                    .unwrap_or_else(|| t.tr("account-unknown-address")),
                started: when(t, s.created_at),
                last_active: when(t, s.last_active_at),
                // By the names the apps are configured with now; one removed since shows its id.
                apps: view
                    .clients
                    .iter()
                    .map(|id| {
                        state
                            .config
                            .client(id)
                            .map_or(id.clone(), |c| c.name.clone())
                    })
                    .collect(),
                current: view.current,
            }
        })
        .collect();
    // This browser first, then the others newest first (as the core lists them).
    sessions.sort_by_key(|s| !s.current);
    let chosen = user
        .locale
        .as_deref()
        .and_then(Lang::from_tag)
        .unwrap_or(t.lang());
    let languages: Vec<(&str, &str, bool)> = Lang::ALL
        .into_iter()
        .map(|l| (l.tag(), l.endonym(), l == chosen))
        .collect();
    html(
        StatusCode::OK,
        &AccountPage {
            f: Frame::new(t, &state.config.brand),
            signed_in_as: &t.html(
                &msg("signed-in-as")
                    .with_strong("name", name)
                    .with("email", user.email.as_str()),
            ),
            account_name: &own.account.name,
            csrf: &csrf_for(secret),
            notice,
            sessions: &sessions,
            authenticator: own.authenticator.map(|a| AppView {
                linked_since: a.linked_at.map(|at| when(t, at)),
                last_used: a.last_used_at.map(|at| when(t, at)),
            }),
            languages: &languages,
        },
    )
}

/// The session cookie's secret behind a form of this page, once its CSRF token matched it;
/// `None` when the browser has no session cookie (it is sent to sign in).
fn form_secret(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
) -> Result<Option<String>, AppError> {
    let Some(secret) = CookieName::Session.value(state, req) else {
        return Ok(None);
    };
    if !csrf_ok(&secret, params.get("csrf")) {
        return Err(form_expired(state, msg("open-again")));
    }
    Ok(Some(secret))
}

/// Back to the page with `notice`.
fn back(state: &AppState, notice: Notice) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(notice.cookie(state))
        .insert_header((header::LOCATION, ACCOUNT_PATH))
        .finish()
}

/// POST /account/sessions/end: signs out one of the user's sessions (`sid`). A session that is
/// not a live one of theirs (ended meanwhile, or someone else's) ends nothing, and the page
/// says only that.
async fn end_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let Some(secret) = form_secret(&req, &state, &params)? else {
        return Ok(see_other("/login"));
    };
    let sid: String = params.get("sid").unwrap_or("").chars().take(128).collect();
    let (idp, ip) = (state.idp.clone(), client_ip(&state, &req));
    let ended =
        blocking_try(move || idp.end_own_sessions(&secret, Some(&sid), ip.as_deref())).await?;
    Ok(match ended {
        None => see_other("/login"),
        Some(ended) if ended.is_empty() => back(&state, Notice::SessionGone),
        Some(_) => {
            state.deliver_logouts();
            back(&state, Notice::SessionEnded)
        }
    })
}

/// POST /account/sessions/end-others: signs out every session of the user but this browser's.
async fn end_others(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let Some(secret) = form_secret(&req, &state, &params)? else {
        return Ok(see_other("/login"));
    };
    let (idp, ip) = (state.idp.clone(), client_ip(&state, &req));
    let ended = blocking_try(move || idp.end_own_sessions(&secret, None, ip.as_deref())).await?;
    Ok(match ended {
        None => see_other("/login"),
        Some(ended) => {
            if !ended.is_empty() {
                state.deliver_logouts();
            }
            back(&state, Notice::OthersEnded)
        }
    })
}

/// POST /account/language: stores the user's language (one the provider has) for their mails
/// and pages, and keeps it as this browser's choice.
async fn set_language(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let Some(secret) = form_secret(&req, &state, &params)? else {
        return Ok(see_other("/login"));
    };
    let chosen = params
        .get("locale")
        .and_then(|tag| Lang::ALL.into_iter().find(|l| l.tag() == tag));
    let Some(lang) = chosen else {
        return Err(AppError::page(
            StatusCode::BAD_REQUEST,
            msg("invalid-form-title"),
            msg("account-language-unknown"),
        )
        .with_brand(&state.config.brand));
    };
    let idp = state.idp.clone();
    let stored = blocking_try(move || idp.set_own_locale(&secret, Some(lang.tag()))).await?;
    if !stored {
        return Ok(see_other("/login"));
    }
    let mut res = back(&state, Notice::LanguageSaved);
    res.add_cookie(&locale::kept(&state, lang))
        .map_err(|e| AppError::internal(&e))?;
    Ok(res)
}
