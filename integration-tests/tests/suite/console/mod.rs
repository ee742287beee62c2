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

/// Signs `email` in to the console from a fresh browser and returns the browser on the
/// console's home page, with the activation code when `factor` enrolled an app.
///
/// A role holder without a linked app enrolls only through their mailbox (the role's grant
/// marked them so): with [`SecondFactor::Enroll`] the browser meets the page that asks for the
/// mailed link, asks for a new one, opens it from the outbox, gives the password again and
/// links the app; the console then reuses that session.
pub(crate) fn console_sign_in(
    server: &TestServer,
    email: &str,
    factor: SecondFactor,
    activation: Option<&str>,
) -> (Browser, Option<String>, Page) {
    let browser = Browser::new();
    if factor == SecondFactor::Enroll {
        let activation = enroll_by_mail(server, &browser, email);
        let back = browser.follow(&server.base, browser.get(&server.url("/console")));
        let home = land(server, &browser, back);
        return (browser, Some(activation), home);
    }
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

/// A role holder's first enrollment: the password leads to the page asking for the mailed link
/// (never to a QR code); "send me a new link" mails it; the link opens the sign-in that links
/// the app. Returns the activation code.
fn enroll_by_mail(server: &TestServer, browser: &Browser, email: &str) -> String {
    let page = submit_password(server, browser, &server.url("/console"), email, PASSWORD);
    assert_eq!(page.status, 303, "{}", page.body);
    let asks = browser.follow(&server.base, page);
    assert!(asks.body.contains("/login/relink"), "{}", asks.body);
    assert!(
        !asks.body.contains("<svg"),
        "no QR code without the mailbox"
    );
    let before = crate::mail::mails_in(&server.outbox()).len();
    let sent = browser.post(&server.url("/login/relink"), &[("csrf", &asks.csrf())]);
    assert_eq!(sent.status, 200, "{}", sent.body);
    let mails = crate::mail::wait_for_mails(&server.outbox(), before + 1);
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.contains(email) && m.contains("/relink?token"))
        .unwrap_or_else(|| panic!("the relink mail to {email}"));
    let link = crate::mail::link_in(mail, &server.base, "/relink");
    let signed = sign_in(server, browser, &link, email, SecondFactor::Enroll, None);
    signed.activation_code.expect("the app was linked")
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
