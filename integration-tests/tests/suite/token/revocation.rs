//! Revocation (RFC 7009): a client ends its own grant and nothing else.

use serde_json::Value;

use super::introspection::{call, inactive, introspect, server, API, CRM, DEMO};
use crate::apps::{demo_tokens, redeem, refresh, userinfo};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{http, seed, SecondFactor};

/// RFC 7009: a client revokes its own refresh or access token (its grant ends: refresh and
/// access tokens alike, the session and other apps go on); an unknown, spent or foreign token
/// answers 200 and changes nothing; hints are only hints; a public client revokes by client_id.
fn a_client_revokes_its_own_tokens_and_nothing_else(db: Db) {
    let server = server(db, "30m");
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    let access = tokens["access_token"].as_str().unwrap();
    // The CRM signs in through the same session.
    let sso = browser.get(&crate::apps::authorize_url(&server, "crm", 8083));
    let crm = redeem(&server, "crm", 8083, &sso.location_param("code").unwrap());
    // Foreign, unknown and empty-handed revocations change nothing.
    for (client, token, hint) in [
        (CRM, access, "access_token"),
        (
            CRM,
            tokens["refresh_token"].as_str().unwrap(),
            "refresh_token",
        ),
        (DEMO, "no-such-token", "refresh_token"),
        (API, access, "access_token"),
    ] {
        let (status, body) = call(
            &server,
            "/revoke",
            client,
            &[("token", token), ("token_type_hint", hint)],
        );
        assert_eq!((status, &body), (200, &Value::Null), "{client:?}");
    }
    assert_eq!(introspect(&server, API, access)["active"], true);
    // The access token with a wrong hint: the grant ends (refresh token too), the CRM's does not.
    let (status, _) = call(
        &server,
        "/revoke",
        DEMO,
        &[("token", access), ("token_type_hint", "refresh_token")],
    );
    assert_eq!(status, 200);
    assert_eq!(introspect(&server, API, access), inactive());
    assert_eq!(refresh(&server, "demo", &tokens).0, 400, "the whole grant");
    assert_eq!(userinfo(&server, &tokens), 401);
    let (status, crm) = refresh(&server, "crm", &crm);
    assert_eq!(status, 200, "the session and its other apps go on: {crm}");
    let revoked = server
        .rt
        .idp
        .audit_recent(50)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "oauth.token_revoked")
        .count();
    assert_eq!(revoked, 1, "one grant ended, one event");
    // Bad requests answer as RFC 6749 5.2 says.
    let (status, body) = call(&server, "/revoke", DEMO, &[]);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = call(&server, "/revoke", ("demo", "wrong"), &[("token", "x")]);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let res = http().get(server.url("/revoke")).send().unwrap();
    assert_eq!(res.status(), 405);
    // A public client revokes its own token by client_id alone.
    let res = http()
        .post(server.url("/revoke"))
        .form(&[("token", "whatever"), ("client_id", "spa")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    // Discovery names both endpoints.
    let doc: Value = http()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["revocation_endpoint"], server.url("/revoke"));
    assert_eq!(doc["introspection_endpoint"], server.url("/introspect"));
    assert!(doc["revocation_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&"none".into()));
}

on_both_backends!(a_client_revokes_its_own_tokens_and_nothing_else);
