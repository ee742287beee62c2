//! SSO sessions: the idle window and absolute lifetime, the sweeper, and every way a session
//! ends going through one path that revokes its grants and queues its back-channel logouts.

use std::sync::Barrier;

use super::*;
use crate::oauth::GrantError;

fn sessions_expire_when_idle_and_slide_on_activity(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, secret) = db
        .idp
        .start_session(&u, AuthMethod::Password, Some("127.0.0.1"), Some("test"))
        .unwrap();
    assert_eq!(s.idle_expires_at, s.last_active_at + 1800);
    assert!(db.idp.session_by_secret(&secret).unwrap().is_some());
    assert!(db
        .idp
        .session_by_secret("not-the-secret")
        .unwrap()
        .is_none());
    db.clock.advance(1700);
    let touched = db.idp.touch_session(&s.id).unwrap();
    assert_eq!(touched.idle_expires_at, db.idp.now() + 1800);
    assert_eq!(
        db.idp
            .session_by_id(&s.id)
            .unwrap()
            .unwrap()
            .idle_expires_at,
        db.idp.now() + 1800,
        "the slide is stored"
    );
    db.clock.advance(1799);
    assert!(db.idp.session_by_secret(&secret).unwrap().is_some());
    db.clock.advance(1);
    assert!(db.idp.session_by_secret(&secret).unwrap().is_none());
    assert!(db.idp.touch_session(&s.id).is_err());
    // The absolute lifetime caps sliding.
    let s2 = session(db, &u, AuthMethod::Password);
    for _ in 0..25 {
        db.clock.advance(1700);
        db.idp.touch_session(&s2.id).unwrap();
    }
    let capped = db.idp.touch_session(&s2.id).unwrap();
    assert_eq!(capped.idle_expires_at, capped.expires_at, "12 h cap");
    db.clock.advance(1700);
    assert!(db.idp.touch_session(&s2.id).is_err(), "12 h cap");
}

fn ending_a_session_revokes_its_grants_and_queues_its_logouts(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    let a = grant_for(db, "app-a", &u, &s, "openid");
    let b = grant_for(db, "app-b", &u, &s, "openid");
    grant_for(db, "app-b", &u, &s, "openid");
    let ended = db
        .idp
        .end_session(&s.id, &Actor::User(u.id.clone()), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        ended.clients,
        vec!["app-a".to_string(), "app-b".to_string()]
    );
    assert!(db.idp.refresh(&a.refresh_token, "app-a").is_err());
    assert!(db.idp.refresh(&b.refresh_token, "app-b").is_err());
    assert!(
        db.idp.end_session(&s.id, &op(), None).unwrap().is_none(),
        "idempotent"
    );
    assert_eq!(
        queued_logouts(db),
        vec![
            (s.id.clone(), "app-a".into(), "logout".into()),
            (s.id.clone(), "app-b".into(), "logout".into()),
        ],
        "one logout per app, however many grants it had and however often the session is ended"
    );
}

/// The sweeper ends sessions whose idle window or absolute lifetime passed, marks why, audits
/// each, and queues a logout to every app with a grant in them; live sessions are left alone.
fn the_sweeper_ends_expired_sessions_and_queues_their_logouts(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let idle = session(db, &u, AuthMethod::Password);
    grant_for(db, "app", &u, &idle, "openid");
    grant_for(db, "crm", &u, &idle, "openid");
    let without_apps = session(db, &u, AuthMethod::Password);
    let long = session(db, &u, AuthMethod::Password);
    let long_grant = grant_for(db, "app", &u, &long, "openid");
    assert_eq!(db.idp.sweep_expired_sessions().unwrap().ended, 0);
    // 30 minutes later the first two idled out; the third was kept alive by a refresh.
    db.clock.advance(1700);
    let mut token = db.idp.refresh(&long_grant.refresh_token, "app").unwrap();
    db.clock.advance(100);
    let live = session(db, &u, AuthMethod::Password);
    let report = db.idp.sweep_expired_sessions().unwrap();
    assert_eq!((report.ended, report.logouts_queued), (2, 2));
    assert_eq!(
        queued_logouts(db),
        vec![
            (idle.id.clone(), "app".into(), "idle_timeout".into()),
            (idle.id.clone(), "crm".into(), "idle_timeout".into()),
        ]
    );
    let ended = db.idp.session_by_id(&without_apps.id).unwrap().unwrap();
    assert!(ended.ended_at.is_some());
    assert!(db
        .idp
        .session_by_id(&live.id)
        .unwrap()
        .unwrap()
        .ended_at
        .is_none());
    assert_eq!(db.idp.sweep_expired_sessions().unwrap().ended, 0, "once");
    // Kept active for 12 hours, the third reaches its absolute lifetime.
    token = db.idp.refresh(&token.refresh_token, "app").unwrap();
    for _ in 0..24 {
        db.clock.advance(1700);
        token = db.idp.refresh(&token.refresh_token, "app").unwrap();
    }
    assert_eq!(token.session.idle_expires_at, token.session.expires_at);
    db.clock.advance(1700);
    let report = db.idp.sweep_expired_sessions().unwrap();
    assert_eq!(
        (report.ended, report.logouts_queued),
        (2, 1),
        "the long one, and the one left idle (no apps)"
    );
    assert!(queued_logouts(db).contains(&(long.id.clone(), "app".into(), "max_lifetime".into())));
    assert!(matches!(
        db.idp.refresh(&token.refresh_token, "app"),
        Err(GrantError::InvalidGrant(_))
    ));
    let expired: Vec<_> = db
        .idp
        .audit_for_user(&u.id, 50)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "session.expired" && e.actor == "system")
        .collect();
    assert_eq!(expired.len(), 4);
    assert!(
        expired
            .iter()
            .all(|e| e.account_id.as_deref() == Some(u.account_id.as_str())),
        "each names the user's account: {expired:?}"
    );
    assert!(expired
        .iter()
        .any(|e| e.detail.as_deref() == Some(&format!("sid={} reason=max_lifetime", long.id))));
}

/// Two replicas sweeping the same database at once: every expired session is ended by exactly
/// one of them, so each app is queued one logout per session.
fn two_sweepers_end_each_session_once(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    const SESSIONS: usize = 600;
    let mut sids = Vec::new();
    for _ in 0..SESSIONS {
        let s = session(db, &u, AuthMethod::Password);
        grant_for(db, "app", &u, &s, "openid");
        sids.push(s.id);
    }
    db.clock.advance(1800);
    let other = db.reopen(crate::testing::cheap_settings());
    let barrier = Barrier::new(2);
    let ended: Vec<usize> = std::thread::scope(|scope| {
        let a = scope.spawn(|| {
            barrier.wait();
            db.idp.sweep_expired_sessions().unwrap().ended
        });
        let b = scope.spawn(|| {
            barrier.wait();
            other.sweep_expired_sessions().unwrap().ended
        });
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(ended.iter().sum::<usize>(), SESSIONS, "{ended:?}");
    let queued = queued_logouts(db);
    assert_eq!(queued.len(), SESSIONS);
    let mut distinct: Vec<&String> = queued.iter().map(|(s, ..)| s).collect();
    distinct.dedup();
    assert_eq!(distinct.len(), SESSIONS);
}

/// Every way a session ends goes through the same path: revoked grants, a logout queued per
/// app, the reason recorded.
fn every_way_a_session_ends_queues_its_logouts(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let with_grant = |u: &User| {
        let s = session(db, u, AuthMethod::PasswordAndTotp);
        grant_for(db, "app", u, &s, "openid");
        s
    };
    let reason_of = |sid: &str| {
        queued_logouts(db)
            .into_iter()
            .find(|(s, ..)| s == sid)
            .map(|(_, _, r)| r)
    };
    let s = with_grant(&ann);
    db.idp.end_user_sessions(&ann, &op(), None).unwrap();
    assert_eq!(reason_of(&s.id).as_deref(), Some("revoked"));

    // A password change in one session ends them all, that one too (its apps are told), and a
    // successor carries the browser's sign-in on; an operator's ends them all.
    let keep = with_grant(&ann);
    let other = with_grant(&ann);
    let successor = db.idp.successor_of(&keep).unwrap();
    let (_, ended) = db
        .idp
        .set_password(
            &ann.id,
            "another fine passphrase",
            &Actor::User(ann.id.clone()),
            None,
            Some(crate::model::OwnChange {
                sid: &keep.id,
                checked: ann.password_hash.as_deref().unwrap(),
                successor: &successor,
                successor_secret_hash: "renewed",
            }),
        )
        .unwrap();
    assert_eq!(ended.len(), 2);
    assert_eq!(reason_of(&other.id).as_deref(), Some("password_changed"));
    assert_eq!(reason_of(&keep.id).as_deref(), Some("password_changed"));
    let live = db.idp.live_sessions(&ann.id).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(
        (
            &live[0].id,
            live[0].auth_time,
            &live[0].amr,
            live[0].expires_at
        ),
        (&successor.id, keep.auth_time, &keep.amr, keep.expires_at),
        "the same sign-in under a new id"
    );
    let (_, ended) = db
        .idp
        .set_password(&ann.id, "a third fine passphrase", &op(), None, None)
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].sid, successor.id);
    assert!(db.idp.live_sessions(&ann.id).unwrap().is_empty());

    // Disabling ends them in the same transaction.
    let s = with_grant(&ann);
    let (change, ended) = db
        .idp
        .set_user_enabled("ann@example.com", false, &op())
        .unwrap();
    assert_eq!(change, crate::accounts::Change::Changed);
    assert_eq!(ended.len(), 1);
    assert_eq!(reason_of(&s.id).as_deref(), Some("user_disabled"));
}

/// Turning MFA on for an account ends, with its logouts, every session of its users that was
/// signed in with the password alone; sessions that passed a second factor, and other
/// accounts' sessions, live on.
fn enabling_mfa_ends_the_sessions_that_never_passed_it(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let bob = user(db, "acme", "bob@example.com");
    let cy = user(db, "globex", "cy@example.com");
    let password_only = session(db, &ann, AuthMethod::Password);
    let g = grant_for(db, "app", &ann, &password_only, "openid");
    let with_code = session(db, &bob, AuthMethod::PasswordAndTotp);
    let bob_grant = grant_for(db, "app", &bob, &with_code, "openid");
    let elsewhere = session(db, &cy, AuthMethod::Password);
    let (_, ended) = db
        .idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].sid, password_only.id);
    assert_eq!(
        queued_logouts(db),
        vec![(password_only.id.clone(), "app".into(), "mfa_enabled".into())]
    );
    assert!(db.idp.refresh(&g.refresh_token, "app").is_err());
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_none());
    assert!(db.idp.refresh(&bob_grant.refresh_token, "app").is_ok());
    assert!(db
        .idp
        .session_by_id(&elsewhere.id)
        .unwrap()
        .unwrap()
        .ended_at
        .is_none());
}

fn purge_removes_dead_sessions_with_their_tokens(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    // Never ended (as if no sweeper ran), and logged out: both more than a day ago.
    let dead = session(db, &u, AuthMethod::Password);
    redeem(db, &u, &dead, "openid");
    let logged_out = session(db, &u, AuthMethod::Password);
    redeem(db, &u, &logged_out, "openid");
    db.idp.end_session(&logged_out.id, &op(), None).unwrap();
    db.clock.advance(2 * 24 * 3600);
    let live = session(db, &u, AuthMethod::Password);
    let just_ended = session(db, &u, AuthMethod::Password);
    db.idp.end_session(&just_ended.id, &op(), None).unwrap();
    assert_eq!(db.idp.purge_expired().unwrap(), 2);
    assert!(db.idp.session_by_id(&dead.id).unwrap().is_none());
    assert!(db.idp.session_by_id(&logged_out.id).unwrap().is_none());
    assert!(db.idp.session_by_id(&live.id).unwrap().is_some());
    assert!(
        db.idp.session_by_id(&just_ended.id).unwrap().is_some(),
        "ended less than a day ago: kept"
    );
    let mut c = db.idp.store().conn().unwrap();
    let tokens: i64 = crate::store::schema::refresh_tokens::table
        .count()
        .get_result(&mut c)
        .unwrap();
    let grants: i64 = crate::store::schema::grants::table
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(
        (tokens, grants),
        (0, 0),
        "cascade removed the grant and its refresh token"
    );
}

/// The session rules exist in Rust (`SsoSession::is_live`, `idle_deadline`) and in SQL
/// (`store/live.rs`): at every moment of a session's life, slid now and then, up to and past its
/// absolute end, both forms say the same (reading, sliding, sweeping and purging).
fn the_sql_and_rust_forms_of_the_session_rules_agree(db: &TestDb) {
    use crate::model::{idle_deadline, SessionSettings};
    let idp = db.reopen(crate::Settings {
        sessions: SessionSettings {
            idle_timeout_secs: 60,
            max_lifetime_secs: 150,
        },
        ..crate::testing::cheap_settings()
    });
    let u = user(db, "acme", "ann@example.com");
    let (started, secret) = idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    assert_eq!(
        started.idle_expires_at,
        idle_deadline(started.created_at, 60, started.expires_at)
    );
    let (mut was_live, mut checked) = (true, 0);
    for step in 1..=20 {
        db.clock.advance(10);
        let now = idp.now();
        let stored = idp.session_by_id(&started.id).unwrap().unwrap();
        let rust_live = stored.is_live(now);
        let sql_live = idp.session_by_secret(&secret).unwrap().is_some();
        assert_eq!(rust_live, sql_live, "at +{}s", step * 10);
        // The sweeper ends exactly what is no longer live.
        let swept = idp.sweep_expired_sessions().unwrap().ended;
        assert_eq!(
            swept,
            usize::from(was_live && !rust_live),
            "at +{}s",
            step * 10
        );
        if rust_live && step % 4 == 0 {
            let slid = idp.touch_session(&started.id).unwrap();
            assert_eq!(
                slid.idle_expires_at,
                idle_deadline(now, 60, stored.expires_at),
                "slid at +{}s",
                step * 10
            );
            checked += 1;
        }
        was_live = rust_live;
    }
    assert!(
        checked >= 3 && !was_live,
        "slid {checked} times, then ended"
    );
    // Purged a day after it ended, not before.
    let ended_at = idp
        .session_by_id(&started.id)
        .unwrap()
        .unwrap()
        .ended_at
        .unwrap();
    const DAY: i64 = 24 * 60 * 60;
    db.clock.set(ended_at + DAY - 1);
    idp.purge_expired().unwrap();
    assert!(idp.session_by_id(&started.id).unwrap().is_some());
    db.clock.set(ended_at + DAY + 1);
    idp.purge_expired().unwrap();
    assert!(idp.session_by_id(&started.id).unwrap().is_none());
}

/// Only apps that listen for back-channel logout (those with a `backchannel_logout_uri`, as the
/// server tells the domain) get an outbox row; an app without one would have its row claimed
/// and dropped by the deliverer, a write per ended session for nothing.
fn only_listening_apps_get_a_logout_queued(db: &TestDb) {
    db.idp
        .set_logout_listeners(LogoutListeners::only(["app-a"]));
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    grant_for(db, "app-a", &u, &s, "openid");
    let b = grant_for(db, "app-b", &u, &s, "openid");
    let quiet = session(db, &u, AuthMethod::Password);
    grant_for(db, "app-b", &u, &quiet, "openid");
    let ended = db
        .idp
        .end_session(&s.id, &Actor::User(u.id.clone()), None)
        .unwrap()
        .unwrap();
    assert_eq!(ended.clients, vec!["app-a".to_string()]);
    assert_eq!(ended.account_id.as_deref(), Some(u.account_id.as_str()));
    assert!(
        db.idp.refresh(&b.refresh_token, "app-b").is_err(),
        "every grant is revoked, listening or not"
    );
    db.clock.advance(1801);
    let report = db.idp.sweep_expired_sessions().unwrap();
    assert_eq!((report.ended, report.logouts_queued), (1, 0));
    assert_eq!(
        queued_logouts(db),
        vec![(s.id.clone(), "app-a".into(), "logout".into())]
    );
    // A reload that gives app-b an endpoint: sessions ended from then on tell it.
    db.idp
        .set_logout_listeners(LogoutListeners::only(["app-a", "app-b"]));
    let later = session(db, &u, AuthMethod::Password);
    grant_for(db, "app-b", &u, &later, "openid");
    let ended = db.idp.end_user_sessions(&u, &op(), None).unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].clients, vec!["app-b".to_string()]);
}

/// Ending a user's sessions waits for a transaction that holds the user's row and starts a
/// session for them (a password change's successor, a sign-in), then ends that one too: on
/// PostgreSQL (READ COMMITTED) the read of the sessions would otherwise miss it and it would
/// outlive an operator's revoke.
fn a_revoke_ends_a_session_started_while_it_waited(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let started = db
        .idp
        .successor_of(&session(db, &u, AuthMethod::Password))
        .unwrap();
    db.idp.end_user_sessions(&u, &op(), None).unwrap();
    let (go, wait) = std::sync::mpsc::channel();
    let revoked = &u;
    let ended = std::thread::scope(|s| {
        let revoke = s.spawn(move || {
            wait.recv().unwrap();
            db.idp.end_user_sessions(revoked, &op(), None).unwrap()
        });
        db.idp
            .store()
            .tx(|conn| {
                crate::store::users::hold(conn, &u.id)?;
                crate::store::sessions::insert(conn, &started, "secret-hash")?;
                go.send(()).unwrap();
                // The revoke runs meanwhile, and must wait for this commit.
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok::<_, crate::StoreError>(())
            })
            .unwrap();
        revoke.join().unwrap()
    });
    assert_eq!(ended.len(), 1, "the session started meanwhile is ended");
    assert!(db.idp.live_sessions(&u.id).unwrap().is_empty());
}

crate::on_both_backends!(
    a_revoke_ends_a_session_started_while_it_waited,
    only_listening_apps_get_a_logout_queued,
    the_sql_and_rust_forms_of_the_session_rules_agree,
    sessions_expire_when_idle_and_slide_on_activity,
    ending_a_session_revokes_its_grants_and_queues_its_logouts,
    the_sweeper_ends_expired_sessions_and_queues_their_logouts,
    two_sweepers_end_each_session_once,
    every_way_a_session_ends_queues_its_logouts,
    enabling_mfa_ends_the_sessions_that_never_passed_it,
    purge_removes_dead_sessions_with_their_tokens,
);
