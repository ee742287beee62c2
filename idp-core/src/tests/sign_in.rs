//! Password sign-in, its throttling (counted before it is checked), enumeration safety, and the
//! sign-in use cases (session reuse, completion).

use std::sync::Barrier;

use super::*;
use crate::signin::{AppAnswer, Authorization, Browser, CodeStep, Hinted, Prompt, SignInError};
use crate::store::attempts;
use crate::throttle::{ClientAuthFailure, Limit, LimitKind, ThrottleSettings};
use crate::users::AuthError;
use crate::{Argon2Params, Settings};

fn sign_in_is_enumeration_safe(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    assert_eq!(
        db.idp
            .authenticate_password("ANN@example.com ", PW, None)
            .unwrap()
            .id,
        u.id
    );
    let wrong = db
        .idp
        .authenticate_password("ann@example.com", "not the password!", None)
        .unwrap_err();
    let unknown = db
        .idp
        .authenticate_password("nobody@example.com", PW, None)
        .unwrap_err();
    assert!(matches!(wrong, AuthError::InvalidCredentials));
    assert!(matches!(unknown, AuthError::InvalidCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
    // An invited user without a password cannot sign in, and looks the same.
    db.idp
        .create_user(
            "acme",
            NewUser {
                email: "inv@example.com",
                ..Default::default()
            },
            &op(),
        )
        .unwrap();
    assert!(matches!(
        db.idp.authenticate_password("inv@example.com", "", None),
        Err(AuthError::InvalidCredentials)
    ));
    // Failures are audited.
    let events = db.idp.audit_recent(10).unwrap();
    assert!(events
        .iter()
        .any(|e| e.action == "signin.failed" && e.user_id.as_deref() == Some(u.id.as_str())));
    assert!(events
        .iter()
        .any(|e| e.action == "signin.failed" && e.user_id.is_none()));
}

/// Concurrent attempts on one key (the first attempts of several requests at once) all count:
/// none fails on the counter row's primary key, none is lost.
fn concurrent_attempts_all_count(db: &TestDb) {
    const N: usize = 8;
    let throttle = ThrottleSettings {
        forgot_per_ip: Limit {
            limit: 100,
            window_secs: 3600,
            kind: LimitKind::Rate,
        },
        ..ThrottleSettings::default()
    };
    let counter = crate::model::Counter::ForgotFromIp("192.0.2.77");
    let barrier = Barrier::new(N);
    std::thread::scope(|scope| {
        for _ in 0..N {
            scope.spawn(|| {
                barrier.wait();
                let taken = attempts::reserve(db.idp.store(), db.idp.now(), &throttle, &[counter])
                    .expect("a concurrent attempt is counted, not refused");
                assert!(matches!(taken, attempts::Reserved::Taken(t) if t.reached().is_none()));
            });
        }
    });
    let state = attempts::state(&mut db.idp.store().conn().unwrap(), &counter, db.idp.now())
        .unwrap()
        .unwrap();
    assert_eq!(state.failures, N as i32);
}

/// 40 wrong passwords for one email at once get exactly the limit's number of checks (5); the
/// other 35 are refused as locked without being checked. (Before, the lock was read, the password
/// verified, and only then the failure written, so all 40 were checked.) The same holds on every
/// key: 40 at once from 40 addresses get the email's threshold (10), and 40 at once from a
/// browser known for the user (a thief with its cookie) get that browser's own limit (5).
fn parallel_wrong_passwords_get_at_most_the_limit(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let throttle = &db.idp.settings().throttle;
    let cookie = db.idp.vouch_for_browser(&ann.id).unwrap();
    let known = db.idp.known_browser(&cookie).unwrap();
    let signin_events = || {
        db.idp
            .audit_recent(500)
            .unwrap()
            .iter()
            .filter(|e| e.action.starts_with("signin."))
            .count()
    };
    for (email, limit, address, known) in [
        (
            "ann@example.com",
            throttle.password_per_email_and_ip.limit,
            None,
            None,
        ),
        (
            "ghost@example.com",
            throttle.password_per_email.limit,
            Some(()),
            None,
        ),
        (
            "ann@example.com",
            throttle.password_per_known_browser.limit,
            None,
            Some(&known),
        ),
    ] {
        let limit = limit as usize;
        let before = signin_events();
        const N: usize = 40;
        let barrier = Barrier::new(N);
        let results: Vec<Result<User, AuthError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        // One address for all, or one each.
                        let ip = match address {
                            None => "198.51.100.7".to_string(),
                            Some(()) => format!("2001:db8:{i}::1"),
                        };
                        barrier.wait();
                        db.idp.authenticate_password_from(
                            email,
                            "not the password!",
                            Some(&ip),
                            known,
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let checked = results
            .iter()
            .filter(|r| matches!(r, Err(AuthError::InvalidCredentials)))
            .count();
        let locked = results
            .iter()
            .filter(|r| matches!(r, Err(AuthError::Locked(_))))
            .count();
        assert_eq!(
            (checked, locked),
            (limit, N - limit),
            "{email} {known:?}: {results:?}"
        );
        // Each check left an audit event; the refused attempts did not cost a verification.
        assert_eq!(signin_events() - before, limit);
    }
}

/// The current password asked at a password change is throttled like sign-in and shares its
/// count: a stolen session cookie gives no faster way to guess the password.
fn the_current_password_is_throttled_like_sign_in(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    const N: usize = 20;
    let barrier = Barrier::new(N);
    let results: Vec<Result<(), AuthError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    db.idp
                        .verify_current_password(&u, "a wrong guess!!", None, None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = results
        .iter()
        .filter(|r| matches!(r, Err(AuthError::InvalidCredentials)))
        .count();
    assert_eq!(checked, 5, "{results:?}");
    assert!(matches!(
        db.idp.authenticate_password("ann@example.com", PW, None),
        Err(AuthError::Locked(_))
    ));
    assert!(matches!(
        db.idp.verify_current_password(&u, PW, None, None),
        Err(AuthError::Locked(_))
    ));
    db.clock.advance(31);
    db.idp.verify_current_password(&u, PW, None, None).unwrap();
}

/// Client authentication failures lock the client at one address only: a stranger sending wrong
/// secrets from elsewhere cannot stop the app's own code exchanges. Parallel failures get at
/// most the limit.
fn client_auth_lockout_is_per_client_and_address(db: &TestDb) {
    let limit = db.idp.settings().throttle.client_auth.limit as usize;
    const N: usize = 40;
    let barrier = Barrier::new(N);
    let results: Vec<ClientAuthFailure> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    db.idp.client_auth_failed("app", "203.0.113.66").unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let counted = results
        .iter()
        .filter(|r| **r == ClientAuthFailure::Counted)
        .count();
    assert_eq!(counted, limit, "{results:?}");
    assert!(db
        .idp
        .client_auth_lock("app", "203.0.113.66")
        .unwrap()
        .is_some());
    assert!(
        db.idp
            .client_auth_lock("app", "10.1.2.3")
            .unwrap()
            .is_none(),
        "the app's own address is not locked"
    );
    assert!(db
        .idp
        .client_auth_lock("other", "203.0.113.66")
        .unwrap()
        .is_none());
}

/// Sign-ins started (login flows stored) are rate-limited per client address.
fn login_flows_are_rate_limited_per_address(db: &TestDb) {
    let idp = db.reopen(Settings {
        throttle: ThrottleSettings {
            login_flows_per_ip: Limit {
                limit: 5,
                window_secs: 600,
                kind: LimitKind::Rate,
            },
            ..ThrottleSettings::default()
        },
        ..crate::testing::cheap_settings()
    });
    for _ in 0..5 {
        idp.create_flow(None, Some("198.51.100.1")).unwrap();
    }
    assert!(matches!(
        idp.create_flow(None, Some("198.51.100.1")),
        Err(crate::flows::FlowError::TooMany(_))
    ));
    idp.create_flow(None, Some("198.51.100.2")).unwrap();
    db.clock.advance(601);
    idp.create_flow(None, Some("198.51.100.1")).unwrap();
}

fn rehash_when_parameters_change(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let before = u.password_hash.clone().unwrap();
    assert!(before.contains("m=1024,t=1,p=1"));
    let stronger = db.reopen(Settings {
        argon2: Argon2Params {
            memory_kib: 2048,
            iterations: 2,
            parallelism: 1,
        },
        ..crate::testing::cheap_settings()
    });
    stronger
        .authenticate_password("ann@example.com", PW, None)
        .unwrap();
    let after = stronger
        .user_by_id(&u.id)
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(after.contains("m=2048,t=2,p=1"), "{after}");
    assert!(stronger
        .authenticate_password("ann@example.com", PW, None)
        .is_ok());
}

/// Session reuse at /authorize: `max_age=0` always asks again; a session without the second
/// factor its account now requires is refused and ended (with its logout queued).
fn session_reuse_follows_max_age_and_the_mfa_policy(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, secret) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    redeem(db, &u, &s, "openid");
    assert!(db.idp.reuse_session(&secret, Some(0)).unwrap().is_none());
    assert!(db.idp.reuse_session(&secret, Some(60)).unwrap().is_some());
    db.clock.advance(61);
    assert!(db.idp.reuse_session(&secret, Some(60)).unwrap().is_none());
    assert!(db.idp.reuse_session(&secret, None).unwrap().is_some());
    // MFA turned on behind the use case's back (only the defence in depth stands in the way).
    sql(db, "UPDATE accounts SET mfa_policy = 'required'");
    assert!(db.idp.reuse_session(&secret, None).unwrap().is_none());
    assert!(db
        .idp
        .session_by_id(&s.id)
        .unwrap()
        .unwrap()
        .ended_at
        .is_some());
    assert_eq!(
        queued_logouts(db),
        vec![(s.id.clone(), "app".into(), "mfa_missing".into())]
    );
}

/// Completing a sign-in is one transaction: the flow is consumed once, the browser's previous
/// session (whoever's) ends with its logouts queued, the new session starts, and the code for
/// the request the flow answers is issued (and redeems).
fn a_sign_in_completes_once_and_replaces_the_browsers_session(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (old, old_secret) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    redeem(db, &u, &old, "openid");
    let flow = db
        .idp
        .create_flow(Some(&request("openid email")), None)
        .unwrap();
    let browser = Browser {
        ip: Some("192.0.2.1"),
        user_agent: None,
        session: Some(&old_secret),
        known_browser: None,
    };
    let done = db
        .idp
        .complete_sign_in(&flow, &u, AuthMethod::Password, browser)
        .unwrap();
    let (answered, AppAnswer::Code(code)) = done.code.expect("a code for the app") else {
        panic!("a code");
    };
    assert_eq!(answered, request("openid email"));
    let issued = db
        .idp
        .redeem_code(&code, "app", "https://a/cb", None)
        .unwrap();
    assert_eq!(
        (issued.scope.as_str(), issued.session.id.as_str()),
        ("openid email", done.session.id.as_str())
    );
    assert_eq!(done.ended.len(), 1);
    assert_eq!(done.ended[0].sid, old.id);
    assert!(db.idp.session_by_secret(&old_secret).unwrap().is_none());
    assert!(db.idp.session_by_secret(&done.secret).unwrap().is_some());
    assert_eq!(
        queued_logouts(db),
        vec![(old.id.clone(), "app".into(), "replaced".into())]
    );
    assert!(matches!(
        db.idp
            .complete_sign_in(&flow, &u, AuthMethod::Password, Browser::default()),
        Err(SignInError::Expired)
    ));
    assert_eq!(db.idp.live_sessions(&u.id).unwrap().len(), 1);
}

/// A user disabled after the password step (the flow lives on for minutes) gets no session from
/// the code step (which says why), whether the code would link the app or comes from the
/// linked one; nor does a user
/// disabled between the password check and the completion of a sign-in without MFA.
fn a_user_disabled_during_the_sign_in_is_not_signed_in(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    // Enrollment: the password is accepted, then an operator disables the user.
    let flow = parked(db, PW);
    let page = db.idp.sign_in_page(&flow).unwrap();
    let crate::signin::SignInPage::Enroll { view, .. } = page else {
        panic!("enrollment expected: {page:?}");
    };
    db.idp
        .set_user_enabled("ann@example.com", false, &op())
        .unwrap();
    let code = oathtool(&view.activation_code, db.idp.now());
    assert!(matches!(
        db.idp.sign_in_code(&flow, &code, Browser::default()),
        Ok(CodeStep::Refused {
            refusal: SignInError::Disabled,
            ..
        })
    ));
    assert!(db.idp.live_sessions(&u.id).unwrap().is_empty());
    // Enabled again, that parked sign-in (and the QR code it showed) is void.
    db.idp
        .set_user_enabled("ann@example.com", true, &op())
        .unwrap();
    assert!(matches!(
        db.idp.sign_in_code(&flow, &code, Browser::default()),
        Err(SignInError::Expired)
    ));
    db.idp
        .set_user_enabled("ann@example.com", false, &op())
        .unwrap();
    // With a linked app: the same.
    db.idp
        .set_user_enabled("ann@example.com", true, &op())
        .unwrap();
    let activation = enroll(db, &u);
    db.clock.advance(30);
    let flow = parked(db, PW);
    db.idp
        .set_user_enabled("ann@example.com", false, &op())
        .unwrap();
    let code = oathtool(&activation, db.idp.now());
    assert!(matches!(
        db.idp.sign_in_code(&flow, &code, Browser::default()),
        Ok(CodeStep::Refused {
            refusal: SignInError::Disabled,
            ..
        })
    ));
    assert!(db.idp.live_sessions(&u.id).unwrap().is_empty());
    // Without MFA, completing for a user who is disabled by now.
    let bo = user(db, "other", "bo@example.com");
    let flow = db.idp.create_flow(None, None).unwrap();
    db.idp
        .set_user_enabled("bo@example.com", false, &op())
        .unwrap();
    assert!(matches!(
        db.idp
            .complete_sign_in(&flow, &bo, AuthMethod::Password, Browser::default()),
        Err(SignInError::Disabled)
    ));
    assert!(db.idp.live_sessions(&bo.id).unwrap().is_empty());
}

/// OIDC Core 3.1.2.1: an `id_token_hint` names the user the app expects. A sign-in as someone
/// else is a sign-in at the provider (the session starts), but the app gets no code for them:
/// its answer is `login_required`.
fn a_sign_in_as_another_user_than_the_hint_gets_the_app_no_code(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let bob = user(db, "acme", "bob@example.com");
    let browser = || Browser::default();
    for (signing_in, gets_code) in [(&bob, false), (&ann, true)] {
        let prompt = Prompt {
            subject: Some(Hinted::User(ann.id.clone())),
            ..Prompt::default()
        };
        let Authorization::SignIn(flow) = db
            .idp
            .authorize(&request("openid"), prompt, browser())
            .unwrap()
        else {
            panic!("a sign-in");
        };
        let done = db
            .idp
            .complete_sign_in(&flow, signing_in, AuthMethod::Password, browser())
            .unwrap();
        let (_, answer) = done.code.expect("an answer for the app");
        assert_eq!(
            matches!(answer, AppAnswer::Code(_)),
            gets_code,
            "{}",
            signing_in.email
        );
        assert!(db.idp.session_by_secret(&done.secret).unwrap().is_some());
    }
}

crate::on_both_backends!(
    a_sign_in_as_another_user_than_the_hint_gets_the_app_no_code,
    a_user_disabled_during_the_sign_in_is_not_signed_in,
    sign_in_is_enumeration_safe,
    concurrent_attempts_all_count,
    parallel_wrong_passwords_get_at_most_the_limit,
    the_current_password_is_throttled_like_sign_in,
    client_auth_lockout_is_per_client_and_address,
    login_flows_are_rate_limited_per_address,
    rehash_when_parameters_change,
    session_reuse_follows_max_age_and_the_mfa_policy,
    a_sign_in_completes_once_and_replaces_the_browsers_session,
);

/// Unknown email and wrong password cost the same: one argon2id verification at the configured
/// (default, OWASP) cost. Samples are interleaved so machine noise hits both alike; medians must
/// agree within 10%. A leak (say, no hash for an unknown email) shows in every round; a burst of
/// noise on this shared machine (a checkpoint, another process) rarely hits two rounds in a
/// row, so the test allows up to three rounds and needs one that agrees.
#[test]
fn unknown_email_and_wrong_password_take_the_same_time() {
    // Measured while no other test of this binary runs (they would compete for the cores).
    let _alone = crate::testing::run_alone();
    let db = TestDb::sqlite_alone();
    let idp = db.reopen(Settings::default());
    idp.create_account("acme", "Acme", &op()).unwrap();
    const N: usize = 31;
    // A user per sample, so no lockout kicks in (5 failures per email).
    let users: Vec<String> = (0..3 * N)
        .map(|i| {
            let email = format!("user{i}@example.com");
            idp.create_user(
                "acme",
                NewUser {
                    email: &email,
                    password: Some(PW),
                    ..Default::default()
                },
                &op(),
            )
            .unwrap();
            email
        })
        .collect();
    let mut rounds = Vec::new();
    for (round, users) in users.chunks(N).enumerate() {
        let mut wrong = Vec::new();
        let mut unknown = Vec::new();
        // Interleaved, and in alternating order: the hashing pool hands consecutive jobs to
        // alternating threads, so a fixed order would give each case its own thread (and that
        // thread's core and allocator state) and measure them instead of the code paths.
        for (i, email) in users.iter().enumerate() {
            let ghost = format!("ghost{round}-{i}@example.com");
            let mut cases = [
                (email.as_str(), "not the right password", true),
                (ghost.as_str(), PW, false),
            ];
            if i % 2 == 1 {
                cases.reverse();
            }
            for (who, password, known) in cases {
                let t = std::time::Instant::now();
                assert!(idp.authenticate_password(who, password, None).is_err());
                if known {
                    wrong.push(t.elapsed());
                } else {
                    unknown.push(t.elapsed());
                }
            }
        }
        wrong.sort();
        unknown.sort();
        let (w, u) = (wrong[N / 2].as_secs_f64(), unknown[N / 2].as_secs_f64());
        let ratio = w.max(u) / w.min(u);
        rounds.push(format!(
            "median wrong password {w:.4}s vs unknown email {u:.4}s (ratio {ratio:.3})"
        ));
        if ratio < 1.10 {
            return;
        }
    }
    panic!("no round agreed within 10%: {rounds:#?}");
}
