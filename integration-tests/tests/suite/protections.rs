//! A negative test for every protection of the pages and the authorize endpoint: exact redirect
//! URIs, error routing, CSRF, no skipping the code step, the idle window, enumeration-safe
//! sign-in, the security headers and the metrics. The token endpoint's are in token_endpoint.rs.

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

fn forms_require_their_csrf_token(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", "forged"),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 403);
    assert!(res
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("idp_session=")));
    let res = browser.post(
        &server.url("/login/password"),
        &[("email", "ann@example.com"), ("password", PASSWORD)],
    );
    assert_eq!(res.status, 403, "missing token");
    // Another browser (no flow cookie) cannot use this page's token.
    let other = Browser::new();
    let res = other.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 400);
    // The right token works.
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 303);
}

fn the_code_step_cannot_be_skipped(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(
        res.location.as_deref(),
        Some("/login"),
        "on to the MFA step, not to the app"
    );
    assert!(
        res.headers
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("idp_session=")),
        "no session before the code"
    );
    let enroll = browser.get(&server.url("/login"));
    assert!(enroll.body.contains("<svg"));
    // Going back to the app: still no session.
    let again = browser.get(&authorize_url(&server, "&prompt=none"));
    assert_eq!(
        again.location_param("error").as_deref(),
        Some("login_required")
    );
    // A wrong code does not complete the sign-in; posting the password form again does not either.
    let res = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &enroll.csrf()), ("code", "000000")],
    );
    assert_eq!(res.status, 401);
    assert!(res.location.is_none());
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &enroll.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    // Back to the sign-in page (which still asks for the code), not on to the app with a code.
    assert_eq!((res.status, res.location.as_deref()), (303, Some("/login")));
    assert!(res
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("idp_session=")));
    let still = browser.get(&server.url("/login"));
    assert!(still.body.contains("<svg"), "the enrollment step again");
    let res = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &enroll.csrf()), ("code", "12ab56")],
    );
    assert_eq!(res.status, 400, "format errors are explained");
    assert!(res.body.contains("6-digit"));
}

fn the_idle_window_ends_the_session(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            idle_timeout: "3s",
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let (_, tokens) = exchange(&server, &signed_in_code(&server, &browser));
    let idle_exp = jwt_claims(tokens["id_token"].as_str().unwrap())["idle_exp"]
        .as_i64()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (s, t2) = refresh(&server, tokens["refresh_token"].as_str().unwrap());
    assert_eq!(s, 200, "a refresh inside the window succeeds");
    assert!(
        jwt_claims(t2["access_token"].as_str().unwrap())["idle_exp"]
            .as_i64()
            .unwrap()
            > idle_exp,
        "and moves idle_exp"
    );
    std::thread::sleep(std::time::Duration::from_secs(5));
    let (s, v) = refresh(&server, t2["refresh_token"].as_str().unwrap());
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "after the window: {v}"
    );
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "authorize asks for the password again"
    );
}

fn sign_in_answers_alike_for_unknown_email_and_wrong_password(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let mut answers = Vec::new();
    for (email, password) in [
        ("ann@example.com", "not the right password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let browser = Browser::new();
        let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
        let res = browser.post(
            &server.url("/login/password"),
            &[
                ("csrf", &page.csrf()),
                ("email", email),
                ("password", password),
            ],
        );
        let error = res.by_id("form-error").unwrap();
        answers.push((res.status, error));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 401);
}

/// A lockout's page says when to come back (`Retry-After`), as the other 429s do.
#[test]
fn a_locked_out_sign_in_says_when_to_come_back() {
    let server = TestServer::start(Db::Sqlite);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    let statuses: Vec<_> = (0..6)
        .map(|_| {
            post_password(
                &server,
                &browser,
                &page,
                "ann@example.com",
                "not the password",
            )
        })
        .collect();
    let locked = statuses.last().unwrap();
    assert_eq!(locked.status, 429, "{}", locked.body);
    let after: i64 = locked
        .headers
        .get("retry-after")
        .expect("a Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&after), "{after}");
}

fn pages_carry_security_headers(db: Db) {
    let server = TestServer::start(db);
    let browser = Browser::new();
    let page = browser.follow(
        &server.base,
        browser.get(&authorize_url(&server, "&login_hint=ann%40example.com")),
    );
    assert_eq!(
        page.input("email").as_deref(),
        Some("ann@example.com"),
        "login_hint prefills the email"
    );
    let h = |name: &str| {
        page.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(!h("content-security-policy").contains("unsafe-inline"));
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("cache-control"), "no-store");
    assert!(page.body.contains("autocomplete=\"username\""));
    let health = http().get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    let ready = http().get(server.url("/readyz")).send().unwrap();
    assert_eq!(ready.status(), 200);
}

fn metrics_count_requests_and_outcomes(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    signed_in_code(&server, &browser);
    let res = http().get(server.url("/metrics")).send().unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = res.text().unwrap();
    assert!(
        text.contains(r#"idp_signins_total{outcome="password_ok"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"idp_http_requests_total{method="GET",route="/authorize",status="303"}"#),
        "{text}"
    );
    assert!(
        text.contains("idp_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains("ann@example.com"),
        "no personal data in metrics"
    );
}

/// A browser that keeps no cookies gets the sign-in page, not a redirect to itself for ever
/// (each round of which started a sign-in), and its form then says the sign-in expired.
#[test]
fn the_sign_in_page_needs_no_round_trip_to_itself() {
    let server = TestServer::start(Db::Sqlite);
    let cookieless = http();
    let res = cookieless.get(server.url("/login")).send().unwrap();
    assert_eq!(res.status(), 200, "the page at once");
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("idp_flow=")));
    let body = res.text().unwrap();
    assert!(body.contains("autocomplete=\"current-password\""), "{body}");
    let csrf = Page {
        status: 200,
        location: None,
        headers: Default::default(),
        body,
    }
    .csrf();
    let res = cookieless
        .post(server.url("/login/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "a@example.com"),
            ("password", "x"),
        ])
        .send()
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(res.text().unwrap().contains("expired"));
}

on_both_backends!(
    metrics_count_requests_and_outcomes,
    redirect_uri_must_match_exactly,
    later_errors_go_back_to_the_app_with_state_and_iss,
    forms_require_their_csrf_token,
    the_code_step_cannot_be_skipped,
    the_idle_window_ends_the_session,
    sign_in_answers_alike_for_unknown_email_and_wrong_password,
    pages_carry_security_headers,
);
