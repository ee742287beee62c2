//! The second promise, "after 30 minutes of inactivity you are logged out" of every app, and
//! the first, "MFA for every user of the account", at the session level: sessions end by
//! themselves and every app is told (durably, with retries); turning MFA on, an operator's
//! password reset and the defence in depth end or refuse what must not live on.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;

use crate::apps::{
    authorize_url, crm_client, demo_tokens, redeem, refresh, sid_of, userinfo, verified_logout,
};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{http, jwt_claims, seed, SecondFactor};

fn metric(server: &TestServer, line_start: &str) -> f64 {
    let text = http()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// A session nobody uses ends by itself at its idle expiry, at most `sweep_interval` late, and
/// every app that holds a grant in it gets a back-channel logout token (before, an idle session
/// was only refused at its next refresh; an app with its own session cookie never learnt).
fn an_idle_session_ends_by_itself_and_every_app_is_told(db: Db) {
    let demo = Recorder::start();
    let crm = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            idle_timeout: "3s",
            sweep_interval: "1s",
            backchannel_logout_uri: Some(demo.url.clone()),
            extra_toml: crm_client(&crm.url),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    let sid = sid_of(&tokens);
    // The CRM joins the same session (SSO: activity, which slides it), then nobody does anything.
    let sso = browser.get(&authorize_url(&server, "crm", 8083));
    let crm_tokens = redeem(&server, "crm", 8083, &sso.location_param("code").unwrap());
    assert_eq!(sid_of(&crm_tokens), sid);
    let idle_exp = jwt_claims(crm_tokens["id_token"].as_str().unwrap())["idle_exp"]
        .as_i64()
        .unwrap();
    for (recorder, client) in [(&demo, "demo"), (&crm, "crm")] {
        let got = recorder.logout_tokens(Duration::from_secs(10), Duration::from_secs(2));
        assert_eq!(got.len(), 1, "{client}: one logout token");
        let claims = verified_logout(&server, &got[0], client);
        assert_eq!(claims["sid"], sid);
        let sent = claims["iat"].as_i64().unwrap();
        assert!(
            sent >= idle_exp && sent <= idle_exp + 5,
            "{client}: told at {sent}, idle expiry {idle_exp}"
        );
    }
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(server.rt.idp.live_sessions(&user.id).unwrap().is_empty());
    let stored = server
        .rt
        .idp
        .session_by_id(sid.as_str().unwrap())
        .unwrap()
        .unwrap();
    assert!(stored.ended_at.is_some(), "marked ended in the database");
    assert_eq!(refresh(&server, "demo", &tokens).0, 400);
    assert!(metric(&server, "idp_backchannel_logouts_total{outcome=\"sent\"}") >= 2.0);
    assert!(metric(&server, "idp_sessions_expired_total") >= 1.0);
    assert!(
        metric(&server, "idp_sweep_duration_seconds_count") >= 1.0,
        "every pass of the sweeper is timed"
    );
}

/// An app that is down when its logout is due gets it later: the failure is retried with
/// backoff from the durable outbox, by whichever server runs then (here a new one: the first
/// was stopped meanwhile, as by a restart or a crash).
fn a_failed_logout_is_retried_even_after_a_restart(db: Db) {
    let app = Recorder::start_failing(1);
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(app.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    let confirm = browser.get(&server.url("/end_session"));
    let out = browser.post(&server.url("/end_session"), &[("csrf", &confirm.csrf())]);
    assert!(out.body.contains("signed out"), "{}", out.body);
    let first = app.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(first.len(), 1, "the first attempt (answered 503)");
    let pending = server.rt.idp.outbox_counts().unwrap();
    assert_eq!(pending.0, 1, "still pending: {pending:?}");
    // Restart: another server on the same database picks it up when the retry is due (10 s).
    let db_url = server.db_url.clone();
    let keys = server.dir.path().join("keys");
    let mut server = server;
    server.stop();
    let second = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        &db_url,
        Options {
            backchannel_logout_uri: Some(app.url.clone()),
            key_dir: Some(keys),
            issuer: Some(server.base.clone()),
            ..Options::default()
        },
    );
    let retried = app.logout_tokens(Duration::from_secs(20), Duration::from_secs(2));
    assert_eq!(retried.len(), 1, "delivered once by the new server");
    assert_eq!(jwt_claims(&retried[0])["sid"], sid_of(&tokens));
    assert_eq!(second.rt.idp.outbox_counts().unwrap(), (0, 1, 0));
    assert_eq!(
        metric(&second, "idp_backchannel_logouts_total{outcome=\"sent\"}"),
        1.0
    );
}

/// Back-Channel Logout 1.0 section 2.8: an app confirms a logout with 200 (or 204). A redirect
/// (an endpoint behind the app's own sign-in, say) has not logged anyone out: it is a failure,
/// retried, never recorded as delivered.
fn a_logout_answered_with_a_redirect_is_not_delivered(db: Db) {
    let app = Recorder::start_answering(
        1,
        b"HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(app.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    demo_tokens(&server, &browser, SecondFactor::None);
    let confirm = browser.get(&server.url("/end_session"));
    browser.post(&server.url("/end_session"), &[("csrf", &confirm.csrf())]);
    let first = app.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(first.len(), 1, "the first attempt (answered 302)");
    assert_eq!(
        server.rt.idp.outbox_counts().unwrap().0,
        1,
        "still pending after the redirect"
    );
    assert_eq!(
        metric(
            &server,
            "idp_backchannel_logouts_total{outcome=\"retried\"}"
        ),
        1.0
    );
}

/// `mfa enable` ends every session of the account that was signed in with the password alone,
/// and the apps are told: the refresh token and the access token stop working at once.
fn turning_mfa_on_ends_the_sessions_that_never_passed_it(db: Db) {
    let app = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(app.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    assert_eq!(userinfo(&server, &tokens), 200);
    let out = server.cli(&["mfa", "enable", "--account", "acme"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("1 session(s)"), "{}", out.stdout);
    let told = app.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(told.len(), 1);
    assert_eq!(jwt_claims(&told[0])["sid"], sid_of(&tokens));
    assert_eq!(refresh(&server, "demo", &tokens).0, 400);
    assert_eq!(userinfo(&server, &tokens), 401);
    let page = browser.follow(&server.base, browser.get(&server.demo_authorize_url()));
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "the browser signs in again (and links an app)"
    );
}

/// Defence in depth: a session without the second factor its account requires is refused at
/// refresh, userinfo and session reuse even when the policy changed behind the use case's back.
fn a_session_without_the_required_second_factor_is_refused(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    let second = {
        let b = Browser::new();
        demo_tokens(&server, &b, SecondFactor::None)
    };
    let sql = "UPDATE accounts SET mfa_policy = 'required'";
    if server.db_url.starts_with("sqlite://") {
        diesel::SqliteConnection::establish(server.db_url.trim_start_matches("sqlite://"))
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    } else {
        diesel::PgConnection::establish(&server.db_url)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }
    assert_eq!(userinfo(&server, &tokens), 401);
    assert_eq!(refresh(&server, "demo", &second).0, 400);
    let page = browser.follow(&server.base, browser.get(&server.demo_authorize_url()));
    assert!(page.body.contains("autocomplete=\"current-password\""));
}

/// `user set-password` (the support answer to a compromised account) ends every session of the
/// user, with back-channel logout, as the self-service reset does.
fn an_operator_password_reset_ends_every_session(db: Db) {
    let app = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(app.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let one = demo_tokens(&server, &Browser::new(), SecondFactor::None);
    let two = demo_tokens(&server, &Browser::new(), SecondFactor::None);
    let out = server.cli(
        &[
            "user",
            "set-password",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ],
        Some("a brand new passphrase, set by support\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("2 session(s) ended"), "{}", out.stdout);
    let told = app.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    let mut sids: Vec<Value> = told.iter().map(|t| jwt_claims(t)["sid"].clone()).collect();
    sids.sort_by_key(|s| s.to_string());
    let mut expected = vec![sid_of(&one), sid_of(&two)];
    expected.sort_by_key(|s| s.to_string());
    assert_eq!(sids, expected);
    for tokens in [&one, &two] {
        assert_eq!(refresh(&server, "demo", tokens).0, 400);
        assert_eq!(userinfo(&server, tokens), 401);
    }
}

/// Only apps with a `backchannel_logout_uri` get an outbox row: "demo" here has none, so its
/// grant is revoked and nothing is queued for it (before, a row was queued for it and the
/// deliverer claimed and dropped it, two writes per ended session for nothing).
fn only_apps_with_a_backchannel_endpoint_are_queued_a_logout(db: Db) {
    let crm = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: crm_client(&crm.url),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = demo_tokens(&server, &browser, SecondFactor::None);
    let sso = browser.get(&authorize_url(&server, "crm", 8083));
    redeem(&server, "crm", 8083, &sso.location_param("code").unwrap());
    let confirm = browser.get(&server.url("/end_session"));
    let out = browser.post(&server.url("/end_session"), &[("csrf", &confirm.csrf())]);
    assert!(out.body.contains("signed out"), "{}", out.body);
    let told = crm.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(told.len(), 1);
    assert_eq!(jwt_claims(&told[0])["sid"], sid_of(&tokens));
    assert_eq!(
        server.rt.idp.outbox_counts().unwrap(),
        (0, 1, 0),
        "one row, the CRM's"
    );
    assert_eq!(
        refresh(&server, "demo", &tokens).0,
        400,
        "demo's grant revoked"
    );
}

on_both_backends!(
    only_apps_with_a_backchannel_endpoint_are_queued_a_logout,
    an_idle_session_ends_by_itself_and_every_app_is_told,
    a_failed_logout_is_retried_even_after_a_restart,
    a_logout_answered_with_a_redirect_is_not_delivered,
    turning_mfa_on_ends_the_sessions_that_never_passed_it,
    a_session_without_the_required_second_factor_is_refused,
    an_operator_password_reset_ends_every_session,
);
