//! Who may call the admin API: tokens from the client credentials grant, scopes and account
//! limits enforced on every call, against the client as configured now.

use serde_json::{json, Value};

use super::{
    admin_token, call, problem_type, server, token_response, HELPDESK_SECRET, READER_SECRET,
};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{http, seed, sign_in, SecondFactor};

/// What a token may do: no token, a user's token, a missing scope, a foreign account, the
/// wrong grant for the kind of client; and an admin token is no key to /userinfo.
fn tokens_scopes_and_accounts_are_enforced(db: Db) {
    let server = server(db, "");
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "other", "bo@example.com", false);

    let none = call(&server, "GET", "/admin/v1/accounts", None, None, None);
    assert_eq!(
        (none.status, problem_type(&none)),
        (401, "urn:idp:problem:invalid-token")
    );
    assert!(none
        .headers
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let junk = call(
        &server,
        "GET",
        "/admin/v1/accounts",
        Some("not.a.token"),
        None,
        None,
    );
    assert_eq!(junk.status, 401);

    // A user's access token is not an admin token, and the other way round.
    let signed = sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let code = signed.callback.location_param("code").unwrap();
    let tokens = crate::apps::redeem(&server, "demo", 8081, &code);
    let user_token = tokens["access_token"].as_str().unwrap();
    let refused = call(
        &server,
        "GET",
        "/admin/v1/accounts",
        Some(user_token),
        None,
        None,
    );
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    let helpdesk = admin_token(&server, "helpdesk", HELPDESK_SECRET);
    let userinfo = http()
        .get(server.url("/userinfo"))
        .bearer_auth(&helpdesk)
        .send()
        .unwrap();
    assert_eq!(userinfo.status(), 401);

    // Grants by kind of client.
    let (s, b) = token_response(
        &server,
        "helpdesk",
        "wrong-secret-but-long-enough-000000000",
        None,
    );
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().unwrap()["error"], "unauthorized_client");
    let res = http()
        .post(server.url("/token"))
        .basic_auth("helpdesk", Some(HELPDESK_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["error"], "unauthorized_client");
    let (s, b) = token_response(
        &server,
        "reader",
        READER_SECRET,
        Some("admin:read admin:users"),
    );
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
    let page = Browser::new().get(&format!(
        "{}?client_id=helpdesk&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        server.url("/authorize")
    ));
    assert_eq!(page.status, 400, "an admin client never signs users in");
    assert!(page.location.is_none());

    // A narrower token, asked for.
    let (s, b) = token_response(&server, "helpdesk", HELPDESK_SECRET, Some("admin:read"));
    assert_eq!((s, b["scope"].as_str()), (200, Some("admin:read")));
    let read_only = b["access_token"].as_str().unwrap().to_string();
    let create = call(
        &server,
        "POST",
        "/admin/v1/accounts",
        Some(&read_only),
        Some(json!({"slug": "new", "name": "New"})),
        None,
    );
    assert_eq!(
        (create.status, problem_type(&create)),
        (403, "urn:idp:problem:insufficient-scope")
    );

    // The reader sees the `other` account only.
    let reader = admin_token(&server, "reader", READER_SECRET);
    let r = Some(reader.as_str());
    let list = call(&server, "GET", "/admin/v1/accounts", r, None, None);
    let slugs: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["other"]);
    let foreign = call(&server, "GET", "/admin/v1/accounts/acme", r, None, None);
    assert_eq!(
        (foreign.status, problem_type(&foreign)),
        (403, "urn:idp:problem:foreign-account")
    );
    let ann = server.rt.idp.user_by_email("ann@example.com").unwrap();
    let foreign = call(
        &server,
        "GET",
        &format!("/admin/v1/users/{}", ann.id),
        r,
        None,
        None,
    );
    // Another company's user answers exactly as an id that exists nowhere (it told them apart).
    let nobody = call(
        &server,
        "GET",
        "/admin/v1/users/0123456789abcdef0123456789abcdef",
        r,
        None,
        None,
    );
    assert_eq!(
        (foreign.status, problem_type(&foreign)),
        (nobody.status, problem_type(&nobody))
    );
    assert_eq!(nobody.status, 404);
    assert_eq!(
        foreign.body["detail"]
            .as_str()
            .unwrap()
            .replace(&ann.id, "ID"),
        nobody.body["detail"]
            .as_str()
            .unwrap()
            .replace("0123456789abcdef0123456789abcdef", "ID")
    );
    for path in ["sessions", "disable"] {
        let method = if path == "sessions" { "GET" } else { "POST" };
        let res = call(
            &server,
            method,
            &format!("/admin/v1/users/{}/{path}", ann.id),
            r,
            None,
            None,
        );
        assert_ne!(
            problem_type(&res),
            "urn:idp:problem:foreign-account",
            "{path}"
        );
    }
    let theirs = call(&server, "GET", "/admin/v1/users", r, None, None);
    let emails: Vec<&str> = theirs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["bo@example.com"],
        "limited to its one account without naming it"
    );
    let audit = call(
        &server,
        "GET",
        "/admin/v1/audit?account=acme",
        r,
        None,
        None,
    );
    assert_eq!(audit.status, 403);
    // Names that exist nowhere answer as foreign ones do: the audit filter tells a limited
    // client nothing about which slugs or user ids exist elsewhere.
    for probe in [
        "/admin/v1/audit?account=nonexist",
        "/admin/v1/audit?user=nonexist",
    ] {
        let res = call(&server, "GET", probe, r, None, None);
        assert_eq!(
            (res.status, problem_type(&res)),
            (403, "urn:idp:problem:foreign-account"),
            "{probe}"
        );
    }
    let scope = call(
        &server,
        "DELETE",
        &format!("/admin/v1/users/{}/sessions", ann.id),
        r,
        None,
        None,
    );
    assert_eq!(scope.status, 403);
}

on_both_backends!(tokens_scopes_and_accounts_are_enforced);
