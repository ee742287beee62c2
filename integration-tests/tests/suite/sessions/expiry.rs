//! The idle window: a refresh inside it slides it, after it the session is over, and a session
//! nobody uses ends by itself with every app told.

use std::time::Duration;

use super::metric;
use crate::apps::{self, crm_client, demo_tokens, redeem, sid_of, verified_logout};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

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

/// A session nobody uses ends by itself at its idle expiry, at most `sweep_interval` late, and
/// every app that holds a grant in it gets a back-channel logout token (an idle session refused
/// only at its next refresh would leave an app with its own session cookie never knowing).
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
    let sso = browser.get(&apps::authorize_url(&server, "crm", 8083));
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
    assert_eq!(apps::refresh(&server, "demo", &tokens).0, 400);
    assert!(metric(&server, "idp_backchannel_logouts_total{outcome=\"sent\"}") >= 2.0);
    assert!(metric(&server, "idp_sessions_expired_total") >= 1.0);
    assert!(
        metric(&server, "idp_sweep_duration_seconds_count") >= 1.0,
        "every pass of the sweeper is timed"
    );
}

on_both_backends!(
    the_idle_window_ends_the_session,
    an_idle_session_ends_by_itself_and_every_app_is_told,
);
