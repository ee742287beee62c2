//! The web console (`/console`), over HTTP on a real server: signing in through `/authorize`
//! as the built-in app `console`, who may see and do what (the domain's rule, through the
//! pages), CSRF and the required reason, each ticket's audit event (actor, address, reason), the
//! end of console access when a role or a session goes, and the audit log's CSV export. The
//! real-browser walk through the release binary is `console_browser.rs`, the CSV export
//! `console_audit.rs`.

use idp_core::model::Role;
use idp_core::users::NewUser;
use idp_core::{MfaPolicy, User, UserStatus};

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

/// A user of `slug` (created with `name` when new) with the suite's password.
mod audit_export;
mod browser;

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

/// Nobody without a role sees anything (403, no data); a cookie the server did not seal (or
/// sealed for something else) is no session: the browser is sent to sign in.
fn a_user_without_a_role_gets_403_and_a_forged_cookie_signs_in_again(db: Db) {
    let server = TestServer::start(db);
    person(&server, "acme", "ann@example.com");
    person(&server, "globex", "gil@example.com");
    let (browser, _, page) = console_sign_in(&server, "ann@example.com", SecondFactor::None, None);
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("No access"), "{}", page.body);
    for data in ["Acme", "Globex", "gil@example.com", "/console/accounts"] {
        assert!(!page.body.contains(data), "no data on the 403 page: {data}");
    }
    assert_eq!(browser.get(&server.url("/console/audit")).status, 403);
    assert_eq!(browser.get(&server.url("/console/audit.csv")).status, 403);

    let stranger = Browser::new();
    let start = stranger.get(&server.url("/console/users/x"));
    assert_eq!(start.status, 303);
    let to = start.location.clone().unwrap();
    assert!(
        to.contains("/authorize?") && to.contains("client_id=console"),
        "{to}"
    );
    assert!(to.contains("code_challenge_method=S256"), "{to}");
    let sign_in_cookie = start
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("idp_console_sign_in="))
        .unwrap();
    let sealed_for_another_use = sign_in_cookie
        .trim_start_matches("idp_console_sign_in=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    for forged in [
        "garbage".to_string(),
        sealed_for_another_use,
        "k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
    ] {
        let page = Browser::new().get_with(
            &server.url("/console"),
            &[("cookie", &format!("idp_console={forged}"))],
        );
        assert_eq!(page.status, 303, "{forged}: {}", page.body);
        assert!(page.location.unwrap().contains("client_id=console"));
    }
    // A callback without the sign-in cookie, or with another state, redeems nothing.
    assert_eq!(
        Browser::new()
            .get(&server.url("/console/callback?code=x&state=y"))
            .status,
        400
    );
}

/// An account-admin sees and changes only their own account, never a user with a role, and
/// cannot turn MFA off; each refusal changes nothing.
fn an_account_admin_acts_only_in_their_own_account(db: Db) {
    let server = TestServer::start(db);
    let boss = person(&server, "acme", "boss@example.com");
    let boss = with_role(&server, &boss, Role::AccountAdmin);
    let ann = person(&server, "acme", "ann@example.com");
    let peer = person(&server, "acme", "peer@example.com");
    with_role(&server, &peer, Role::AccountAdmin);
    let gil = person(&server, "globex", "gil@example.com");
    let (browser, _, home) =
        console_sign_in(&server, "boss@example.com", SecondFactor::Enroll, None);
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Acme Ltd") && !home.body.contains("Globex"));
    let token = csrf(&home);
    let get = |path: &str| browser.get(&server.url(path));
    let post = |path: &str, form: &[(&str, &str)]| browser.post(&server.url(path), form);
    for other in [
        "/console/accounts/globex".to_string(),
        format!("/console/users/{}", gil.id),
        format!("/console/users/{}/disable", gil.id),
        "/console/audit?account=globex".into(),
    ] {
        assert_eq!(get(&other).status, 404, "{other}");
    }
    let search = get("/console/search?q=gil");
    assert!(!search.body.contains("gil@example.com"));
    let gone = post(
        &format!("/console/users/{}/disable", gil.id),
        &[("csrf", &token), ("reason", "T-1")],
    );
    assert_eq!(gone.status, 404);
    assert_eq!(
        server.rt.idp.user_by_id(&gil.id).unwrap().unwrap().status,
        UserStatus::Active
    );
    // MFA off is support's; MFA on is theirs.
    server
        .rt
        .idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let account = get("/console/accounts/acme");
    assert!(!account.body.contains("/console/accounts/acme/mfa-off"));
    assert_eq!(get("/console/accounts/acme/mfa-off").status, 403);
    let refused = post(
        "/console/accounts/acme/mfa-off",
        &[("csrf", &token), ("reason", "T-2")],
    );
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("Only support can turn MFA off"),
        "{}",
        refused.body
    );
    assert_eq!(
        server.rt.idp.account_by_slug("acme").unwrap().mfa_policy,
        MfaPolicy::Required
    );
    // A colleague with a role goes to support; their own user is nobody's to change here.
    let peer_page = get(&format!("/console/users/{}", peer.id));
    assert!(
        peer_page.body.contains("holds a role"),
        "{}",
        peer_page.body
    );
    assert!(!peer_page
        .body
        .contains(&format!("/console/users/{}/disable", peer.id)));
    for target in [&peer, &boss] {
        let page = post(
            &format!("/console/users/{}/disable", target.id),
            &[("csrf", &token), ("reason", "T-3")],
        );
        assert_eq!(page.status, 403, "{}", page.body);
        assert_eq!(
            server
                .rt
                .idp
                .user_by_id(&target.id)
                .unwrap()
                .unwrap()
                .status,
            UserStatus::Active
        );
    }
    // What they may do, they do, and it is audited with them as the actor.
    let done = post(
        &format!("/console/users/{}/disable", ann.id),
        &[("csrf", &token), ("reason", "T-4 left the company")],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/console/users/{}", ann.id).as_str())
    );
    let after = get(&format!("/console/users/{}", ann.id));
    assert!(
        after.body.contains("ann@example.com is disabled"),
        "{}",
        after.body
    );
    assert!(
        !get(&format!("/console/users/{}", ann.id))
            .body
            .contains("is disabled and"),
        "the notice is shown once"
    );
    let ev = last_event(&server, &ann);
    assert_eq!(
        (ev.action.as_str(), ev.actor, ev.ip, ev.reason),
        (
            "user.disabled",
            format!("console:{}", boss.id),
            Some("127.0.0.1".to_string()),
            Some("T-4 left the company".to_string())
        )
    );
}

/// Every change needs the form's CSRF token and a reason; bad input is said on the page and
/// changes nothing.
fn changes_need_csrf_and_a_reason_and_bad_input_changes_nothing(db: Db) {
    let server = TestServer::start(db);
    let help = person(&server, "vendor", "help@example.com");
    with_role(&server, &help, Role::Support);
    let ann = person(&server, "acme", "ann@example.com");
    let (browser, _, home) =
        console_sign_in(&server, "help@example.com", SecondFactor::Enroll, None);
    let token = csrf(&home);
    let disable = server.url(&format!("/console/users/{}/disable", ann.id));
    for form in [
        vec![("reason", "T-5")],
        vec![("csrf", "not-the-token"), ("reason", "T-5")],
    ] {
        let page = browser.post(&disable, &form);
        assert_eq!(page.status, 403, "{}", page.body);
    }
    for reason in ["", "   "] {
        let page = browser.post(&disable, &[("csrf", &token), ("reason", reason)]);
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("Enter a reason"), "{}", page.body);
    }
    assert_eq!(
        server.rt.idp.user_by_id(&ann.id).unwrap().unwrap().status,
        UserStatus::Active,
        "nothing changed"
    );
    let invite = server.url("/console/accounts/acme/invite");
    let bad = browser.post(
        &invite,
        &[
            ("csrf", &token),
            ("email", "not an email"),
            ("name", "New"),
            ("reason", "T-6"),
        ],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body.contains("Enter a valid email address"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"not an email\""),
        "the form keeps what was typed"
    );
    let taken = browser.post(
        &invite,
        &[
            ("csrf", &token),
            ("email", "ANN@example.com"),
            ("name", "Ann"),
            ("reason", "T-6"),
        ],
    );
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(server.rt.idp.user_by_email("not an email").is_err());
    // A stale form (an unknown action, a user that does not exist) is a clear page.
    assert_eq!(
        browser
            .post(
                &server.url("/console/users/nobody/disable"),
                &[("csrf", &token), ("reason", "T-7")]
            )
            .status,
        404
    );
    assert_eq!(
        browser
            .get(&server.url(&format!("/console/users/{}/promote", ann.id)))
            .status,
        404
    );
}

/// The product's tickets, each through its confirmation page and its POST, each leaving its
/// audit event with the console user, their address and the reason; the disconnect limit is
/// said clearly (429, Retry-After) and changes nothing.
fn each_ticket_is_audited_with_actor_address_and_reason(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: "\n[support]\ndisconnects_per_hour = 1\n".into(),
            ..Options::default()
        },
    );
    let help = person(&server, "vendor", "help@example.com");
    let help = with_role(&server, &help, Role::Support);
    let ann = person(&server, "acme", "ann@example.com");
    let bob = person(&server, "acme", "bob@example.com");
    let (browser, _, home) =
        console_sign_in(&server, "help@example.com", SecondFactor::Enroll, None);
    let token = csrf(&home);
    let actor = format!("console:{}", help.id);
    let idp = &server.rt.idp;

    let confirm = browser.get(&server.url("/console/accounts/acme/mfa-on"));
    assert_eq!(confirm.status, 200);
    assert!(
        confirm
            .body
            .contains("Require MFA for every user of Acme Ltd"),
        "{}",
        confirm.body
    );
    let on = browser.post(
        &server.url("/console/accounts/acme/mfa-on"),
        &[("csrf", &token), ("reason", "T-10")],
    );
    assert_eq!(on.status, 303, "{}", on.body);
    assert_eq!(
        idp.account_by_slug("acme").unwrap().mfa_policy,
        MfaPolicy::Required
    );
    let account = idp.account_by_slug("acme").unwrap();
    let ev = idp
        .audit_page(
            &idp_core::audit::AuditFilter {
                account_id: Some(&account.id),
                ..Default::default()
            },
            1,
        )
        .unwrap()
        .items
        .pop()
        .unwrap();
    assert_eq!(
        (ev.actor.as_str(), ev.ip.as_deref(), ev.reason.as_deref()),
        (actor.as_str(), Some("127.0.0.1"), Some("T-10"))
    );

    // Ann links an app, then loses her phone.
    let ann_browser = Browser::new();
    for (b, email) in [
        (&ann_browser, "ann@example.com"),
        (&Browser::new(), "bob@example.com"),
    ] {
        let signed = sign_in(
            &server,
            b,
            &server.demo_authorize_url(),
            email,
            SecondFactor::Enroll,
            None,
        );
        // The demo app redeems its code: the session holds the app's grant.
        let code = signed.callback.location_param("code").unwrap();
        assert_eq!(exchange(&server, &code).0, 200);
    }
    let page = browser.get(&server.url(&format!("/console/users/{}", ann.id)));
    assert!(page.body.contains("App linked since"), "{}", page.body);
    assert!(
        page.body.contains("Demo App"),
        "her session and its app: {}",
        page.body
    );
    let confirm = browser.get(&server.url(&format!("/console/users/{}/disconnect-app", ann.id)));
    assert!(
        confirm.body.contains(
            "Disconnect the authenticator app of ann@example.com: all their sessions end"
        ),
        "{}",
        confirm.body
    );
    let gone = browser.post(
        &server.url(&format!("/console/users/{}/disconnect-app", ann.id)),
        &[("csrf", &token), ("reason", "T-11 lost phone")],
    );
    assert_eq!(gone.status, 303, "{}", gone.body);
    assert_eq!(
        idp.enrollment_state(&ann.id).unwrap(),
        idp_core::mfa::EnrollmentState::NotEnrolled
    );
    assert!(idp.live_sessions(&ann.id).unwrap().is_empty());
    let ev = last_event(&server, &ann);
    assert_eq!(
        (
            ev.action.as_str(),
            ev.actor.as_str(),
            ev.ip.as_deref(),
            ev.reason.as_deref()
        ),
        (
            "mfa.disconnected",
            actor.as_str(),
            Some("127.0.0.1"),
            Some("T-11 lost phone")
        )
    );
    // Her next sign-in shows a QR code again.
    sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    // One disconnect an hour here: the next is refused, clearly, and Bob keeps his app.
    let limited = browser.post(
        &server.url(&format!("/console/users/{}/disconnect-app", bob.id)),
        &[("csrf", &token), ("reason", "T-12")],
    );
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.headers.get("retry-after").is_some());
    assert!(
        limited
            .body
            .contains("as many authenticator apps as one person may"),
        "{}",
        limited.body
    );
    assert_eq!(
        idp.enrollment_state(&bob.id).unwrap(),
        idp_core::mfa::EnrollmentState::Linked
    );

    // End sessions, then MFA off, a reset link, an invitation.
    let ended = browser.post(
        &server.url(&format!("/console/users/{}/end-sessions", bob.id)),
        &[("csrf", &token), ("reason", "T-13")],
    );
    assert_eq!(ended.status, 303, "{}", ended.body);
    assert!(idp.live_sessions(&bob.id).unwrap().is_empty());
    assert_eq!(last_event(&server, &bob).reason.as_deref(), Some("T-13"));
    let off = browser.post(
        &server.url("/console/accounts/acme/mfa-off"),
        &[("csrf", &token), ("reason", "T-14")],
    );
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(
        idp.account_by_slug("acme").unwrap().mfa_policy,
        MfaPolicy::Off
    );
    let reset = browser.post(
        &server.url(&format!("/console/users/{}/send-reset", bob.id)),
        &[("csrf", &token), ("reason", "T-15")],
    );
    assert_eq!(reset.status, 303, "{}", reset.body);
    let invited = browser.post(
        &server.url("/console/accounts/acme/invite"),
        &[
            ("csrf", &token),
            ("email", "new@example.com"),
            ("name", "New Person"),
            ("reason", "T-16"),
        ],
    );
    assert_eq!(invited.status, 303, "{}", invited.body);
    let new = idp.user_by_email("new@example.com").unwrap();
    assert_eq!(new.status, UserStatus::Invited);
    let ev = last_event(&server, &new);
    assert_eq!(
        (ev.actor.as_str(), ev.reason.as_deref()),
        (actor.as_str(), Some("T-16"))
    );
    let mails = crate::mail::wait_for_mails(&server.outbox(), 1);
    assert!(mails.iter().any(|m| m.contains("new@example.com")));
    // The audit page shows them, with the actor, the address and the reason.
    let audit = browser.get(&server.url("/console/audit?account=acme"));
    for seen in [
        "mfa.disconnected",
        "T-11 lost phone",
        "127.0.0.1",
        actor.as_str(),
    ] {
        assert!(audit.body.contains(seen), "{seen}: {}", audit.body);
    }
}

/// The console is an app session of the SSO session: a revoked role or an operator's revoke
/// ends it at the next request.
fn a_revoked_role_or_session_ends_console_access_at_once(db: Db) {
    let server = TestServer::start(db);
    let help = person(&server, "vendor", "help@example.com");
    let help = with_role(&server, &help, Role::Support);
    let (browser, activation, home) =
        console_sign_in(&server, "help@example.com", SecondFactor::Enroll, None);
    assert_eq!(home.status, 200);
    server
        .rt
        .idp
        .set_role(&help, Role::Support, false, &op())
        .unwrap();
    let next = browser.get(&server.url("/console"));
    assert_eq!(next.status, 303, "the console's grant ended with the role");
    // Back through /authorize: the SSO session still lives, so no page, and then no access.
    let callback = browser.follow(&server.base, next);
    let page = land(&server, &browser, callback);
    assert_eq!(page.status, 403, "{}", page.body);

    let help = with_role(&server, &help, Role::Support);
    let (browser, _, home) = console_sign_in(
        &server,
        "help@example.com",
        SecondFactor::Code,
        activation.as_deref(),
    );
    assert_eq!(home.status, 200, "{}", home.body);
    server.rt.idp.end_user_sessions(&help, &op(), None).unwrap();
    let next = browser.get(&server.url("/console"));
    assert_eq!(next.status, 303);
    let page = browser.follow(&server.base, next);
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "signed out: {}",
        page.body
    );
}

on_both_backends!(
    a_user_without_a_role_gets_403_and_a_forged_cookie_signs_in_again,
    an_account_admin_acts_only_in_their_own_account,
    changes_need_csrf_and_a_reason_and_bad_input_changes_nothing,
    each_ticket_is_audited_with_actor_address_and_reason,
    a_revoked_role_or_session_ends_console_access_at_once,
);
