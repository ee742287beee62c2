//! The console's tickets: every change needs its CSRF token and a reason (bad input changes
//! nothing), and each is audited with actor, address and reason.

use idp_core::model::Role;
use idp_core::{MfaPolicy, UserStatus};

use super::{console_sign_in, csrf, last_event, person, with_role};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

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

on_both_backends!(
    changes_need_csrf_and_a_reason_and_bad_input_changes_nothing,
    each_ticket_is_audited_with_actor_address_and_reason,
);
