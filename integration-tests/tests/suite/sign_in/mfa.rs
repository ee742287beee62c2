//! The second step of the hosted sign-in (TOTP): it cannot be skipped, an enrollment secret
//! belongs to the sign-in that showed it (and the user is mailed when an app is linked or
//! disconnected), and a user disabled after the password gets no session from the code.

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn the_code_step_cannot_be_skipped(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(
        res.location.as_deref(),
        Some("/login"),
        "on to the MFA step, not to the app"
    );
    assert!(
        res.headers
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("idp_session=")),
        "no session before the code"
    );
    let enroll = browser.get(&server.url("/login"));
    assert!(enroll.body.contains("<svg"));
    // Going back to the app: still no session.
    let again = browser.get(&authorize_url(&server, "&prompt=none"));
    assert_eq!(
        again.location_param("error").as_deref(),
        Some("login_required")
    );
    // A wrong code does not complete the sign-in; posting the password form again does not either.
    let res = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &enroll.csrf()), ("code", "000000")],
    );
    assert_eq!(res.status, 401);
    assert!(res.location.is_none());
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &enroll.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    // Back to the sign-in page (which still asks for the code), not on to the app with a code.
    assert_eq!((res.status, res.location.as_deref()), (303, Some("/login")));
    assert!(res
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("idp_session=")));
    let still = browser.get(&server.url("/login"));
    assert!(still.body.contains("<svg"), "the enrollment step again");
    let res = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &enroll.csrf()), ("code", "12ab56")],
    );
    assert_eq!(res.status, 400, "format errors are explained");
    assert!(res.body.contains("6-digit"));
}

/// Someone with a phished password opens enrollment and copies the secret. The real user's
/// sign-in shows a secret of its own; codes of the copied one are refused there and, once the
/// real app is linked, everywhere. The user is mailed when an app is linked (from where, with
/// what) and when it is disconnected.
fn an_enrollment_secret_belongs_to_the_sign_in_that_showed_it(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let enrollment = |browser: &Browser| {
        let page = submit_password(
            &server,
            browser,
            &server.demo_authorize_url(),
            "ann@example.com",
            PASSWORD,
        );
        let page = browser.follow(&server.base, page);
        assert!(page.body.contains("<svg"), "{}", page.body);
        (page.by_id("activation-code").unwrap(), page.csrf())
    };
    let attacker = Browser::new();
    let (copied, attacker_csrf) = enrollment(&attacker);
    let user = Browser::new();
    let (shown, user_csrf) = enrollment(&user);
    assert_ne!(copied, shown, "each sign-in gets its own secret");
    wait_for_fresh_step(8);
    let refused = user.post(
        &server.url("/login/totp"),
        &[("csrf", &user_csrf), ("code", &oathtool(&copied, 0))],
    );
    assert_eq!(refused.status, 401, "{}", refused.body);
    let linked = user.post(
        &server.url("/login/totp"),
        &[("csrf", &user_csrf), ("code", &oathtool(&shown, 0))],
    );
    assert_eq!(linked.status, 303, "{}", linked.body);
    // The attacker's flow finds an app linked, and is asked for its code, which they lack.
    let moved = attacker.post(
        &server.url("/login/totp"),
        &[("csrf", &attacker_csrf), ("code", &oathtool(&copied, 30))],
    );
    assert_eq!(moved.status, 303);
    let code_page = attacker.follow(&server.base, moved);
    assert!(!code_page.body.contains("<svg"));
    let refused = attacker.post(
        &server.url("/login/totp"),
        &[
            ("csrf", &code_page.csrf()),
            ("code", &oathtool(&copied, 30)),
        ],
    );
    assert_eq!(refused.status, 401, "{}", refused.body);
    // The notices, to the authentication email.
    let readable = |mail: &String| mail.replace("=\r\n", "").replace("\r\n ", " ");
    // One app linked, one notice.
    let mails: Vec<String> = crate::mail::wait_for_exactly(&server.outbox(), 1)
        .iter()
        .map(readable)
        .collect();
    let linked_mail = &mails[0];
    assert!(
        linked_mail.contains("authenticator app was linked"),
        "{linked_mail}"
    );
    assert!(linked_mail.contains("To: ann@example.com"), "{linked_mail}");
    assert!(
        linked_mail.contains("127.0.0.1"),
        "from where: {linked_mail}"
    );
    // With what, in the mail's own words: the test browser's User-Agent names no browser it
    // knows, and the header's text (whoever signs in writes it) never reaches the mail.
    assert!(
        linked_mail.contains("using an unknown browser") && !linked_mail.contains(BROWSER_UA),
        "with what: {linked_mail}"
    );
    assert!(linked_mail.contains("If this was not you"), "{linked_mail}");
    let out = server.cli(
        &[
            "mfa",
            "disconnect",
            "--email",
            "ann@example.com",
            "--reason",
            "T-1 lost phone",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mails: Vec<String> = crate::mail::wait_for_exactly(&server.outbox(), 2)
        .iter()
        .map(readable)
        .collect();
    assert!(mails[1].contains("was disconnected"), "{mails:?}");
    let audit = server
        .rt
        .idp
        .audit_for_user(
            &server.rt.idp.user_by_email("ann@example.com").unwrap().id,
            30,
        )
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "mfa.enrolled" && e.ip.is_some()));
    assert!(audit.iter().any(|e| e.action == "mfa.disconnected"));
}

/// A user disabled by an operator after the password step (the sign-in page stays open for
/// minutes) cannot finish with the code: no app is linked, no session cookie is set, no code
/// goes to the app.
fn a_user_disabled_after_the_password_gets_no_session_from_the_code(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    let page = submit_password(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        PASSWORD,
    );
    let page = browser.follow(&server.base, page);
    let activation = page.by_id("activation-code").expect("the enrollment page");
    let out = server.cli(&["user", "disable", "--email", "ann@example.com"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for_fresh_step(5);
    let refused = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &page.csrf()), ("code", &oathtool(&activation, 0))],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    assert!(refused.location.is_none());
    assert!(refused
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("idp_session=")));
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(server.rt.idp.live_sessions(&user.id).unwrap().is_empty());
    assert_ne!(
        server.rt.idp.enrollment_state(&user.id).unwrap(),
        idp_core::mfa::EnrollmentState::Linked,
        "no app linked for a disabled user"
    );
}

on_both_backends!(
    the_code_step_cannot_be_skipped,
    an_enrollment_secret_belongs_to_the_sign_in_that_showed_it,
    a_user_disabled_after_the_password_gets_no_session_from_the_code,
);
