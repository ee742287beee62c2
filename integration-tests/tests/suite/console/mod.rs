//! The web console (`/console`), over HTTP on a real server, signing in through `/authorize` as
//! the built-in app `console`: who may use it (`access`), its tickets (`tickets`), the audit
//! log's CSV export (`audit_export`), and a real browser through the release binary (`browser`).
//! The people, roles and console sign-in they share are here.

use idp_core::model::Role;
use idp_core::users::NewUser;
use idp_core::User;

use crate::harness::*;
use crate::rp::*;

/// A user of `slug` (created with `name` when new) with the suite's password.
mod access;
mod audit_export;
mod browser;
mod tickets;

pub(crate) fn person(server: &TestServer, slug: &str, email: &str) -> User {
    let idp = &server.rt.idp;
    if idp.account_by_slug(slug).is_err() {
        let name = format!("{}{} Ltd", &slug[..1].to_uppercase(), &slug[1..]);
        idp.create_account(slug, &name, &op()).unwrap();
    }
    idp.create_user(
        slug,
        NewUser {
            email,
            display_name: "",
            work_email: None,
            password: Some(PASSWORD),
        },
        &op(),
    )
    .unwrap()
}

pub(crate) fn with_role(server: &TestServer, user: &User, role: Role) -> User {
    let idp = &server.rt.idp;
    idp.set_role(user, role, true, &op()).unwrap();
    idp.user_by_id(&user.id).unwrap().unwrap()
}

/// Signs `email` in to the console from a fresh browser (enrolling an app when `factor` says
/// so) and returns the browser on the console's home page, with the activation code.
pub(crate) fn console_sign_in(
    server: &TestServer,
    email: &str,
    factor: SecondFactor,
    activation: Option<&str>,
) -> (Browser, Option<String>, Page) {
    let browser = Browser::new();
    let signed = sign_in(
        server,
        &browser,
        &server.url("/console"),
        email,
        factor,
        activation,
    );
    let home = land(server, &browser, signed.callback);
    (browser, signed.activation_code, home)
}

/// From the redirect to `/console/callback`: the page that refreshes itself to the console,
/// then the console page it names.
/// (`callback` may already be that page, when a redirect chain was followed to it.)
pub(crate) fn land(server: &TestServer, browser: &Browser, callback: Page) -> Page {
    let interstitial = match callback.location.clone() {
        Some(loc) => {
            assert!(loc.starts_with(&server.url("/console/callback?")), "{loc}");
            browser.get(&loc)
        }
        None => callback,
    };
    assert_eq!(interstitial.status, 200, "{}", interstitial.body);
    let to = interstitial
        .body
        .split("url=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(html_unescape)
        .expect("a refresh to the console");
    assert!(to.starts_with("/console"), "{to}");
    browser.get(&server.url(&to))
}

/// The CSRF token of the console's forms on `page`.
pub(crate) fn csrf(page: &Page) -> String {
    page.csrf()
}

/// The newest audit event about `user`.
pub(crate) fn last_event(server: &TestServer, user: &User) -> idp_core::audit::StoredEvent {
    server
        .rt
        .idp
        .audit_for_user(&user.id, 1)
        .unwrap()
        .pop()
        .unwrap()
}
