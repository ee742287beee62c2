//! `/token`'s grants: an authorization code is single-use (a replay revokes what it gave) and
//! checked against its PKCE verifier; a refresh token rotates (reuse revokes the chain), belongs
//! to its app, and may narrow the scope.

use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn code_is_single_use_and_replay_revokes_tokens(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let code = signed_in_code(&server, &browser);
    let (status, first) = exchange(&server, &code);
    assert_eq!(status, 200, "{first}");
    let (status, again) = exchange(&server, &code);
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_grant");
    let (status, r) = refresh(&server, first["refresh_token"].as_str().unwrap());
    assert_eq!(
        status, 400,
        "the replay revoked the first redemption's tokens: {r}"
    );
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status(), 401, "and its access token");
}

fn pkce_verifier_is_checked(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let code = signed_in_code(&server, &Browser::new());
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "missing verifier"
    );
    let code = signed_in_code(&server, &Browser::new());
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
            ("code_verifier", &"a".repeat(43)),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let code = signed_in_code(&server, &Browser::new());
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback/"),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "other redirect_uri"
    );
}

fn refresh_reuse_revokes_the_chain(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let (_, tokens) = exchange(&server, &signed_in_code(&server, &browser));
    let r0 = tokens["refresh_token"].as_str().unwrap();
    // RFC 6749 section 6: a scope beyond the grant is refused and does not spend the token...
    let widen = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r0),
        ("scope", "openid email profile"),
    ];
    let (s, v, _) = token_call(&server, &widen);
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_scope")),
        "{v}"
    );
    // ...and a narrower one applies to the tokens of that response.
    let narrow = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r0),
        ("scope", "openid"),
    ];
    let (s, v, _) = token_call(&server, &narrow);
    assert_eq!(s, 200, "the refused request left the token usable: {v}");
    assert_eq!(v["scope"], "openid");
    assert_eq!(
        jwt_claims(v["access_token"].as_str().unwrap())["scope"],
        "openid"
    );
    assert!(jwt_claims(v["id_token"].as_str().unwrap())["email"].is_null());
    let r1 = v["refresh_token"].as_str().unwrap().to_string();
    let (s, t2) = refresh(&server, &r1);
    assert_eq!(s, 200, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    let (s, v) = refresh(&server, &r1);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = refresh(&server, &r2);
    assert_eq!(s, 400, "reuse of an old token revoked the newest one too");
}

/// A refresh token is bound to its app: presented by another one (here the public `spa`) it is
/// refused, and since it has leaked its grant is revoked (RFC 9700 4.14.2), as
/// docs/relying-parties.md says: the owning app's next refresh fails too.
fn a_refresh_token_presented_by_another_app_is_refused_and_revokes_its_grant(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let tokens = sign_in_tokens(&server, &Browser::new(), "ann@example.com");
    let token = tokens["refresh_token"].as_str().unwrap();
    let res = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", token),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let (status, again) = refresh(&server, token);
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );
}

/// A refresh may narrow the scope (RFC 6749 6); narrowed to leave out `openid`, the answer is an
/// OAuth access token only (OIDC Core 12.2: no ID token), and /userinfo refuses it with
/// `insufficient_scope` (RFC 6750 3.1), as it refuses any token not issued for OpenID Connect.
fn an_access_token_without_openid_gets_no_id_token_and_no_userinfo(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let tokens = sign_in_tokens(&server, &Browser::new(), "ann@example.com");
    let (status, narrowed, _) = token_call(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "email"),
        ],
    );
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "email");
    assert!(narrowed.get("id_token").is_none(), "{narrowed}");
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth(narrowed["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    let challenge = header(&res, "www-authenticate").unwrap_or_default();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
}

on_both_backends!(
    code_is_single_use_and_replay_revokes_tokens,
    pkce_verifier_is_checked,
    refresh_reuse_revokes_the_chain,
    a_refresh_token_presented_by_another_app_is_refused_and_revokes_its_grant,
    an_access_token_without_openid_gets_no_id_token_and_no_userinfo,
);
