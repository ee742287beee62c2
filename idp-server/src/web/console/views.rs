//! The console's pages that show: home (search and the accounts this console user may see),
//! search results, an account, a user, the audit log and its CSV export. Each handler admits
//! the request (`session::enter`), makes one core call, and renders.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::console::AuditQuery;
use idp_core::policy::{self, StaffAction};

use super::super::browser::CookieName;
use super::super::error::AppError;
use super::super::locale;
use super::super::params::Params;
use super::super::render::html;
use super::super::state::{blocking, blocking_try, AppState};
use super::actions::{self, notice_removal};
use super::csv;
use super::pages::{
    AccountLine, AccountPage, ActionLink, AuditPage, Choice, Fact, HomePage, SearchPage, UserPage,
};
use super::refusal::page_error;
use super::session::{enter, Desk, Entry};
use super::show;
use crate::i18n::{msg, Tr};

/// The request's path and query: where a sign-in comes back to.
fn here(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    }
}

/// The desk of this request, or the answer that replaces the page.
macro_rules! desk {
    ($req:expr, $state:expr) => {
        match enter(&$req, &$state, &here(&$req)).await? {
            Entry::Desk(d) => d,
            Entry::Answer(res) => return Ok(res),
        }
    };
}

fn query(req: &HttpRequest) -> Params {
    Params::parse(req.query_string().as_bytes()).unwrap_or_default()
}

/// GET /console
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let desk = desk!(req, state);
    let t = locale::of(&req);
    let idp = state.idp.clone();
    let staff = desk.staff.clone();
    let accounts = blocking_try(move || idp.console_accounts(&staff)).await?;
    html(
        StatusCode::OK,
        &HomePage {
            f: desk.frame(&state, t, t.tr("console-home-title")),
            query: "",
            accounts: accounts
                .iter()
                .map(|a| AccountLine {
                    href: show::account_href(&a.slug),
                    name: a.name.clone(),
                    slug: a.slug.clone(),
                    mfa: show::policy(t, a.mfa_policy),
                })
                .collect(),
        },
    )
}

/// GET /console/search?q=: by email (its start) or name (any part).
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let desk = desk!(req, state);
    let t = locale::of(&req);
    let q: String = query(&req)
        .get("q")
        .unwrap_or("")
        .chars()
        .take(254)
        .collect();
    let short = q.trim().chars().count() < 2;
    let idp = state.idp.clone();
    let (staff, qq) = (desk.staff.clone(), q.clone());
    let found = blocking_try(move || idp.console_search(&staff, &qq)).await?;
    html(
        if short {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &SearchPage {
            f: desk.frame(&state, t, t.tr("console-search-title")),
            query: &q,
            hint: short.then(|| t.tr("console-search-too-short")),
            users: found
                .iter()
                .map(|(u, a)| show::user_line(t, u, a, None))
                .collect(),
        },
    )
}

/// The notice an action left for this page (once), in words about `subject`.
fn notice(req: &HttpRequest, state: &AppState, t: Tr, subject: &str) -> Option<String> {
    CookieName::ConsoleNotice
        .value(state, req)
        .and_then(|c| actions::notice(t, &c, subject))
}

/// `res` with the notice cookie removed, when the request carried one.
fn notice_shown(
    req: &HttpRequest,
    state: &AppState,
    mut res: HttpResponse,
) -> Result<HttpResponse, AppError> {
    if CookieName::ConsoleNotice.value(state, req).is_some() {
        res.add_cookie(&notice_removal(state))
            .map_err(|e| AppError::internal(&e))?;
    }
    Ok(res)
}

/// A button for `action` when the rule allows it.
fn offer(
    desk: &Desk,
    t: Tr,
    action: StaffAction,
    account_id: &str,
    target: Option<&idp_core::User>,
    href: String,
) -> Option<ActionLink> {
    policy::staff_may(&desk.staff.user, action, account_id, target)
        .is_ok()
        .then(|| ActionLink {
            href,
            label: actions::button(t, action),
            danger: actions::takes_away(action),
        })
}

/// GET /console/accounts/{slug}?after=: the MFA policy and a page of users.
pub async fn account(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let desk = desk!(req, state);
    let t = locale::of(&req);
    let after = query(&req).get("after").map(str::to_string);
    let idp = state.idp.clone();
    let (staff, s, a) = (desk.staff.clone(), slug.clone(), after.clone());
    let view = blocking(move || idp.console_account(&staff, &s, a.as_deref()))
        .await?
        .map_err(|e| page_error(&state, e))?;
    let acc = &view.account;
    let base = show::account_href(&acc.slug);
    let act = |a: StaffAction| format!("{base}/{}", actions::slug(a));
    let mut offered = vec![offer(
        &desk,
        t,
        StaffAction::InviteUser,
        &acc.id,
        None,
        act(StaffAction::InviteUser),
    )];
    offered.push(match acc.mfa_policy {
        idp_core::MfaPolicy::Off => offer(
            &desk,
            t,
            StaffAction::MfaOn,
            &acc.id,
            None,
            act(StaffAction::MfaOn),
        ),
        idp_core::MfaPolicy::Required => offer(
            &desk,
            t,
            StaffAction::MfaOff,
            &acc.id,
            None,
            act(StaffAction::MfaOff),
        ),
    });
    let mut f = desk.frame(&state, t, acc.name.clone());
    f.notice = notice(&req, &state, t, &acc.name);
    let res = html(
        StatusCode::OK,
        &AccountPage {
            f,
            facts: vec![
                Fact {
                    label: t.tr("console-col-slug"),
                    value: acc.slug.clone(),
                },
                Fact {
                    label: t.tr("console-col-mfa-policy"),
                    value: show::policy(t, acc.mfa_policy),
                },
                Fact {
                    label: t.tr("console-user-count"),
                    value: view.user_count.to_string(),
                },
            ],
            actions: offered.into_iter().flatten().collect(),
            users: view
                .users
                .items
                .iter()
                .map(|l| show::user_line(t, &l.user, acc, Some(l.linked)))
                .collect(),
            audit_href: format!("/console/audit?account={}", show::encode(&acc.slug)),
            next: view
                .users
                .next
                .as_ref()
                .map(|n| format!("{base}?after={}", show::encode(n))),
            first: after.map(|_| base.clone()),
        },
    )?;
    notice_shown(&req, &state, res)
}

/// GET /console/users/{id}: status, roles, the app, sessions, recent events, and the actions
/// the rule allows this console user (the core refuses the others anyway).
pub async fn user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let desk = desk!(req, state);
    let t = locale::of(&req);
    let idp = state.idp.clone();
    let (staff, uid) = (desk.staff.clone(), id.clone());
    let view = blocking(move || idp.console_user(&staff, &uid))
        .await?
        .map_err(|e| page_error(&state, e))?;
    let u = &view.user;
    let base = show::user_href(&u.id);
    let now = state.idp.now();
    let locked = [&view.password_lock, &view.totp_lock].iter().any(|l| {
        l.as_ref()
            .is_some_and(|c| c.locked_until.is_some_and(|until| until > now))
    });
    let mut wanted = vec![];
    if u.status == idp_core::UserStatus::Invited {
        wanted.push(StaffAction::ResendInvitation);
    } else if u.status == idp_core::UserStatus::Active {
        wanted.push(StaffAction::SendReset);
    }
    if view.authenticator.is_some() {
        wanted.push(StaffAction::DisconnectApp);
    }
    if !view.sessions.is_empty() {
        wanted.push(StaffAction::EndSessions);
    }
    if locked {
        wanted.push(StaffAction::Unlock);
    }
    wanted.push(if u.status == idp_core::UserStatus::Disabled {
        StaffAction::Enable
    } else {
        StaffAction::Disable
    });
    let offered: Vec<ActionLink> = wanted
        .iter()
        .filter_map(|a| {
            let href = format!("{base}/{}", actions::slug(*a));
            offer(&desk, t, *a, &view.account.id, Some(u), href)
        })
        .collect();
    // Why the buttons are missing, in the rule's own words.
    let actions_note = match policy::staff_may(
        &desk.staff.user,
        StaffAction::Disable,
        &view.account.id,
        Some(u),
    ) {
        Err(r) => Some(t.show(&super::refusal::staff_refusal(r))),
        Ok(()) => None,
    };
    let app = view.authenticator.as_ref();
    let mut facts = vec![
        (t.tr("console-field-email"), u.email.clone()),
        (t.tr("console-col-status"), show::status(t, u.status)),
        (t.tr("console-roles"), show::roles(t, u.roles)),
        (t.tr("console-app"), show::linked(t, app.is_some())),
    ];
    if let Some(app) = app {
        facts.push((
            t.tr("console-app-linked-since"),
            show::maybe_when(t, app.linked_at),
        ));
        facts.push((
            t.tr("console-app-last-used"),
            show::maybe_when(t, app.last_used_at),
        ));
    }
    facts.push((
        t.tr("console-col-last-sign-in"),
        show::maybe_when(t, u.last_sign_in_at),
    ));
    if locked {
        facts.push((t.tr("console-locked"), t.tr("console-locked-yes")));
    }
    let title = if u.display_name.is_empty() {
        u.email.clone()
    } else {
        u.display_name.clone()
    };
    let mut f = desk.frame(&state, t, title);
    f.notice = notice(&req, &state, t, &u.email);
    let res = html(
        StatusCode::OK,
        &UserPage {
            f,
            account_href: show::account_href(&view.account.slug),
            account_name: view.account.name.clone(),
            facts: facts
                .into_iter()
                .map(|(label, value)| Fact { label, value })
                .collect(),
            actions: offered,
            actions_note,
            sessions: view
                .sessions
                .iter()
                .map(|s| show::session_line(t, &state, s))
                .collect(),
            events: view.events.iter().map(show::event_line).collect(),
            audit_href: format!("/console/audit?user={}", show::encode(&u.id)),
        },
    )?;
    notice_shown(&req, &state, res)
}

/// The audit filters as asked: account (slug), user (id), from/to (dates, UTC), before (the
/// cursor). A date that is not one is the page's error, and nothing is listed.
struct Filters {
    account: Option<String>,
    user: Option<String>,
    from: String,
    to: String,
    before: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
}

fn filters(req: &HttpRequest) -> (Filters, Option<crate::i18n::Msg>) {
    let q = query(req);
    let opt = |k| {
        q.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut f = Filters {
        account: opt("account"),
        user: opt("user"),
        from: opt("from").unwrap_or_default(),
        to: opt("to").unwrap_or_default(),
        before: None,
        since: None,
        until: None,
    };
    let day = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp())
    };
    if !f.from.is_empty() {
        match day(&f.from) {
            Some(s) => f.since = Some(s),
            None => return (f, Some(msg("console-audit-bad-date"))),
        }
    }
    if !f.to.is_empty() {
        // Through the whole of that day.
        match day(&f.to) {
            Some(s) => f.until = Some(s + 86_400),
            None => return (f, Some(msg("console-audit-bad-date"))),
        }
    }
    if let (Some(s), Some(u)) = (f.since, f.until) {
        if s >= u {
            return (f, Some(msg("console-audit-bad-range")));
        }
    }
    if let Some(b) = opt("before") {
        match b.parse::<i64>() {
            Ok(b) if b > 0 => f.before = Some(b),
            _ => return (f, Some(msg("console-audit-bad-page"))),
        }
    }
    (f, None)
}

impl Filters {
    fn query(&self) -> AuditQuery<'_> {
        AuditQuery {
            slug: self.account.as_deref(),
            user_id: self.user.as_deref(),
            since: self.since,
            until: self.until,
            cursor: self.before,
        }
    }

    /// These filters as a query string (without the cursor).
    fn href(&self, path: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("account", self.account.as_deref()),
            ("user", self.user.as_deref()),
            ("from", Some(self.from.as_str()).filter(|s| !s.is_empty())),
            ("to", Some(self.to.as_str()).filter(|s| !s.is_empty())),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        let q = q.finish();
        if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        }
    }
}

const AUDIT_PAGE: i64 = 50;

/// GET /console/audit: the events this console user may read, filtered, newest first.
pub async fn audit(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let desk = desk!(req, state);
    let t = locale::of(&req);
    let (f, error) = filters(&req);
    let idp = state.idp.clone();
    let staff = desk.staff.clone();
    let (account, user) = (f.account.clone(), f.user.clone());
    let run = error.is_none();
    let (since, until, before) = (f.since, f.until, f.before);
    let (accounts, page, user_email) = blocking(move || {
        let accounts = idp.console_accounts(&staff)?;
        let q = AuditQuery {
            slug: account.as_deref(),
            user_id: user.as_deref(),
            since,
            until,
            cursor: before,
        };
        let page = if run {
            Some(idp.console_audit(&staff, &q, AUDIT_PAGE)?)
        } else {
            None
        };
        // Read only once the console allowed the user's events (it may see them).
        let email = match (&user, &page) {
            (Some(id), Some(_)) => idp.user_by_id(id)?.map(|u| u.email),
            _ => None,
        };
        Ok::<_, idp_core::console::ConsoleError>((accounts, page, email))
    })
    .await?
    .map_err(|e| page_error(&state, e))?;
    let events = page
        .as_ref()
        .map(|p| p.items.as_slice())
        .unwrap_or_default();
    let older = page.as_ref().and_then(|p| p.next.as_ref()).map(|n| {
        let base = f.href("/console/audit");
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}before={}", show::encode(n))
    });
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &AuditPage {
            f: desk.frame(&state, t, t.tr("console-audit-title")),
            error: error.map(|m| t.show(&m)),
            accounts: accounts
                .iter()
                .map(|a| Choice {
                    value: a.slug.clone(),
                    label: a.name.clone(),
                    selected: f.account.as_deref() == Some(a.slug.as_str()),
                })
                .collect(),
            user: f.user.clone().zip(user_email),
            from: &f.from,
            to: &f.to,
            events: events.iter().map(show::event_line).collect(),
            csv_href: f.href("/console/audit.csv"),
            older,
            newest: f.before.map(|_| f.href("/console/audit")),
        },
    )
}

/// At most this many events in one export (a larger one: narrow the dates).
const CSV_MAX: usize = 100_000;

/// GET /console/audit.csv: the same filtered events, every page, as CSV with a header row.
pub async fn audit_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let desk = desk!(req, state);
    let (f, error) = filters(&req);
    if let Some(e) = error {
        return Err(
            AppError::page(StatusCode::BAD_REQUEST, msg("console-audit-title"), e)
                .with_brand(&state.config.brand),
        );
    }
    let idp = state.idp.clone();
    let staff = desk.staff.clone();
    let body = blocking(move || {
        let mut out = csv::header();
        let mut q = f.query();
        let mut rows = 0;
        loop {
            let page = idp.console_audit(&staff, &q, 500)?;
            rows += page.items.len();
            for e in &page.items {
                csv::event(&mut out, e);
            }
            match page.next.and_then(|n| n.parse::<i64>().ok()) {
                Some(next) if rows < CSV_MAX => q.cursor = Some(next),
                _ => break,
            }
        }
        Ok::<_, idp_core::console::ConsoleError>(out)
    })
    .await?
    .map_err(|e| page_error(&state, e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"audit.csv\"",
        ))
        .body(body))
}
