//! What ends or refuses a session besides logout and the idle window: turning MFA on ends the
//! sessions that never passed it, a session without the second factor its account requires is
//! refused everywhere, and an operator's password reset ends every session.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;

use crate::apps::{demo_tokens, refresh, sid_of, userinfo};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{jwt_claims, seed, SecondFactor};

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

on_both_backends!(
    turning_mfa_on_ends_the_sessions_that_never_passed_it,
    a_session_without_the_required_second_factor_is_refused,
    an_operator_password_reset_ends_every_session,
);
