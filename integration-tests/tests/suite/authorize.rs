//! `/authorize`: the request's checks (exact redirect URIs, errors back to the app with `state`
//! and `iss`, PKCE), `max_age` and `id_token_hint` deciding whether the browser's session serves
//! the request, and the sign-ins started per address.

use serde_json::Value;

use crate::apps::client_toml;
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn redirect_uri_must_match_exactly(db: Db) {
    let server = TestServer::start(db);
    let browser = Browser::new();
    for bad in [
        "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback%2Fextra",
        "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback%2F",
        "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback%3Fx%3D1",
        "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback%23frag",
        "http%3A%2F%2F127.0.0.1%3A9999%2Fcallback",
        "https%3A%2F%2F127.0.0.1%3A8081%2Fcallback",
        "http%3A%2F%2Fevil%40127.0.0.1%3A8081%2Fcallback",
        "http%3A%2F%2F127.0.0.1.%3A8081%2Fcallback",
        "http%3A%2F%2F127.0.0.1%3A8081%2F%2563allback",
        "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback%00",
        "HTTP%3A%2F%2F127.0.0.1%3A8081%2Fcallback",
        "javascript%3Aalert(1)",
        "http%3A%2F%2F127.0.0.1%3A8082%2Fcallback",
    ] {
        let url = format!(
            "{}?client_id=demo&redirect_uri={bad}&response_type=code&scope=openid&state=x",
            server.url("/authorize")
        );
        let page = browser.get(&url);
        assert_eq!(page.status, 400, "{bad}");
        assert!(
            page.location.is_none(),
            "never redirect to an unregistered URI: {bad}"
        );
        assert!(
            page.body.contains("This sign-in link is not valid"),
            "{}",
            page.body
        );
    }
    let page = browser.get(&format!(
        "{}?client_id=nobody&redirect_uri={CB}&response_type=code&scope=openid",
        server.url("/authorize")
    ));
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    let page = browser.get(&format!(
        "{}?client_id=demo&client_id=demo&redirect_uri={CB}&response_type=code&scope=openid",
        server.url("/authorize")
    ));
    assert_eq!(page.status, 400, "duplicate parameters are refused");
}

fn later_errors_go_back_to_the_app_with_state_and_iss(db: Db) {
    let server = TestServer::start(db);
    let browser = Browser::new();
    let base = format!(
        "{}?client_id=demo&redirect_uri={CB}&state=st",
        server.url("/authorize")
    );
    for (query, error) in [
        ("&response_type=code&scope=email", "invalid_scope"),
        ("&response_type=token&scope=openid", "unsupported_response_type"),
        ("&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain", "invalid_request"),
        ("&response_type=code&scope=openid&prompt=none&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", "login_required"),
        // RFC 9700: PKCE for confidential clients too.
        ("&response_type=code&scope=openid", "invalid_request"),
        ("&response_type=code&scope=openid&request=eyJ", "request_not_supported"),
        ("&response_type=code&scope=openid&max_age=-1", "invalid_request"),
    ] {
        let page = browser.get(&format!("{base}{query}"));
        assert_eq!(page.status, 302, "{query}: {}", page.body);
        assert!(page.location.as_ref().unwrap().starts_with("http://127.0.0.1:8081/callback?"));
        assert_eq!(page.location_param("error").as_deref(), Some(error), "{query}");
        assert_eq!(page.location_param("state").as_deref(), Some("st"));
        assert_eq!(page.location_param("iss").as_deref(), Some(server.base.as_str()));
    }
    // A public client must use PKCE.
    let page = browser.get(&format!("{}?client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A8082%2Fcallback&response_type=code&scope=openid", server.url("/authorize")));
    assert_eq!(
        page.location_param("error").as_deref(),
        Some("invalid_request")
    );
}

/// `max_age=0` always asks for the password again (OIDC Core 3.1.2.1); a larger one reuses a
/// young enough session.
fn max_age_zero_always_asks_for_the_password(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let now = browser.get(&format!("{}&max_age=0", server.demo_authorize_url()));
    assert_eq!(
        (now.status, now.location.as_deref()),
        (303, Some("/login")),
        "to the sign-in page, no code without the password"
    );
    let page = browser.follow(&server.base, now);
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "{}",
        page.body
    );
    let young = browser.get(&format!("{}&max_age=3600", server.demo_authorize_url()));
    assert!(
        young.location_param("code").is_some(),
        "{:?}",
        young.location
    );
}

/// PKCE is required of confidential clients too (RFC 9700), unless a legacy app is configured
/// with `require_pkce = false`.
fn pkce_is_required_unless_a_client_opts_out(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: client_toml("legacy", 8084, "require_pkce = false"),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let without = |client: &str, port: u16| {
        format!(
            "{}?client_id={client}&redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback&response_type=code&scope=openid&state=s",
            server.url("/authorize")
        )
    };
    let refused = Browser::new().get(&without("demo", 8081));
    assert_eq!(
        refused.location_param("error").as_deref(),
        Some("invalid_request")
    );
    let browser = Browser::new();
    let signed = sign_in(
        &server,
        &browser,
        &without("legacy", 8084),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let res = http()
        .post(server.url("/token"))
        .basic_auth("legacy", Some(DEMO_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            (
                "code",
                signed.callback.location_param("code").unwrap().as_str(),
            ),
            ("redirect_uri", "http://127.0.0.1:8084/callback"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Sign-ins started per client address are limited (each stores a login flow): the table cannot be
/// filled by one address. The limit is `[server] sign_ins_per_minute`; its default lets a company
/// behind one NAT address sign in at the start of the day (400 within a minute here).
fn sign_ins_started_per_address_are_limited(db: Db) {
    let starts = |server: &TestServer, n: usize| -> Vec<u16> {
        let client = http();
        (0..n)
            .map(|_| {
                client
                    .get(server.demo_authorize_url())
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
            .collect()
    };
    let office = TestServer::start(db);
    let answers = starts(&office, 400);
    assert!(answers.iter().all(|s| *s == 303), "{answers:?}");
    drop(office);

    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: "\n[server]\nsign_ins_per_minute = 50\n".into(),
            ..Options::default()
        },
    );
    let answers = starts(&server, 51);
    assert!(answers[..50].iter().all(|s| *s == 303), "{answers:?}");
    assert_eq!(answers[50], 429);
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

on_both_backends!(
    redirect_uri_must_match_exactly,
    later_errors_go_back_to_the_app_with_state_and_iss,
    max_age_zero_always_asks_for_the_password,
    pkce_is_required_unless_a_client_opts_out,
    sign_ins_started_per_address_are_limited,
    an_id_token_hint_at_authorize_names_the_user_the_session_must_be,
);
