//! Back-channel logout delivery: only apps with an endpoint are queued a logout, a failed one is
//! retried (even after a restart) and one answered with a redirect is not delivered; one app
//! cannot stall the others (every delivery has a deadline, the name lookup and the connect too,
//! and each app's logouts go out apart), and a round always ends within its claim's lease, so no
//! other replica sends the same logouts again.

use std::time::Duration;

use diesel::{Connection, RunQueryDsl};

use super::metric;
use crate::apps::{authorize_url, crm_client, demo_tokens, redeem, refresh, sid_of};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{jwt_claims, op, seed, SecondFactor};

/// `n` sessions of ann, each signed in at the demo app and at the CRM: their sids, sorted.
fn sessions_in_both_apps(server: &TestServer, n: usize) -> Vec<String> {
    let mut sids: Vec<String> = (0..n)
        .map(|_| {
            let browser = Browser::new();
            let tokens = demo_tokens(server, &browser, SecondFactor::None);
            let sso = browser.get(&authorize_url(server, "crm", 8083));
            redeem(server, "crm", 8083, &sso.location_param("code").unwrap());
            sid_of(&tokens).as_str().unwrap().to_string()
        })
        .collect();
    sids.sort();
    sids
}

/// Ends every session of ann as an operator's command does, but leaves the delivery of the
/// logouts to the running servers.
fn end_every_session(server: &TestServer) {
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    let ended = server.rt.idp.end_user_sessions(&user, &op(), None).unwrap();
    assert!(!ended.is_empty());
}

/// The sids the logout tokens name, sorted.
fn sids_told(tokens: &[String]) -> Vec<String> {
    let mut sids: Vec<String> = tokens
        .iter()
        .map(|t| jwt_claims(t)["sid"].as_str().unwrap().to_string())
        .collect();
    sids.sort();
    sids
}

/// The CRM does not answer at all (it takes the connection and the request, then nothing): the demo
/// app is told of every ended session while the CRM's first delivery still waits for its answer.
/// (Were a round's logouts sent in runs one after the other, the demo app's logouts queued behind
/// the CRM's would wait for its time-out.)
fn an_app_that_never_answers_does_not_hold_up_the_others(db: Db) {
    let demo = Recorder::start();
    let crm = SilentApp::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(demo.url.clone()),
            extra_toml: crm_client(&crm.url),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let sids = sessions_in_both_apps(&server, 6);
    end_every_session(&server);
    crm.connected
        .recv_timeout(Duration::from_secs(10))
        .expect("a logout is sent to the CRM");
    let told = demo.next_logout_tokens(sids.len(), Duration::from_secs(30));
    assert!(
        crm.dropped.try_recv().is_err(),
        "the demo app had all its logouts while the CRM's first was still unanswered"
    );
    assert_eq!(sids_told(&told), sids, "one logout token per session");
    // The CRM's delivery has a deadline: the provider gives up and closes the connection (a
    // safety net far above the deadline, not a measure of it).
    crm.dropped
        .recv_timeout(Duration::from_secs(30))
        .expect("the provider gives the silent app up");
    let (pending, delivered, failed) = server.rt.idp.outbox_counts().unwrap();
    assert_eq!(
        (pending, delivered, failed),
        (sids.len() as i64, sids.len() as i64, 0),
        "the demo app's logouts delivered, the CRM's to be retried"
    );
}

/// An outbox row, read directly.
#[derive(Debug, diesel::QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    client_id: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    created_at: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    next_attempt_at: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    claimed_until: Option<i64>,
}

fn outbox_rows(db_url: &str) -> Vec<OutboxRow> {
    let q = diesel::sql_query(
        "SELECT client_id, attempts, created_at, next_attempt_at, claimed_until FROM logout_outbox",
    );
    match db_url.strip_prefix("sqlite://") {
        Some(path) => q.load(&mut diesel::SqliteConnection::establish(path).unwrap()),
        None => q.load(&mut diesel::PgConnection::establish(db_url).unwrap()),
    }
    .unwrap()
}

/// Two servers on one database and one master key, behind one issuer.
fn replicas(db: Db, options: Options) -> (TestServer, TestServer, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let options = Options {
        key_dir: Some(keys.path().join("keys")),
        ..options
    };
    let a = TestServer::start_with(db, options.clone());
    let b = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        &a.db_url,
        Options {
            issuer: Some(a.base.clone()),
            ..options
        },
    );
    (a, b, keys)
}

/// Two replicas deliver, and the CRM's address takes no connection (its packets are dropped): each
/// CRM logout is claimed once and its failed attempt recorded within its claim's lease, and the
/// demo app gets each of its logouts once, at once. (Were a connect allowed longer than the
/// delivery's 5 s, a round of 20 would hold its claims past the 60 s lease: the other replica would
/// claim them again, and the demo app's logouts would wait behind the CRM's.)
fn every_round_ends_within_its_claims_lease(db: Db) {
    let demo = Recorder::start();
    let crm = UnreachableApp::start();
    let (a, _b, _keys) = replicas(
        db,
        Options {
            backchannel_logout_uri: Some(demo.url.clone()),
            extra_toml: crm_client(&crm.url),
            ..Options::default()
        },
    );
    seed(&a, "acme", "ann@example.com", false);
    let sids = sessions_in_both_apps(&a, 12);
    end_every_session(&a);
    let told = demo.next_logout_tokens(sids.len(), Duration::from_secs(20));
    assert_eq!(sids_told(&told), sids, "one logout token per session");
    // Wait (a safety net far above the deadlines) until every CRM logout's first attempt has
    // been recorded: claimed once, released for its retry.
    let waited = std::time::Instant::now();
    let crm_rows = loop {
        let rows: Vec<OutboxRow> = outbox_rows(&a.db_url)
            .into_iter()
            .filter(|r| r.client_id == "crm")
            .collect();
        if rows.len() == sids.len()
            && rows
                .iter()
                .all(|r| r.attempts >= 1 && r.claimed_until.is_none())
        {
            break rows;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(idp_core::outbox::CLAIM_LEASE_SECS as u64),
            "the CRM's first attempts are not all recorded: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for row in &crm_rows {
        assert_eq!(row.attempts, 1, "claimed by one replica only: {row:?}");
        // Recorded at next_attempt_at minus the first retry delay; claimed after it was queued.
        let recorded = row.next_attempt_at - idp_core::outbox::RETRY_DELAYS_SECS[0];
        assert!(
            recorded - row.created_at < idp_core::outbox::CLAIM_LEASE_SECS,
            "the attempt was recorded within its claim's lease: {row:?}"
        );
    }
    assert!(
        demo.logout_tokens(Duration::from_secs(2), Duration::from_secs(1))
            .is_empty(),
        "no logout sent twice to the demo app"
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

/// Only apps with a `backchannel_logout_uri` get an outbox row: "demo" here has none, so its grant
/// is revoked and nothing is queued for it (a row for it would only be claimed and dropped by the
/// deliverer: two writes per ended session for nothing).
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
    an_app_that_never_answers_does_not_hold_up_the_others,
    every_round_ends_within_its_claims_lease,
    a_failed_logout_is_retried_even_after_a_restart,
    a_logout_answered_with_a_redirect_is_not_delivered,
    only_apps_with_a_backchannel_endpoint_are_queued_a_logout,
);
