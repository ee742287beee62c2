//! The admin API as a help-desk system uses it: the support tickets of the product documents
//! (find a user, disconnect a lost app, turn MFA on), with the audit trail and `X-Actor`, and a
//! client of several accounts finding its users by email.

use serde_json::{json, Value};

use super::{
    admin_token, call, problem_type, server, sha256, token_response, HELPDESK_SECRET, READER_SECRET,
};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{seed, sign_in, SecondFactor};

/// The ticket of the seeds: "I lost my phone". The help desk finds the user by email (any
/// case), sees the linked app, disconnects it on behalf of an agent; the user is mailed and the
/// next sign-in shows a new QR code; the audit log names the client and the agent. Then MFA is
/// turned off and on again for the whole account (never for one user).
fn a_help_desk_disconnects_a_lost_app(db: Db) {
    let server = server(db, "");
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    let (status, body) = token_response(&server, "helpdesk", HELPDESK_SECRET, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let token = body["access_token"].as_str().unwrap().to_string();
    let t = Some(token.as_str());

    let found = call(
        &server,
        "GET",
        "/admin/v1/users?email=ANN%40Example.com",
        t,
        None,
        None,
    );
    assert_eq!(found.status, 200, "{:?}", found.body);
    let items = found.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_str().unwrap().to_string();
    assert_eq!(items[0]["account"], "acme");
    assert_eq!(items[0]["email"], "ann@example.com");

    let mfa = call(&server, "GET", "/admin/v1/accounts/acme/mfa", t, None, None);
    assert_eq!(mfa.status, 200);
    assert_eq!(
        mfa.body,
        json!({"required": true, "users": [{"id": id, "email": "ann@example.com", "linked": true}]})
    );

    // A reason is required: without one (or an empty one) nothing changes.
    for body in [None, Some(json!({})), Some(json!({"reason": "  "}))] {
        let refused = call(
            &server,
            "DELETE",
            &format!("/admin/v1/users/{id}/totp"),
            t,
            body,
            None,
        );
        assert_eq!(refused.status, 400, "{:?}", refused.body);
        assert_eq!(refused.body["type"], "urn:idp:problem:invalid-request");
    }
    let mfa = call(&server, "GET", "/admin/v1/accounts/acme/mfa", t, None, None);
    assert_eq!(mfa.body["users"][0]["linked"], true, "nothing changed");
    let gone = call(
        &server,
        "DELETE",
        &format!("/admin/v1/users/{id}/totp"),
        t,
        Some(json!({"reason": "T-42: lost phone, identity checked by call-back"})),
        Some("agent Jos\u{e9} \u{202e}Smith, ticket T-42"),
    );
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    let mfa = call(&server, "GET", "/admin/v1/accounts/acme/mfa", t, None, None);
    assert_eq!(mfa.body["users"][0]["linked"], false);
    let mails = crate::mail::wait_for_mails(&server.outbox(), 2);
    assert!(
        mails.iter().any(|m| m
            .replace("=\r\n", "")
            .replace("\r\n ", " ")
            .contains("was disconnected")),
        "the user is told: {mails:?}"
    );
    // The next sign-in links a new app (QR code again).
    sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );

    let audit = call(
        &server,
        "GET",
        &format!("/admin/v1/audit?user={id}"),
        t,
        None,
        None,
    );
    assert_eq!(audit.status, 200);
    let disconnected: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mfa.disconnected")
        .collect();
    assert_eq!(disconnected.len(), 1, "{:?}", audit.body);
    assert_eq!(disconnected[0]["actor"], "client:helpdesk");
    // UTF-8 kept (a note in any language reads as written), the bidi override taken out.
    assert_eq!(
        disconnected[0]["actor_note"],
        "agent Jos\u{e9} Smith, ticket T-42"
    );
    assert_eq!(
        disconnected[0]["reason"],
        "T-42: lost phone, identity checked by call-back"
    );
    assert!(disconnected[0]["ip"].is_string(), "the caller's address");

    // MFA for the whole account: off keeps the link, on again asks for it.
    let off = call(
        &server,
        "PUT",
        "/admin/v1/accounts/acme/mfa",
        t,
        Some(json!({"required": false})),
        None,
    );
    assert_eq!((off.status, &off.body["required"]), (200, &json!(false)));
    let on = call(
        &server,
        "PUT",
        "/admin/v1/accounts/acme/mfa",
        t,
        Some(json!({"required": true})),
        None,
    );
    assert_eq!(
        (on.status, &on.body["users"][0]["linked"]),
        (200, &json!(true))
    );
    let one_user = call(
        &server,
        "PUT",
        &format!("/admin/v1/users/{id}/mfa"),
        t,
        Some(json!({"required": false})),
        None,
    );
    assert_eq!(
        problem_type(&one_user),
        "urn:idp:problem:not-found",
        "no per-user MFA switch"
    );
}

/// A client limited to several accounts finds a user by email without naming the account (the
/// help-desk's first step), and a user of another company reads as nobody.
fn a_client_of_several_accounts_finds_its_users_by_email(db: Db) {
    let server = server(
        db,
        &format!(
            r#"
[[clients]]
client_id = "pair"
name = "Two accounts"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
scopes = ["admin:read"]
admin_accounts = ["other", "third"]
"#,
            sha256(READER_SECRET)
        ),
    );
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "other", "bo@example.com", false);
    let t = admin_token(&server, "pair", READER_SECRET);
    let found = |email: &str| {
        let res = call(
            &server,
            "GET",
            &format!("/admin/v1/users?email={email}"),
            Some(&t),
            None,
            None,
        );
        assert_eq!(res.status, 200, "{}", res.body);
        res.body["items"].as_array().unwrap().len()
    };
    assert_eq!(found("Bo@Example.com"), 1, "its own user");
    assert_eq!(
        found("ann@example.com"),
        0,
        "another company's user is nobody"
    );
    assert_eq!(found("nobody@example.com"), 0);
}

on_both_backends!(
    a_help_desk_disconnects_a_lost_app,
    a_client_of_several_accounts_finds_its_users_by_email,
);
