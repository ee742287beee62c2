//! Registration from an invitation: the mail (read from the file outbox), the form bound to the
//! browser that opened the link, then signed in (and on to the authenticator on an MFA account);
//! completing it ends the browser's other session.

use std::time::Duration;

use super::{later_sign_in, set_password, NEW_PASSWORD};
use crate::apps::sid_of;
use crate::harness::*;
use crate::mail::{header, link_in, wait_for_exactly};
use crate::on_both_backends;
use crate::rp::{jwt_claims, seed, SecondFactor};

fn an_invitation_ends_signed_in_and_enrolled(db: Db) {
    let server = TestServer::start(db);
    let s = &server;
    assert_eq!(
        s.cli(&["account", "create", "acme", "--name", "Acme Fuel"], None)
            .code,
        0
    );
    assert_eq!(s.cli(&["mfa", "enable", "--account", "acme"], None).code, 0);
    let out = s.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "Ann@Example.com",
            "--name",
            "Ann Lee",
            "--work-email",
            "ann.lee@acme.example",
            "--invite",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let mails = wait_for_exactly(&server.outbox(), 1);
    let mail = &mails[0];
    assert_eq!(header(mail, "To"), Some("ann@example.com"));
    assert!(header(mail, "Subject").unwrap().contains("Petrosoft Cloud"));
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    let link = link_in(mail, &server.base, "/register");
    let before = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(!before.email_verified);
    assert!(!before.has_password());

    let browser = Browser::new();
    // The policy's reason is shown and the link stays usable.
    let weak = set_password(
        &browser,
        &link,
        &server.url("/register"),
        "password1234",
        "password1234",
    );
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("id=\"form-error\""), "{}", weak.body);
    assert!(weak.body.to_lowercase().contains("common"), "{}", weak.body);
    let mismatch = set_password(
        &browser,
        &link,
        &server.url("/register"),
        NEW_PASSWORD,
        "something else entirely",
    );
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.body.contains("do not match"));
    // A forged form (wrong CSRF) is refused and changes nothing.
    let token = browser.get(&link).input("token").unwrap();
    let forged = browser.post(
        &server.url("/register"),
        &[
            ("csrf", "forged"),
            ("token", &token),
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ],
    );
    assert_eq!(forged.status, 403);
    assert!(!server
        .rt
        .idp
        .user_by_email("ann@example.com")
        .unwrap()
        .has_password());

    let done = set_password(
        &browser,
        &link,
        &server.url("/register"),
        NEW_PASSWORD,
        NEW_PASSWORD,
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(user.email_verified, "registration confirms the email");
    // The account requires MFA: the next page is the enrollment (QR + activation code).
    let enroll = browser.follow(&server.base, done);
    assert!(enroll.body.contains("<svg"), "{}", enroll.body);
    let activation = enroll.by_id("activation-code").unwrap();
    wait_for_fresh_step(5);
    let linked = browser.post(
        &server.url("/login/totp"),
        &[
            ("csrf", &enroll.csrf()),
            ("code", &oathtool(&activation, 0)),
        ],
    );
    assert_eq!(linked.status, 303, "{}", linked.body);
    let home = browser.follow(&server.base, linked);
    assert_eq!(home.status, 200);
    assert!(home.body.contains("ann@example.com"), "{}", home.body);

    // The link is single-use.
    let again = browser.get(&link);
    assert_eq!(again.status, 400);
    assert!(again.body.contains("cannot be used"));

    // From an app: the new password, then a code (no QR: the app is linked).
    later_sign_in(&server, NEW_PASSWORD, &activation);
}

/// The registration form is bound to the browser that opened the link: a page elsewhere cannot
/// make a victim's browser complete an invitation of the attacker's (and so be signed in as the
/// attacker). Completing a registration ends the session the browser had, with back-channel
/// logout.
fn a_registration_is_bound_to_its_browser(db: Db) {
    let app = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(app.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let out = server.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "mallory@example.com",
            "--invite",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mails = crate::mail::wait_for_mails(&server.outbox(), 1);
    let link = crate::mail::link_in(&mails[0], &server.base, "/register");
    let attacker = Browser::new();
    let form = attacker.get(&link);
    assert_eq!(form.status, 200);
    let (token, csrf) = (form.input("token").unwrap(), form.csrf());
    let submit = |browser: &Browser| {
        browser.post(
            &server.url("/register"),
            &[
                ("csrf", csrf.as_str()),
                ("token", token.as_str()),
                ("new_password", "a correct horse for eve"),
                ("confirm_password", "a correct horse for eve"),
            ],
        )
    };
    // The victim: signed in as Ann at the demo app, and with a form cookie of its own.
    let victim = Browser::new();
    let tokens = crate::apps::demo_tokens(&server, &victim, SecondFactor::None);
    victim.get(&server.url("/forgot"));
    assert_eq!(
        submit(&victim).status,
        403,
        "another browser's form is refused"
    );
    assert_eq!(submit(&Browser::new()).status, 403);
    assert!(!server
        .rt
        .idp
        .user_by_email("mallory@example.com")
        .unwrap()
        .has_password());
    // In its own browser the form works; a browser that had a session loses it.
    let ann_in_attacker = crate::apps::demo_tokens(&server, &attacker, SecondFactor::None);
    let done = submit(&attacker);
    assert_eq!(done.status, 303, "{}", done.body);
    let told = app.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(told.len(), 1);
    assert_eq!(jwt_claims(&told[0])["sid"], sid_of(&ann_in_attacker));
    assert_ne!(sid_of(&ann_in_attacker), sid_of(&tokens));
}

on_both_backends!(
    an_invitation_ends_signed_in_and_enrolled,
    a_registration_is_bound_to_its_browser,
);
