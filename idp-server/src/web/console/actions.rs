//! The console's actions: each a confirmation page (GET: names what will happen, asks for the
//! reason) and a POST (CSRF-checked, one `Idp::console_act`, then post/redirect/get back to the
//! page with a one-shot notice). Whether the console user may is `policy::staff_may`'s answer,
//! asked before the page is shown and again by the core when the form comes back; a refusal, a
//! bad reason, a bad email or the disconnect limit is said on the form, and nothing changes.

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::console::{Act, Acted, ConsoleError, Followup, Staff};
use idp_core::crypto::ct_eq;
use idp_core::model::Change;
use idp_core::policy::{self, StaffAction};
use idp_core::{Account, MfaPolicy, User};

use super::super::browser::{cookie, CookieName};
use super::super::error::AppError;
use super::super::forms::{form_expired, parse_form, retry_after};
use super::super::locale;
use super::super::render::html;
use super::super::state::{blocking, AppState};
use super::pages::ConfirmPage;
use super::refusal::{console_error, not_found, staff_refusal};
use super::session::{enter, Desk, Entry};
use super::show;
use crate::i18n::{msg, Msg, Tr};

/// Every action, by the name its URL gives it.
const ACTIONS: [(StaffAction, &str); 10] = [
    (StaffAction::InviteUser, "invite"),
    (StaffAction::ResendInvitation, "resend-invitation"),
    (StaffAction::Disable, "disable"),
    (StaffAction::Enable, "enable"),
    (StaffAction::Unlock, "unlock"),
    (StaffAction::SendReset, "send-reset"),
    (StaffAction::DisconnectApp, "disconnect-app"),
    (StaffAction::EndSessions, "end-sessions"),
    (StaffAction::MfaOn, "mfa-on"),
    (StaffAction::MfaOff, "mfa-off"),
];

pub fn slug(a: StaffAction) -> &'static str {
    ACTIONS.iter().find(|(x, _)| *x == a).map_or("", |(_, s)| s)
}

fn parse(s: &str) -> Option<StaffAction> {
    ACTIONS.iter().find(|(_, n)| *n == s).map(|(a, _)| *a)
}

/// An action on the account as a whole (the others are on one user).
fn on_account(a: StaffAction) -> bool {
    matches!(
        a,
        StaffAction::InviteUser | StaffAction::MfaOn | StaffAction::MfaOff
    )
}

/// Drawn as a warning: it takes something away.
pub fn takes_away(a: StaffAction) -> bool {
    matches!(
        a,
        StaffAction::Disable
            | StaffAction::DisconnectApp
            | StaffAction::EndSessions
            | StaffAction::MfaOff
    )
}

/// The action's name: its button, its page's title, its confirmation button.
pub fn button(t: Tr, a: StaffAction) -> String {
    t.show(&match a {
        StaffAction::InviteUser => msg("console-act-invite"),
        StaffAction::ResendInvitation => msg("console-act-resend-invitation"),
        StaffAction::Disable => msg("console-act-disable"),
        StaffAction::Enable => msg("console-act-enable"),
        StaffAction::Unlock => msg("console-act-unlock"),
        StaffAction::SendReset => msg("console-act-send-reset"),
        StaffAction::DisconnectApp => msg("console-act-disconnect-app"),
        StaffAction::EndSessions => msg("console-act-end-sessions"),
        StaffAction::MfaOn => msg("console-act-mfa-on"),
        StaffAction::MfaOff => msg("console-act-mfa-off"),
    })
}

/// What will happen, naming whom (`subject`: the user's email, or the account's name).
fn consequence(a: StaffAction, subject: &str) -> Msg {
    match a {
        StaffAction::InviteUser => msg("console-confirm-invite").with("subject", subject),
        StaffAction::ResendInvitation => {
            msg("console-confirm-resend-invitation").with("subject", subject)
        }
        StaffAction::Disable => msg("console-confirm-disable").with("subject", subject),
        StaffAction::Enable => msg("console-confirm-enable").with("subject", subject),
        StaffAction::Unlock => msg("console-confirm-unlock").with("subject", subject),
        StaffAction::SendReset => msg("console-confirm-send-reset").with("subject", subject),
        StaffAction::DisconnectApp => {
            msg("console-confirm-disconnect-app").with("subject", subject)
        }
        StaffAction::EndSessions => msg("console-confirm-end-sessions").with("subject", subject),
        StaffAction::MfaOn => msg("console-confirm-mfa-on").with("subject", subject),
        StaffAction::MfaOff => msg("console-confirm-mfa-off").with("subject", subject),
    }
}

/// The outcome an action leaves for the next page, as its cookie says it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Already,
    /// Done, but its mail could not be sent.
    Unsent,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Already => "already",
            Outcome::Unsent => "unsent",
        }
    }
}

/// The cookie that carries an action's outcome across the redirect (shown once; only the fixed
/// words below can come out of it, so a planted cookie cannot make the page claim anything new).
fn notice_cookie(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    cookie(state, CookieName::ConsoleNotice, value, Some(max_age))
}

pub fn notice_removal(state: &AppState) -> Cookie<'static> {
    let mut c = notice_cookie(state, String::new(), 0);
    c.make_removal();
    c
}

/// The words of a notice cookie's value, about `subject`; `None` for a value we never set.
pub fn notice(t: Tr, value: &str, subject: &str) -> Option<String> {
    let (name, outcome) = value.split_once('.')?;
    let a = parse(name)?;
    let m = match outcome {
        "unsent" => msg("console-mail-not-sent").with("subject", subject),
        "already" => match a {
            StaffAction::Disable => msg("console-already-disable").with("subject", subject),
            StaffAction::Enable => msg("console-already-enable").with("subject", subject),
            StaffAction::DisconnectApp => {
                msg("console-already-disconnect-app").with("subject", subject)
            }
            StaffAction::EndSessions => {
                msg("console-already-end-sessions").with("subject", subject)
            }
            StaffAction::MfaOn => msg("console-already-mfa-on").with("subject", subject),
            StaffAction::MfaOff => msg("console-already-mfa-off").with("subject", subject),
            _ => return None,
        },
        "done" => match a {
            StaffAction::InviteUser => msg("console-done-invite").with("subject", subject),
            StaffAction::ResendInvitation => {
                msg("console-done-resend-invitation").with("subject", subject)
            }
            StaffAction::Disable => msg("console-done-disable").with("subject", subject),
            StaffAction::Enable => msg("console-done-enable").with("subject", subject),
            StaffAction::Unlock => msg("console-done-unlock").with("subject", subject),
            StaffAction::SendReset => msg("console-done-send-reset").with("subject", subject),
            StaffAction::DisconnectApp => {
                msg("console-done-disconnect-app").with("subject", subject)
            }
            StaffAction::EndSessions => msg("console-done-end-sessions").with("subject", subject),
            StaffAction::MfaOn => msg("console-done-mfa-on").with("subject", subject),
            StaffAction::MfaOff => msg("console-done-mfa-off").with("subject", subject),
        },
        _ => return None,
    };
    Some(t.show(&m))
}

/// What an action is about: a user (with their account) or an account.
enum Target {
    User(String),
    Account(String),
}

/// The account and, for a user action, the user, if this console user may see them.
struct Subject {
    account: Account,
    user: Option<User>,
}

impl Subject {
    /// How the pages name it.
    fn name(&self) -> &str {
        self.user
            .as_ref()
            .map_or(self.account.name.as_str(), |u| u.email.as_str())
    }

    fn href(&self) -> String {
        match &self.user {
            Some(u) => show::user_href(&u.id),
            None => show::account_href(&self.account.slug),
        }
    }
}

fn load(idp: &idp_core::Idp, staff: &Staff, target: &Target) -> Result<Subject, ConsoleError> {
    match target {
        Target::User(id) => {
            let v = idp.console_user(staff, id)?;
            Ok(Subject {
                account: v.account,
                user: Some(v.user),
            })
        }
        Target::Account(slug) => idp
            .console_accounts(staff)?
            .into_iter()
            .find(|a| a.slug == *slug)
            .map(|account| Subject {
                account,
                user: None,
            })
            .ok_or(ConsoleError::NotFound),
    }
}

/// The action a URL names, if it is one of its kind of target.
fn action_of(name: &str, target: &Target) -> Option<StaffAction> {
    let a = parse(name)?;
    (on_account(a) == matches!(target, Target::Account(_))).then_some(a)
}

/// What the confirmation page shows, as sent back on an error.
struct Form<'a> {
    email: &'a str,
    name: &'a str,
    reason: &'a str,
    error: Option<String>,
    status: StatusCode,
}

fn render(
    state: &AppState,
    desk: &Desk,
    t: Tr,
    req: &HttpRequest,
    a: StaffAction,
    subject: &Subject,
    form: Form<'_>,
) -> Result<HttpResponse, AppError> {
    let cancel = subject.href();
    html(
        form.status,
        &ConfirmPage {
            f: desk.frame(state, t, button(t, a)),
            consequence: t.show(&consequence(a, subject.name())),
            action: req.path(),
            csrf: &desk.csrf,
            submit: button(t, a),
            cancel: &cancel,
            error: form.error,
            invite: (a == StaffAction::InviteUser).then_some((form.email, form.name)),
            reason: form.reason,
        },
    )
}

async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    target: Target,
    name: &str,
) -> Result<HttpResponse, AppError> {
    let desk = match enter(&req, &state, req.path()).await? {
        Entry::Desk(d) => d,
        Entry::Answer(res) => return Ok(res),
    };
    let t = locale::of(&req);
    let a = action_of(name, &target).ok_or_else(|| not_found(&state))?;
    let idp = state.idp.clone();
    let staff = desk.staff.clone();
    let subject = blocking(move || load(&idp, &staff, &target))
        .await?
        .map_err(|e| super::refusal::page_error(&state, e))?;
    // The rule first: a page that offers what will be refused would only waste a ticket.
    if let Err(r) = policy::staff_may(
        &desk.staff.user,
        a,
        &subject.account.id,
        subject.user.as_ref(),
    ) {
        return Err(AppError::page(
            StatusCode::FORBIDDEN,
            msg("console-refused-title"),
            staff_refusal(r),
        )
        .with_brand(&state.config.brand));
    }
    let form = Form {
        email: "",
        name: "",
        reason: "",
        error: None,
        status: StatusCode::OK,
    };
    render(&state, &desk, t, &req, a, &subject, form)
}

async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    target: Target,
    name: &str,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    // Signed out meanwhile: back through sign-in to this confirmation page; nothing changes.
    let desk = match enter(&req, &state, req.path()).await? {
        Entry::Desk(d) => d,
        Entry::Answer(res) => return Ok(res),
    };
    let presented = params.get("csrf").unwrap_or("");
    if !ct_eq(desk.csrf.as_bytes(), presented.as_bytes()) {
        return Err(form_expired(&state, msg("form-stale")));
    }
    let t = locale::of(&req);
    let a = action_of(name, &target).ok_or_else(|| not_found(&state))?;
    let field = |k: &str, max: usize| -> String {
        params
            .get(k)
            .unwrap_or("")
            .trim()
            .chars()
            .take(max)
            .collect()
    };
    let (email, person, reason) = (
        field("email", 254),
        field("name", 200),
        field("reason", 1000),
    );
    let idp = state.idp.clone();
    let staff = desk.staff.clone();
    let ip = desk.ip.clone();
    let (e2, p2, r2) = (email.clone(), person.clone(), reason.clone());
    let (done, subject) = blocking(move || {
        let act = match (&target, a) {
            (Target::Account(slug), StaffAction::InviteUser) => Act::Invite {
                slug,
                email: &e2,
                name: &p2,
            },
            (Target::Account(slug), StaffAction::MfaOff) => Act::Mfa {
                policy: MfaPolicy::Off,
                slug,
            },
            (Target::Account(slug), _) => Act::Mfa {
                policy: MfaPolicy::Required,
                slug,
            },
            (Target::User(user_id), action) => Act::OnUser { action, user_id },
        };
        let done = idp.console_act(&staff, &act, &r2, ip.as_deref());
        // On a refusal, the form is shown again: what it is about, read now.
        let subject = load(&idp, &staff, &target);
        (done, subject)
    })
    .await?;
    match done {
        Ok(acted) => {
            let subject = subject.map_err(|e| super::refusal::page_error(&state, e))?;
            let outcome = follow_up(&state, acted, &reason).await;
            let back = if a == StaffAction::InviteUser {
                show::account_href(&subject.account.slug)
            } else {
                subject.href()
            };
            let value = format!("{}.{}", slug(a), outcome.as_str());
            Ok(HttpResponse::SeeOther()
                .cookie(notice_cookie(&state, value, 60))
                .insert_header((header::LOCATION, back))
                .finish())
        }
        Err(e) => {
            let refused = console_error(&state, e)?;
            let subject = subject.map_err(|e| super::refusal::page_error(&state, e))?;
            let form = Form {
                email: &email,
                name: &person,
                reason: &reason,
                error: Some(t.show(&refused.message)),
                status: refused.status,
            };
            let res = render(&state, &desk, t, &req, a, &subject, form)?;
            let until = refused.retry_after.map(|s| state.idp.now() + s);
            Ok(retry_after(res, until, state.idp.now()))
        }
    }
}

/// What the server does after an action: the apps told of ended sessions, the mails sent (a
/// link in the recipient's language, on the blocking pool; a disconnect's notices in the
/// background, each failure logged).
async fn follow_up(state: &AppState, acted: Acted, reason: &str) -> Outcome {
    let changed = acted.change == Change::Changed;
    if changed || !acted.ended.is_empty() {
        state.deliver_logouts();
    }
    let mut outcome = if changed {
        Outcome::Done
    } else {
        Outcome::Already
    };
    match acted.followup {
        Followup::Nothing => {}
        Followup::Link {
            user,
            purpose,
            token,
        } => {
            let mailer = state.mailer.clone();
            let sent = blocking(move || {
                let lang = mailer.lang_for(user.locale.as_deref(), None);
                mailer.send_link(&user, purpose, &token, lang)
            })
            .await;
            if !matches!(sent, Ok(Ok(()))) {
                if let Ok(Err(e)) = &sent {
                    tracing::error!(error = %e, "console: link mail not sent");
                }
                outcome = Outcome::Unsent;
            }
        }
        Followup::Disconnected { user, done } => {
            let mailer = state.mailer.clone();
            let (reason, at) = (reason.to_string(), state.idp.now());
            actix_web::rt::task::spawn_blocking(move || {
                for (to, e) in mailer.send_disconnect_notices(&user, &done, &reason, at) {
                    tracing::error!(error = %e, %to, "disconnect notice not sent");
                }
            });
        }
    }
    outcome
}

/// GET /console/users/{id}/{action}
pub async fn user_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, name) = path.into_inner();
    confirm(req, state, Target::User(id), &name).await
}

/// POST /console/users/{id}/{action}
pub async fn user_act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, name) = path.into_inner();
    act(req, state, body, Target::User(id), &name).await
}

/// GET /console/accounts/{slug}/{action}
pub async fn account_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, name) = path.into_inner();
    confirm(req, state, Target::Account(slug), &name).await
}

/// POST /console/accounts/{slug}/{action}
pub async fn account_act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (slug, name) = path.into_inner();
    act(req, state, body, Target::Account(slug), &name).await
}
