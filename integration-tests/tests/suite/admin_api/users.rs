//! The admin API's users and accounts: creations that repeat safely (the same request returns the
//! same resource, a different one 409), user management with its audit trail, and the call rate
//! of each admin client.

use serde_json::json;

use crate::admin_api::{
    admin_token, call, problem_type, server, token_response, HELPDESK_SECRET, READER_SECRET,
};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{seed, sign_in, SecondFactor};

/// Creations can be repeated (the same answer) and say so when they differ (409); users are
/// created invited (with the registration link mailed when asked) and never given a password;
/// disable ends the sessions, a disabled user gets no link, the audit keeps who asked.
fn creations_repeat_safely_and_users_are_managed(db: Db) {
    let server = server(db, "");
    let token = admin_token(&server, "helpdesk", HELPDESK_SECRET);
    let t = Some(token.as_str());
    let body = json!({"slug": "acme", "name": "Acme Fuel"});
    let first = call(
        &server,
        "POST",
        "/admin/v1/accounts",
        t,
        Some(body.clone()),
        Some("T-1"),
    );
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(
        first.headers.get("location").unwrap(),
        "/admin/v1/accounts/acme"
    );
    let again = call(
        &server,
        "POST",
        "/admin/v1/accounts",
        t,
        Some(body),
        Some("T-1"),
    );
    assert_eq!((again.status, &again.body["id"]), (200, &first.body["id"]));
    let other = call(
        &server,
        "POST",
        "/admin/v1/accounts",
        t,
        Some(json!({"slug": "acme", "name": "Else"})),
        None,
    );
    assert_eq!(
        (other.status, problem_type(&other)),
        (409, "urn:idp:problem:conflict")
    );
    let bad = call(
        &server,
        "POST",
        "/admin/v1/accounts",
        t,
        Some(json!({"slug": "Not A Slug", "name": "x"})),
        None,
    );
    assert_eq!(
        (bad.status, problem_type(&bad)),
        (400, "urn:idp:problem:invalid-request")
    );
    let array = call(
        &server,
        "POST",
        "/admin/v1/accounts",
        t,
        Some(json!(["acme", "Acme"])),
        None,
    );
    assert_eq!(array.status, 400, "a struct is not read from an array");

    let user = json!({"account": "acme", "email": "Cy@Example.com", "name": "Cy", "invite": true});
    let created = call(
        &server,
        "POST",
        "/admin/v1/users",
        t,
        Some(user.clone()),
        Some("T-2"),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        (
            created.body["email"].as_str(),
            created.body["status"].as_str()
        ),
        (Some("cy@example.com"), Some("invited"))
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let mails = crate::mail::wait_for_exactly(&server.outbox(), 1);
    assert!(
        mails[0].contains("/register?token="),
        "the registration link is mailed"
    );
    let repeat = call(&server, "POST", "/admin/v1/users", t, Some(user), None);
    assert_eq!((repeat.status, &repeat.body["id"]), (200, &json!(id)));
    crate::mail::wait_for_exactly(&server.outbox(), 1);
    let with_password = call(
        &server,
        "POST",
        "/admin/v1/users",
        t,
        Some(
            json!({"account": "acme", "email": "x@example.com", "password": "correct horse battery staple"}),
        ),
        None,
    );
    assert_eq!(with_password.status, 400, "the API never takes a password");

    let patched = call(
        &server,
        "PATCH",
        &format!("/admin/v1/users/{id}"),
        t,
        Some(json!({"name": "Cy Young", "work_email": "cy.young@acme.example"})),
        None,
    );
    assert_eq!(
        (
            patched.status,
            &patched.body["name"],
            &patched.body["work_email"]
        ),
        (200, &json!("Cy Young"), &json!("cy.young@acme.example"))
    );
    // JSON merge patch (RFC 7396): null removes a field; an absent one stays.
    let cleared = call(
        &server,
        "PATCH",
        &format!("/admin/v1/users/{id}"),
        t,
        Some(json!({"work_email": null})),
        None,
    );
    assert_eq!(
        (
            cleared.status,
            &cleared.body["work_email"],
            &cleared.body["name"]
        ),
        (200, &json!(null), &json!("Cy Young"))
    );
    let link = call(
        &server,
        "POST",
        &format!("/admin/v1/users/{id}/reset-link"),
        t,
        None,
        None,
    );
    assert_eq!(
        (link.status, &link.body["sent"]),
        (202, &json!("invite")),
        "not registered yet: the invitation again"
    );
    crate::mail::wait_for_exactly(&server.outbox(), 2);

    // A signed-in user disabled: sessions end; no link while disabled; enabled again.
    seed(&server, "acme", "ann@example.com", false);
    sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let ann = server.rt.idp.user_by_email("ann@example.com").unwrap();
    let sessions = call(
        &server,
        "GET",
        &format!("/admin/v1/users/{}/sessions", ann.id),
        t,
        None,
        None,
    );
    assert_eq!(sessions.body["items"].as_array().unwrap().len(), 1);
    let disabled = call(
        &server,
        "POST",
        &format!("/admin/v1/users/{}/disable", ann.id),
        t,
        None,
        Some("T-3"),
    );
    assert_eq!(
        (disabled.status, &disabled.body["status"]),
        (200, &json!("disabled"))
    );
    assert!(server.rt.idp.live_sessions(&ann.id).unwrap().is_empty());
    let no_link = call(
        &server,
        "POST",
        &format!("/admin/v1/users/{}/reset-link", ann.id),
        t,
        None,
        None,
    );
    assert_eq!(
        (no_link.status, problem_type(&no_link)),
        (409, "urn:idp:problem:conflict")
    );
    let enabled = call(
        &server,
        "POST",
        &format!("/admin/v1/users/{}/enable", ann.id),
        t,
        None,
        None,
    );
    assert_eq!(enabled.body["status"], "active");
    let revoked = call(
        &server,
        "DELETE",
        &format!("/admin/v1/users/{}/sessions", ann.id),
        t,
        None,
        None,
    );
    assert_eq!((revoked.status, &revoked.body["ended"]), (200, &json!(0)));
    let missing = call(&server, "GET", "/admin/v1/users/0000", t, None, None);
    assert_eq!(
        (missing.status, problem_type(&missing)),
        (404, "urn:idp:problem:not-found")
    );
    let method = call(&server, "PUT", "/admin/v1/users", t, None, None);
    assert_eq!(
        (
            method.status,
            method.headers.get("allow").unwrap().to_str().unwrap()
        ),
        (405, "GET, POST")
    );

    // Who asked, for each change.
    let audit = call(
        &server,
        "GET",
        "/admin/v1/audit?account=acme&limit=50",
        t,
        None,
        None,
    );
    let notes: Vec<(String, String)> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_note"].is_string())
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["actor_note"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("account.created", "T-1"),
        ("user.created", "T-2"),
        ("user.link_sent", "T-2"),
        ("user.disabled", "T-3"),
    ] {
        assert!(
            notes.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {notes:?}"
        );
    }
}

/// The call rate per client (`[admin] calls_per_minute`): over it, 429 with Retry-After; other
/// clients are not affected.
fn each_client_has_its_call_rate(db: Db) {
    let server = server(db, "\n[admin]\ncalls_per_minute = 5\n");
    let reader = admin_token(&server, "reader", READER_SECRET);
    for _ in 0..5 {
        assert_eq!(
            call(
                &server,
                "GET",
                "/admin/v1/accounts",
                Some(&reader),
                None,
                None
            )
            .status,
            200
        );
    }
    let over = call(
        &server,
        "GET",
        "/admin/v1/accounts",
        Some(&reader),
        None,
        None,
    );
    assert_eq!(
        (over.status, problem_type(&over)),
        (429, "urn:idp:problem:rate-limited")
    );
    assert!(over.headers.get("retry-after").is_some());
    let helpdesk = admin_token(&server, "helpdesk", HELPDESK_SECRET);
    assert_eq!(
        call(
            &server,
            "GET",
            "/admin/v1/accounts",
            Some(&helpdesk),
            None,
            None
        )
        .status,
        200
    );
}

/// While an admin client is locked out at an address, the right secret tells the caller nothing
/// more: every answer is 429, whatever the scope asks for (an `invalid_scope` answer would tell a
/// guesser that this secret was the right one).
fn a_locked_admin_client_learns_nothing_from_its_scope(db: Db) {
    let server = server(db, "");
    for i in 0..20 {
        let (s, b) = token_response(
            &server,
            "helpdesk",
            &format!("guess-{i}-0123456789abcdef0123"),
            None,
        );
        assert_eq!(
            (s, b["error"].as_str()),
            (401, Some("invalid_client")),
            "guess {i}"
        );
    }
    for scope in [None, Some("admin:read"), Some("admin:nothing")] {
        let (s, _) = token_response(&server, "helpdesk", HELPDESK_SECRET, scope);
        assert_eq!(s, 429, "locked, with scope {scope:?}");
    }
}

on_both_backends!(
    creations_repeat_safely_and_users_are_managed,
    each_client_has_its_call_rate,
    a_locked_admin_client_learns_nothing_from_its_scope,
);
