//! What relying parties and browsers expect at the edges of the protocol, each found missing by
//! a black-box review: CORS for apps that call the token endpoint and /userinfo from script, an
//! `id_token_hint` honoured at /authorize and checked against `client_id` at /end_session, no ID
//! token or userinfo for an access token without `openid`, and request metrics whose labels a
//! caller cannot multiply.

use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

const SPA_ORIGIN: &str = "http://127.0.0.1:8082";

fn header(res: &reqwest::blocking::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// A browser-based app's script may call the token endpoint and /userinfo (Fetch standard CORS;
/// OAuth 2.0 for Browser-Based Apps): the preflight is answered for the headers those calls
/// send, and the answers, errors included, may be read by the page. Cookies are never part of
/// it: no `Access-Control-Allow-Credentials`.
#[test]
fn a_browser_app_may_call_the_token_endpoint_and_userinfo_from_script() {
    let server = TestServer::start(Db::Sqlite);
    seed(&server, "acme", "ann@example.com", false);
    for (path, method, asked) in [
        ("/token", "POST", "content-type"),
        ("/userinfo", "GET", "authorization"),
        ("/userinfo", "POST", "authorization, content-type"),
    ] {
        let res = http()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("Origin", SPA_ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", asked)
            .send()
            .unwrap();
        assert!(
            res.status().is_success(),
            "preflight of {method} {path}: {}",
            res.status()
        );
        let origin = header(&res, "access-control-allow-origin");
        assert!(
            origin.as_deref() == Some("*") || origin.as_deref() == Some(SPA_ORIGIN),
            "{path}: {origin:?}"
        );
        let methods = header(&res, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains(method), "{path}: {methods}");
        let headers = header(&res, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for h in asked.split(", ") {
            assert!(headers.contains(h), "{path} allows {h}: {headers}");
        }
        assert_eq!(header(&res, "access-control-allow-credentials"), None);
    }

    // The answers themselves: a token error the app must be able to read, and userinfo.
    let res = http()
        .post(server.url("/token"))
        .header("Origin", SPA_ORIGIN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", "nope"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(header(&res, "access-control-allow-origin").is_some());
    let code = signed_in_code(&server, &Browser::new());
    let (status, tokens) = exchange(&server, &code);
    assert_eq!(status, 200, "{tokens}");
    let res = http()
        .get(server.url("/userinfo"))
        .header("Origin", SPA_ORIGIN)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "access-control-allow-origin").is_some());
    assert_eq!(header(&res, "access-control-allow-credentials"), None);

    // The pages keep no CORS: a script elsewhere may not read them.
    let res = http()
        .get(server.url("/login"))
        .header("Origin", SPA_ORIGIN)
        .send()
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}

/// `/metrics` labels requests by method and route; a caller sending made-up methods must not
/// add a series per method (each one is kept for the life of the process).
#[test]
fn made_up_methods_do_not_multiply_the_request_metrics() {
    let server = TestServer::start(Db::Sqlite);
    let client = http();
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("XMETHOD{i}").as_bytes()).unwrap();
        let res = client.request(method, server.url("/jwks")).send().unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        !metrics.contains("XMETHOD"),
        "one series per made-up method"
    );
    assert!(
        metrics.contains("method=\"other\""),
        "counted under one label: {metrics}"
    );
}

/// RFC 9110 9.3.2: HEAD answers as GET does, without the body, for what caches and monitors
/// ask about (it was a 404).
#[test]
fn discovery_jwks_and_health_answer_head() {
    let server = TestServer::start(Db::Sqlite);
    for path in [
        "/.well-known/openid-configuration",
        "/jwks",
        "/healthz",
        "/static/style.css",
    ] {
        let get = http().get(server.url(path)).send().unwrap();
        let head = http().head(server.url(path)).send().unwrap();
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(
            header(&head, "content-type"),
            header(&get, "content-type"),
            "{path}"
        );
        assert!(head.bytes().unwrap().is_empty(), "{path}: no body");
    }
}

fn sign_in_tokens(server: &TestServer, browser: &Browser, email: &str) -> Value {
    let signed = sign_in(
        server,
        browser,
        &authorize_url(server, ""),
        email,
        SecondFactor::None,
        None,
    );
    let (status, tokens) = exchange(server, &signed.callback.location_param("code").unwrap());
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// OIDC Core 3.1.2.1: with an `id_token_hint`, the browser's session serves the request only
/// when it is the hinted user's; otherwise `prompt=none` gets `login_required` (and without
/// `prompt=none` the user signs in). A hint this provider did not issue is refused.
fn an_id_token_hint_at_authorize_names_the_user_the_session_must_be(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "acme", "bob@example.com", false);
    let ann = Browser::new();
    let ann_tokens = sign_in_tokens(&server, &ann, "ann@example.com");
    let bob_tokens = sign_in_tokens(&server, &Browser::new(), "bob@example.com");
    let hint = |t: &Value| {
        format!(
            "&prompt=none&id_token_hint={}",
            t["id_token"].as_str().unwrap()
        )
    };

    let res = ann.get(&authorize_url(&server, &hint(&bob_tokens)));
    assert_eq!(res.status, 302, "back to the app: {}", res.body);
    assert_eq!(
        res.location_param("error").as_deref(),
        Some("login_required")
    );
    assert_eq!(res.location_param("code"), None);

    let res = ann.get(&authorize_url(&server, &hint(&ann_tokens)));
    assert!(res.location_param("code").is_some(), "{:?}", res.location);

    let res = ann.get(&authorize_url(
        &server,
        "&prompt=none&id_token_hint=not.a.token",
    ));
    assert_eq!(
        res.location_param("error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(res.location_param("state").as_deref(), Some("st"));

    // A hint signed by a key the provider no longer has (retired long ago) names nobody it can
    // vouch for: the session does not serve it, and the app hears `login_required` as for a
    // signed-out user (OIDC Core 3.1.2.6), not an error it cannot act on.
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let retired = format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "a-key-retired-long-ago"})),
        b64(
            &serde_json::json!({"iss": server.base, "sub": "someone", "aud": "demo", "exp": 1, "iat": 1})
        )
    );
    let res = ann.get(&authorize_url(
        &server,
        &format!("&prompt=none&id_token_hint={retired}"),
    ));
    assert_eq!(
        res.location_param("error").as_deref(),
        Some("login_required"),
        "{:?}",
        res.location
    );
    assert_eq!(res.location_param("code"), None);

    // Without prompt=none a mismatched hint asks for a sign-in instead of reusing ann's session.
    let res = ann.get(&authorize_url(
        &server,
        &format!(
            "&id_token_hint={}",
            bob_tokens["id_token"].as_str().unwrap()
        ),
    ));
    assert!(
        res.location
            .as_deref()
            .is_some_and(|l| l.ends_with("/login")),
        "to the sign-in page: {:?}",
        res.location
    );
    // And signing in there as someone else than the hinted user gets the app no code for them
    // (OIDC Core 3.1.2.1): `login_required`, with the app's state.
    let bob_hint = format!(
        "&id_token_hint={}",
        bob_tokens["id_token"].as_str().unwrap()
    );
    let signed = sign_in(
        &server,
        &Browser::new(),
        &authorize_url(&server, &bob_hint),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    assert_eq!(
        signed.callback.location_param("error").as_deref(),
        Some("login_required")
    );
    assert_eq!(signed.callback.location_param("code"), None);
    assert_eq!(
        signed.callback.location_param("state").as_deref(),
        Some("st")
    );
}

/// RP-Initiated Logout 1.0 section 2: with both `client_id` and `id_token_hint`, the OP must
/// verify the hint was issued to that client. A hint that was not is not trusted: the browser is
/// asked to confirm, and its session lives until it does.
fn end_session_trusts_no_hint_issued_to_another_client(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = sign_in_tokens(&server, &browser, "ann@example.com");
    let page = browser.get(&format!(
        "{}?id_token_hint={}&client_id=spa&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8082%2F",
        server.url("/end_session"),
        tokens["id_token"].as_str().unwrap()
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.input("csrf").is_some(),
        "a confirmation form: {}",
        page.body
    );
    let (status, r) = refresh(&server, tokens["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200, "the session lives: {r}");
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

on_both_backends!(
    a_refresh_token_presented_by_another_app_is_refused_and_revokes_its_grant,
    an_id_token_hint_at_authorize_names_the_user_the_session_must_be,
    end_session_trusts_no_hint_issued_to_another_client,
    an_access_token_without_openid_gets_no_id_token_and_no_userinfo,
);
