//! The help-desk MFA reset a phone call cannot abuse, through the real server: with `[mfa]
//! relink_requires_email = true`, after a disconnect a sign-in with the password alone never
//! reaches the enrollment page; only the link mailed to the user opens it, once.

use crate::harness::*;
use crate::mail::{link_in, wait_for_mails};
use crate::on_both_backends;
use crate::rp::{seed, sign_in, SecondFactor};

fn a_password_alone_never_reaches_enrollment_after_a_disconnect(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            mfa_toml: "relink_requires_email = true",
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", true);
    sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    let out = server.cli(
        &[
            "mfa",
            "disconnect",
            "--email",
            "ann@example.com",
            "--reason",
            "T-3 caller says the phone is lost",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("mailed the link"), "{}", out.stdout);
    // Someone with the password (and the help desk's ear), without the mailbox.
    let attacker = Browser::new();
    let page = submit_password(
        &server,
        &attacker,
        &server.demo_authorize_url(),
        "ann@example.com",
        PASSWORD,
    );
    assert_eq!(page.status, 303);
    let page = attacker.follow(&server.base, page);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/login/relink"), "{}", page.body);
    for never in ["<svg", "activation-code", "one-time-code"] {
        assert!(!page.body.contains(never), "{never} on: {}", page.body);
    }
    // Forcing the code form changes nothing.
    let forced = attacker.post(
        &server.url("/login/totp"),
        &[("csrf", &page.csrf()), ("code", "123456")],
    );
    assert_eq!(forced.status, 303);
    let again = attacker.follow(&server.base, forced);
    assert!(!again.body.contains("<svg"), "{}", again.body);
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert_eq!(
        server.rt.idp.enrollment_state(&user.id).unwrap(),
        idp_core::mfa::EnrollmentState::NotEnrolled
    );
    // The user's mailbox has the link; it opens the sign-in that shows the QR code.
    let mails = wait_for_mails(&server.outbox(), 3);
    let mail = mails
        .iter()
        .find(|m| m.contains("/relink?token=") || m.contains("/relink?token=3D"))
        .expect("the relink mail");
    let link = link_in(mail, &server.base, "/relink");
    let owner = Browser::new();
    let opened = owner.get(&link);
    assert_eq!(opened.status, 303, "{}", opened.body);
    let form = owner.follow(&server.base, opened);
    let page = owner.post(
        &server.url("/login/password"),
        &[
            ("csrf", &form.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let page = owner.follow(&server.base, page);
    assert!(page.body.contains("<svg"), "the QR code: {}", page.body);
    let code = page.by_id("activation-code").unwrap();
    wait_for_fresh_step(5);
    let done = owner.post(
        &server.url("/login/totp"),
        &[("csrf", &page.csrf()), ("code", &oathtool(&code, 0))],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        server.rt.idp.enrollment_state(&user.id).unwrap(),
        idp_core::mfa::EnrollmentState::Linked
    );
    // Used up by the enrollment.
    let spent = Browser::new().get(&link);
    assert_eq!(spent.status, 400, "{}", spent.body);
}

on_both_backends!(a_password_alone_never_reaches_enrollment_after_a_disconnect);
