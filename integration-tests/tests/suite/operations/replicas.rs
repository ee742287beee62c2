//! Two replicas on one PostgreSQL database: every piece of state (sessions, codes, refresh tokens,
//! keys, TOTP steps) lives in the database, so any replica can continue what another started.

use std::sync::{Arc, Barrier};

use serde_json::Value;

use crate::harness::*;
use crate::rp::{http, seed, sign_in, SecondFactor};

fn token(server: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(form)
        .send()
        .unwrap();
    (res.status().as_u16(), res.json().unwrap_or(Value::Null))
}

fn redeem(server: &TestServer, code: &str) -> (u16, Value) {
    token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
            ("code_verifier", VERIFIER),
        ],
    )
}

/// Two servers sharing one database and one master key.
fn pair(options: Options) -> Option<(TestServer, TestServer, tempfile::TempDir)> {
    if !postgres_available() {
        return None;
    }
    let keys = tempfile::tempdir().unwrap();
    let options = Options {
        key_dir: Some(keys.path().join("keys")),
        ..options
    };
    let a = TestServer::start_with(Db::Postgres, options.clone());
    // Behind one load balancer both answer for the same issuer.
    let b = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        &a.db_url,
        Options {
            issuer: Some(a.base.clone()),
            ..options
        },
    );
    Some((a, b, keys))
}

#[test]
fn a_sign_in_continues_on_the_other_replica_and_logout_ends_it_everywhere() {
    let Some((a, b, _keys)) = pair(Options::default()) else {
        return;
    };
    seed(&a, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let signed = sign_in(
        &a,
        &browser,
        &a.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let code = signed.callback.location_param("code").unwrap();
    // Redeem on B, refresh on A.
    let (s, first) = redeem(&b, &code);
    assert_eq!(s, 200, "{first}");
    let (s, second) = token(
        &a,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    );
    assert_eq!(s, 200, "{second}");
    // The signing keys are shared: B's JWKS publishes A's kids.
    let ja: Value = http().get(a.url("/jwks")).send().unwrap().json().unwrap();
    let jb: Value = http().get(b.url("/jwks")).send().unwrap().json().unwrap();
    assert_eq!(ja, jb);
    // End the session on B (cookies on 127.0.0.1 go to both ports, as behind one load balancer).
    let confirm = browser.get(&b.url("/end_session"));
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let out = browser.post(&b.url("/end_session"), &[("csrf", &confirm.csrf())]);
    assert_eq!(out.status, 200);
    assert!(out.body.contains("signed out"), "{}", out.body);
    let live = second["refresh_token"].as_str().unwrap();
    for server in [&a, &b] {
        let (s, v) = token(
            server,
            &[("grant_type", "refresh_token"), ("refresh_token", live)],
        );
        assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    }
    let page = browser.follow(&a.base, browser.get(&a.demo_authorize_url()));
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "A asks for the password again"
    );
}

#[test]
fn the_same_code_redeemed_on_both_replicas_at_once_succeeds_once() {
    let Some((a, b, _keys)) = pair(Options::default()) else {
        return;
    };
    seed(&a, "acme", "ann@example.com", false);
    let a = Arc::new(a);
    let b = Arc::new(b);
    for _ in 0..5 {
        let browser = Browser::new();
        let code = sign_in(
            &a,
            &browser,
            &a.demo_authorize_url(),
            "ann@example.com",
            SecondFactor::None,
            None,
        )
        .callback
        .location_param("code")
        .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|server| {
                let (code, barrier) = (code.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    redeem(&server, &code).0
                })
            })
            .collect();
        let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 400).count(),
            1,
            "{statuses:?}"
        );
    }
}

#[test]
fn a_totp_code_used_on_one_replica_is_refused_on_the_other() {
    let Some((a, b, _keys)) = pair(Options::default()) else {
        return;
    };
    seed(&a, "acme", "ann@example.com", true);
    let signed = sign_in(
        &a,
        &Browser::new(),
        &a.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    let secret = signed.activation_code.unwrap();
    // Use the next step's code on A, then try the same code on B.
    let code = oathtool(&secret, 30);
    for (server, expect_ok) in [(&a, true), (&b, false)] {
        let browser = Browser::new();
        let page = browser.follow(&server.base, browser.get(&server.demo_authorize_url()));
        let page = browser.follow(
            &server.base,
            post_password(server, &browser, &page, "ann@example.com", PASSWORD),
        );
        let res = browser.post(
            &server.url("/login/totp"),
            &[("csrf", &page.csrf()), ("code", &code)],
        );
        if expect_ok {
            assert_eq!(res.status, 303, "{}", res.body);
        } else {
            assert_eq!(res.status, 401, "replayed on the other replica");
            assert!(res.body.contains("already been used"), "{}", res.body);
        }
    }
}

/// Both replicas sweep the one database: each expired session is ended by exactly one of them,
/// so the app receives exactly one logout token per session, not one per replica.
#[test]
fn both_replicas_sweep_and_each_app_is_told_once_per_session() {
    let app = Recorder::start();
    let Some((a, b, _keys)) = pair(Options {
        idle_timeout: "3s",
        sweep_interval: "1s",
        backchannel_logout_uri: Some(app.url.clone()),
        ..Options::default()
    }) else {
        return;
    };
    seed(&a, "acme", "ann@example.com", false);
    let mut sids = Vec::new();
    for i in 0..6 {
        // Sessions started on either replica.
        let server = if i % 2 == 0 { &a } else { &b };
        let browser = Browser::new();
        let code = sign_in(
            server,
            &browser,
            &server.demo_authorize_url(),
            "ann@example.com",
            SecondFactor::None,
            None,
        )
        .callback
        .location_param("code")
        .unwrap();
        let (s, tokens) = redeem(server, &code);
        assert_eq!(s, 200, "{tokens}");
        sids.push(crate::apps::sid_of(&tokens));
    }
    let told = app.logout_tokens(
        std::time::Duration::from_secs(15),
        std::time::Duration::from_secs(4),
    );
    let mut got: Vec<String> = told
        .iter()
        .map(|t| {
            crate::rp::jwt_claims(t)["sid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = sids
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(got, want, "exactly one logout token per session");
}
