//! What an API learns of a token: introspection (RFC 7662) answers `active: false` as soon as
//! the session behind a token ends, for any reason, and tells only the issuing client and
//! resource servers; `/userinfo` refuses the same tokens. The resource server and the calls the
//! revocation tests share are here.

use std::time::Duration;

use serde_json::Value;

use crate::apps::{crm_client, demo_tokens, refresh, sid_of, userinfo};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{http, jwt_claims, op, seed, SecondFactor};

pub const API_SECRET: &str = "resource-server-secret-0123456789abcdef";

/// `[[clients]]` "api": a resource server that introspects tokens.
pub fn api_client() -> String {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        API_SECRET.as_bytes(),
    ));
    format!(
        "\n[[clients]]\nclient_id = \"api\"\nname = \"Orders API\"\nintrospect = true\nsecret_sha256 = \"{hash}\"\n"
    )
}

pub(super) fn server(db: Db, idle_timeout: &'static str) -> TestServer {
    TestServer::start_with(
        db,
        Options {
            idle_timeout,
            extra_toml: api_client() + &crm_client("http://127.0.0.1:9/unused"),
            ..Options::default()
        },
    )
}

/// POSTs `form` to `path` as `client` (Basic), answering status and JSON body.
pub(super) fn call(
    server: &TestServer,
    path: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let res = http()
        .post(server.url(path))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{path} answers are never cached"
    );
    let text = res.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(super) fn introspect(server: &TestServer, client: (&str, &str), token: &str) -> Value {
    let (status, body) = call(server, "/introspect", client, &[("token", token)]);
    assert_eq!(status, 200, "{body}");
    body
}

pub(super) const API: (&str, &str) = ("api", API_SECRET);
pub(super) const DEMO: (&str, &str) = ("demo", DEMO_SECRET);
pub(super) const CRM: (&str, &str) = ("crm", DEMO_SECRET);

/// A way to end the session of a browser that holds these tokens.
type Ending<'a> = dyn Fn(&Browser, &Value) + 'a;

pub(super) fn inactive() -> Value {
    serde_json::json!({ "active": false })
}

/// Every way a session ends, each on a fresh sign-in: afterwards both of its tokens
/// introspect as exactly `{"active": false}` and `/userinfo` refuses the access token.
fn a_token_is_inactive_as_soon_as_its_session_ends_for_any_reason(db: Db) {
    // Idle: a server of its own, with a short idle timeout.
    let idle = server(db, "2s");
    seed(&idle, "acme", "ann@example.com", false);
    ends_every_token(&idle, "idle", &|_, _| {
        std::thread::sleep(Duration::from_secs(3))
    });
    let server = server(db, "30m");
    seed(&server, "acme", "ann@example.com", false);
    let idp = &server.rt.idp;
    let endings: [(&str, &Ending); 6] = [
        ("logout", &|browser, _| {
            let confirm = browser.get(&server.url("/end_session"));
            let out = browser.post(&server.url("/end_session"), &[("csrf", &confirm.csrf())]);
            assert!(out.body.contains("signed out"), "{}", out.body);
        }),
        ("operator revoke", &|_, _| {
            let user = idp.user_by_email("ann@example.com").unwrap();
            assert_eq!(idp.end_user_sessions(&user, &op(), None).unwrap().len(), 1);
        }),
        ("disabled user", &|_, _| {
            idp.set_user_enabled("ann@example.com", false, &op())
                .unwrap();
            idp.set_user_enabled("ann@example.com", true, &op())
                .unwrap();
        }),
        ("MFA turned on", &|_, _| {
            idp.set_mfa_policy("acme", idp_core::MfaPolicy::Required, &op())
                .unwrap();
            idp.set_mfa_policy("acme", idp_core::MfaPolicy::Off, &op())
                .unwrap();
        }),
        ("token revoked", &|_, tokens| {
            let refresh_token = tokens["refresh_token"].as_str().unwrap();
            let (status, _) = call(&server, "/revoke", DEMO, &[("token", refresh_token)]);
            assert_eq!(status, 200);
        }),
        // Last: the seeded password no longer signs in afterwards.
        ("password changed", &|_, _| {
            let user = idp.user_by_email("ann@example.com").unwrap();
            idp.set_password(&user.id, "a brand new passphrase", &op(), None, None)
                .unwrap();
        }),
    ];
    for (why, end) in endings {
        ends_every_token(&server, why, end);
    }
}

/// Signs in, checks both tokens are active, ends the session with `end`, checks both are
/// inactive and `/userinfo` refuses the access token.
fn ends_every_token(server: &TestServer, why: &str, end: &Ending) {
    let browser = Browser::new();
    let tokens = demo_tokens(server, &browser, SecondFactor::None);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let live = introspect(server, API, access);
    assert_eq!(live["active"], true, "{why}: {live}");
    assert_eq!(
        introspect(server, DEMO, refresh_token)["active"],
        true,
        "{why}"
    );
    assert_eq!(userinfo(server, &tokens), 200, "{why}");
    end(&browser, &tokens);
    assert_eq!(introspect(server, API, access), inactive(), "{why}: access");
    assert_eq!(
        introspect(server, DEMO, access),
        inactive(),
        "{why}: access"
    );
    assert_eq!(
        introspect(server, DEMO, refresh_token),
        inactive(),
        "{why}: refresh"
    );
    assert_eq!(userinfo(server, &tokens), 401, "{why}: /userinfo");
}

/// An active token's answer (RFC 7662 2.2, with the session's `sid` and current `idle_exp`), for
/// the client it was issued to and for a resource server; anyone else learns nothing.
fn introspection_tells_the_issuing_client_and_resource_servers_only(db: Db) {
    let server = server(db, "30m");
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    let body = introspect(&server, API, access);
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    let session = server
        .rt
        .idp
        .session_by_id(sid_of(&tokens).as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "active": true,
            "sub": user.id,
            "client_id": "demo",
            "scope": claims["scope"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": server.base,
            "aud": "demo",
            "token_type": "Bearer",
            "sid": session.id,
            "idle_exp": session.idle_expires_at,
        })
    );
    assert_eq!(
        introspect(&server, DEMO, access),
        body,
        "the issuing client"
    );
    // A refresh token never belongs at an API: a resource server learns nothing of it.
    assert_eq!(introspect(&server, API, refresh_token), inactive());
    let refreshed = introspect(&server, DEMO, refresh_token);
    assert_eq!(refreshed["active"], true);
    assert_eq!(refreshed["token_type"], "refresh_token");
    assert_eq!(refreshed["sub"], user.id.as_str());
    assert_eq!(refreshed["exp"], session.expires_at);
    assert_eq!(refreshed["sid"], session.id.as_str());
    // Another app, the same app's wrong token kind, garbage: nothing.
    assert_eq!(introspect(&server, CRM, access), inactive(), "another app");
    assert_eq!(introspect(&server, CRM, refresh_token), inactive());
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        introspect(&server, API, id_token),
        inactive(),
        "an ID token"
    );
    assert_eq!(introspect(&server, API, "not-a-token"), inactive());
    // A rotated refresh token is spent: inactive, while the new one is active.
    let (status, rotated) = refresh(&server, "demo", &tokens);
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(introspect(&server, DEMO, refresh_token), inactive());
    let new_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&server, DEMO, new_refresh)["active"], true);
    // Client authentication is that of /token: wrong secret, a public client, nobody.
    let (status, body) = call(
        &server,
        "/introspect",
        ("api", "wrong"),
        &[("token", access)],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let res = http()
        .post(server.url("/introspect"))
        .form(&[("token", access), ("client_id", "spa")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 401, "a public client cannot introspect");
    let res = http()
        .post(server.url("/introspect"))
        .form(&[("token", access)])
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
    let (status, body) = call(&server, "/introspect", API, &[]);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // A resource server has no grant of its own.
    let (status, body) = call(
        &server,
        "/token",
        API,
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

on_both_backends!(
    a_token_is_inactive_as_soon_as_its_session_ends_for_any_reason,
    introspection_tells_the_issuing_client_and_resource_servers_only,
);
