//! The admin API as a help-desk system uses it: tokens from the client credentials grant, the
//! support tickets of the product documents (find a user, disconnect a lost app, turn MFA on),
//! scope and account limits, the audit trail with `X-Actor`, and Schemathesis checking every
//! operation against the served OpenAPI document (creations and user management: admin_users).

use std::process::Command;

use serde_json::{json, Value};

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{http, seed, sign_in, SecondFactor};

mod privacy;
mod users;

pub const HELPDESK_SECRET: &str = "helpdesk-secret-0123456789abcdef0123456789";
pub const READER_SECRET: &str = "reader-secret-0123456789abcdef0123456789ab";

pub fn sha256(s: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes()))
}

/// Two admin clients: `helpdesk` with every scope, `reader` reading the `other` account only.
pub fn admin_clients() -> String {
    format!(
        r#"
[[clients]]
client_id = "helpdesk"
name = "Help desk"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
scopes = ["admin:read", "admin:accounts", "admin:users", "admin:mfa", "admin:sessions"]

[[clients]]
client_id = "reader"
name = "Reporting"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
scopes = ["admin:read"]
admin_accounts = ["other"]
"#,
        sha256(HELPDESK_SECRET),
        sha256(READER_SECRET)
    )
}

pub fn server(db: Db, extra: &str) -> TestServer {
    TestServer::start_with(
        db,
        Options {
            extra_toml: format!("{}{extra}", admin_clients()),
            ..Options::default()
        },
    )
}

/// The client credentials grant: (status, body).
pub fn token_response(
    server: &TestServer,
    client: &str,
    secret: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let res = http()
        .post(server.url("/token"))
        .basic_auth(client, Some(secret))
        .form(&form)
        .send()
        .unwrap();
    (res.status().as_u16(), res.json().unwrap_or(Value::Null))
}

pub fn admin_token(server: &TestServer, client: &str, secret: &str) -> String {
    let (status, body) = token_response(server, client, secret, None);
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub headers: openidconnect::reqwest::header::HeaderMap,
}

/// One admin call, with `X-Actor` when given.
pub fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    actor: Option<&str>,
) -> Answer {
    let method = openidconnect::reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(a) = actor {
        // As bytes: a note in UTF-8 ("José") is not a visible-ASCII string.
        let value = openidconnect::reqwest::header::HeaderValue::from_bytes(a.as_bytes()).unwrap();
        req = req.header("X-Actor", value);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        content_type,
        headers,
    }
}

pub fn problem_type(a: &Answer) -> &str {
    assert_eq!(a.content_type, "application/problem+json", "{:?}", a.body);
    assert_eq!(a.body["status"].as_u64(), Some(u64::from(a.status)));
    a.body["type"].as_str().unwrap()
}

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
    // UTF-8 kept (it was dropped when not ASCII), the bidi override taken out.
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
    a_client_of_several_accounts_finds_its_users_by_email,
    a_help_desk_disconnects_a_lost_app,
    tokens_scopes_and_accounts_are_enforced,
);

/// Schemathesis (an independent, property-based API tester) runs every operation of the served
/// document against a real server: no 5xx, every response of the documented status, content
/// type, headers and schema, invalid input refused, undeclared methods answered 405.
#[test]
fn schemathesis_finds_nothing_wrong_with_the_admin_api() {
    crate::independent_clients::ensure_python_packages();
    let server = server(
        Db::Sqlite,
        "\n[admin]\ncalls_per_minute = 100000\n\n[tokens]\naccess_token_ttl = \"1h\"\n",
    );
    seed(&server, "acme", "ann@example.com", true);
    let token = admin_token(&server, "helpdesk", HELPDESK_SECRET);
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(server.url("/admin/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        // Every check but two heuristics that do not fit this API: a user's sessions are a
        // collection that stays (empty) after DELETE, and "schema-valid" emails the server
        // refuses (no dot in the domain) are refusals, not bugs.
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "use_after_free,positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            "40",
            "--workers",
            "1",
            "--seed",
            "20261201",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("python3 with schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("20 selected / 20 total"), "{stdout}");
    assert!(stdout.contains("No issues found"), "{stdout}");
}
