//! How the console puts the domain's values into words and lines: times, statuses, roles, a
//! user's line, an audit event's line. Nothing here decides anything.

use idp_core::audit::StoredEvent;
use idp_core::model::{MfaPolicy, Role, Roles, UserStatus};
use idp_core::self_service::SessionView;
use idp_core::{Account, User};

use super::super::state::AppState;
use super::pages::{EventLine, SessionLine, UserLine};
use crate::i18n::Tr;
use crate::user_agent::browser_of;

/// A time as the console shows it (UTC, to the minute; the same in every language).
pub fn when(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// A time that may never have happened.
pub fn maybe_when(t: Tr, at: Option<i64>) -> String {
    at.map_or_else(|| t.tr("console-never"), when)
}

pub fn status(t: Tr, s: UserStatus) -> String {
    match s {
        UserStatus::Invited => t.tr("console-status-invited"),
        UserStatus::Active => t.tr("console-status-active"),
        UserStatus::Disabled => t.tr("console-status-disabled"),
    }
}

pub fn policy(t: Tr, p: MfaPolicy) -> String {
    match p {
        MfaPolicy::Required => t.tr("console-mfa-required"),
        MfaPolicy::Off => t.tr("console-mfa-off"),
    }
}

pub fn linked(t: Tr, linked: bool) -> String {
    if linked {
        t.tr("console-app-linked")
    } else {
        t.tr("console-app-not-linked")
    }
}

pub fn roles(t: Tr, roles: Roles) -> String {
    let names: Vec<String> = roles
        .list()
        .into_iter()
        .map(|r| match r {
            Role::Support => t.tr("console-role-support"),
            Role::AccountAdmin => t.tr("console-role-account-admin"),
        })
        .collect();
    if names.is_empty() {
        t.tr("console-roles-none")
    } else {
        names.join(", ")
    }
}

pub fn user_href(id: &str) -> String {
    format!("/console/users/{}", encode(id))
}

pub fn account_href(slug: &str) -> String {
    format!("/console/accounts/{}", encode(slug))
}

/// A value as one path segment or query value.
pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn user_line(t: Tr, user: &User, account: &Account, app: Option<bool>) -> UserLine {
    UserLine {
        href: user_href(&user.id),
        name: user.display_name.clone(),
        email: user.email.clone(),
        account: account.name.clone(),
        account_href: account_href(&account.slug),
        status: status(t, user.status),
        mfa: app.map_or_else(|| "–".to_string(), |l| linked(t, l)),
        last_sign_in: maybe_when(t, user.last_sign_in_at),
    }
}

/// A live session: its apps by their configured names, its browser and system from a fixed list
/// (never the header's own text, which whoever signed in wrote).
pub fn session_line(t: Tr, state: &AppState, s: &SessionView) -> SessionLine {
    let apps: Vec<String> = s
        .clients
        .iter()
        .map(|id| {
            state
                .config
                .client(id)
                .map_or_else(|| id.clone(), |c| c.name.clone())
        })
        .collect();
    let unknown = || t.tr("console-unknown");
    SessionLine {
        started: when(s.session.auth_time),
        last_active: when(s.session.last_active_at),
        apps: if apps.is_empty() {
            t.tr("console-no-apps")
        } else {
            apps.join(", ")
        },
        address: s.session.ip.clone().unwrap_or_else(unknown),
        browser: s
            .session
            .user_agent
            .as_deref()
            .and_then(|ua| browser_of(&t, ua))
            .unwrap_or_else(unknown),
    }
}

pub fn event_line(e: &StoredEvent) -> EventLine {
    EventLine {
        at: when(e.at),
        action: e.action.clone(),
        actor: e.actor.clone(),
        user: e.user_id.as_ref().map(|id| (user_href(id), short(id))),
        address: e.ip.clone().unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
        detail: e.detail.clone().unwrap_or_default(),
    }
}

/// The start of an id, enough to tell users apart on a page (the link carries the whole id).
fn short(id: &str) -> String {
    id.chars().take(8).collect()
}
