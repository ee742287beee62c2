//! The console's pages (askama templates in `templates/console/`): what each shows, already in
//! words and display form, so the templates only lay it out. Every value is escaped by the
//! template engine; nothing is inserted raw.

use askama::Template;

use crate::config::Brand;
use crate::i18n::Tr;

/// What every console page has: its language, the brand, its title, and (once signed in) who is
/// at the console with the sign-out form's CSRF token.
pub struct Frame<'a> {
    pub t: Tr,
    pub product: &'a Brand,
    pub title: String,
    /// The console user's email and the CSRF token of the sign-out form.
    pub who: Option<(&'a str, &'a str)>,
    /// A one-shot notice left by the action before the redirect.
    pub notice: Option<String>,
}

/// An account in a list.
pub struct AccountLine {
    pub href: String,
    pub name: String,
    pub slug: String,
    pub mfa: String,
}

/// A user in a list (search results, an account's users).
pub struct UserLine {
    pub href: String,
    pub name: String,
    pub email: String,
    pub account: String,
    pub account_href: String,
    pub status: String,
    pub mfa: String,
    pub last_sign_in: String,
}

/// A button that leads to an action's confirmation page.
pub struct ActionLink {
    pub href: String,
    pub label: String,
    /// Drawn as a warning (the action takes something away).
    pub danger: bool,
}

/// A live session on the user page.
pub struct SessionLine {
    pub started: String,
    pub last_active: String,
    pub apps: String,
    pub address: String,
    pub browser: String,
}

/// An audit event.
pub struct EventLine {
    pub at: String,
    pub action: String,
    pub actor: String,
    pub user: Option<(String, String)>,
    pub address: String,
    pub reason: String,
    pub detail: String,
}

/// One fact of the user page: a label and its value.
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "console/home.html")]
pub struct HomePage<'a> {
    pub f: Frame<'a>,
    pub query: &'a str,
    pub accounts: Vec<AccountLine>,
}

#[derive(Template)]
#[template(path = "console/search.html")]
pub struct SearchPage<'a> {
    pub f: Frame<'a>,
    pub query: &'a str,
    /// Why nothing was searched (a query under two characters), if so.
    pub hint: Option<String>,
    pub users: Vec<UserLine>,
}

#[derive(Template)]
#[template(path = "console/account.html")]
pub struct AccountPage<'a> {
    pub f: Frame<'a>,
    pub facts: Vec<Fact>,
    pub actions: Vec<ActionLink>,
    pub users: Vec<UserLine>,
    pub audit_href: String,
    /// The next page of users, and the first (when this is not it).
    pub next: Option<String>,
    pub first: Option<String>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
pub struct UserPage<'a> {
    pub f: Frame<'a>,
    pub account_href: String,
    pub account_name: String,
    pub facts: Vec<Fact>,
    pub actions: Vec<ActionLink>,
    /// Why some actions are not offered (a role held, the user's own page), if so.
    pub actions_note: Option<String>,
    pub sessions: Vec<SessionLine>,
    pub events: Vec<EventLine>,
    pub audit_href: String,
}

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage<'a> {
    pub f: Frame<'a>,
    pub error: Option<String>,
    pub accounts: Vec<Choice>,
    /// The user the page is limited to: their id and email.
    pub user: Option<(String, String)>,
    pub from: &'a str,
    pub to: &'a str,
    pub events: Vec<EventLine>,
    pub csv_href: String,
    pub older: Option<String>,
    pub newest: Option<String>,
}

#[derive(Template)]
#[template(path = "console/confirm.html")]
pub struct ConfirmPage<'a> {
    pub f: Frame<'a>,
    /// What will happen, in a sentence that names who or what.
    pub consequence: String,
    pub action: &'a str,
    pub csrf: &'a str,
    pub submit: String,
    pub cancel: &'a str,
    pub error: Option<String>,
    /// The fields of an invitation (email, name), when this is one.
    pub invite: Option<(&'a str, &'a str)>,
    pub reason: &'a str,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub struct MessagePage<'a> {
    pub f: Frame<'a>,
    pub message: String,
    pub link: Option<(&'a str, String)>,
    /// Where a same-site refresh takes the browser at once (after sign-in; see `session`).
    pub refresh: Option<&'a str>,
    /// A sign-out button with this CSRF token (the "no access" page: the way out).
    pub sign_out: Option<&'a str>,
}
