//! Behaviour of the domain against a real database, each test on SQLite and on PostgreSQL.

use std::process::Command;
use std::sync::{Arc, Barrier};

use crate::accounts::Change;
use crate::mfa::{EnrollmentState, MfaError, MfaStep};
use crate::oauth::{GrantError, NewCode};
use crate::testing::{cheap_settings, TestDb};
use crate::users::{AuthError, NewUser, UserError};
use crate::{Actor, Argon2Params, MfaPolicy, Settings, User, UserStatus};

const PW: &str = "correct horse battery staple";

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn user(db: &TestDb, account: &str, email: &str) -> User {
    if db.idp.account_by_slug(account).is_err() {
        db.idp.create_account(account, "Acme Fuel", &op()).unwrap();
    }
    db.idp
        .create_user(
            account,
            NewUser {
                email,
                display_name: "Ann",
                work_email: None,
                password: Some(PW),
            },
            &op(),
        )
        .unwrap()
}

/// A TOTP code computed by Debian's oathtool (an implementation independent of ours).
fn oathtool(activation_code: &str, at: i64) -> String {
    let secret: String = activation_code.split_whitespace().collect();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", &secret, "-N", &format!("@{at}")])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Enrolls the user (MFA required on their account) and returns the activation code.
fn enroll(db: &TestDb, u: &User) -> String {
    let view = db.idp.begin_enrollment(u).unwrap();
    let code = oathtool(&view.activation_code, db.idp.now());
    db.idp.confirm_enrollment(u, &code, None).unwrap();
    view.activation_code
}

fn accounts_and_users(db: &TestDb) {
    let a = db.idp.create_account("acme", "Acme Fuel", &op()).unwrap();
    assert_eq!(a.mfa_policy, MfaPolicy::Off, "MFA is off by default");
    assert!(matches!(
        db.idp.create_account("acme", "Other", &op()),
        Err(crate::accounts::AccountError::SlugTaken(_))
    ));
    assert!(db.idp.create_account("Bad Slug", "x", &op()).is_err());
    let u = db
        .idp
        .create_user(
            "acme",
            NewUser {
                email: "  Ann.Lee@Example.com ",
                display_name: "Ann Lee",
                work_email: Some("ann@work.example"),
                password: None,
            },
            &op(),
        )
        .unwrap();
    assert_eq!(u.email, "ann.lee@example.com");
    assert_eq!(u.status, UserStatus::Invited);
    assert!(!u.email_verified);
    assert_eq!(u.work_email.as_deref(), Some("ann@work.example"));
    // The authentication email is unique whatever its case.
    let dup = db.idp.create_user(
        "acme",
        NewUser {
            email: "ANN.LEE@example.com",
            password: Some(PW),
            ..Default::default()
        },
        &op(),
    );
    assert!(matches!(dup, Err(UserError::EmailTaken(_))));
    assert_eq!(
        db.idp.user_by_email("ANN.lee@EXAMPLE.com").unwrap().id,
        u.id
    );
    // A weak password is refused with its reason, and nothing is stored.
    let weak = db.idp.create_user(
        "acme",
        NewUser {
            email: "bob@example.com",
            password: Some("password1234"),
            ..Default::default()
        },
        &op(),
    );
    assert!(matches!(
        weak,
        Err(UserError::Password(crate::PasswordRejection::Common))
    ));
    assert!(db.idp.user_by_email("bob@example.com").is_err());
    assert_eq!(db.idp.list_users("acme").unwrap().len(), 1);
}

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

/// Concurrent failures on one key (parallel guesses at one email, or the first failures of two
/// requests at once) all succeed and all count: none fails on the counter row's primary key.
fn concurrent_failures_all_count(db: &TestDb) {
    const N: usize = 8;
    let barrier = Barrier::new(N);
    std::thread::scope(|scope| {
        for _ in 0..N {
            scope.spawn(|| {
                barrier.wait();
                db.idp
                    .attempt_failed("test:race", 100)
                    .expect("a concurrent failure is counted, not refused");
            });
        }
    });
    let state = db.idp.throttle_state("test:race").unwrap().unwrap();
    assert_eq!(state.failures, N as i32);
}

fn password_lockout_and_expiry(db: &TestDb) {
    user(db, "acme", "ann@example.com");
    for _ in 0..5 {
        assert!(matches!(
            db.idp
                .authenticate_password("ann@example.com", "wrong password!!", None),
            Err(AuthError::InvalidCredentials)
        ));
    }
    // The sixth failure locks; while locked even the right password is refused.
    assert!(matches!(
        db.idp
            .authenticate_password("ann@example.com", "wrong password!!", None),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        db.idp.authenticate_password("ann@example.com", PW, None),
        Err(AuthError::Locked(_))
    ));
    // Unknown emails lock the same way, so a lockout does not reveal that an email exists.
    for _ in 0..6 {
        let _ = db
            .idp
            .authenticate_password("ghost@example.com", "wrong password!!", None);
    }
    assert!(matches!(
        db.idp.authenticate_password("ghost@example.com", PW, None),
        Err(AuthError::Locked(_))
    ));
    // Other users of the same account are not affected.
    user(db, "acme", "bob@example.com");
    assert!(db
        .idp
        .authenticate_password("bob@example.com", PW, None)
        .is_ok());
    db.clock.advance(31);
    assert!(db
        .idp
        .authenticate_password("ann@example.com", PW, None)
        .is_ok());
    // A success forgets the failures before it: 3 + 3 failures around a success do not lock,
    // where 6 in a row would.
    for round in 0..2 {
        for _ in 0..3 {
            assert!(matches!(
                db.idp
                    .authenticate_password("bob@example.com", "wrong password!!", None),
                Err(AuthError::InvalidCredentials)
            ));
        }
        assert!(
            db.idp
                .authenticate_password("bob@example.com", PW, None)
                .is_ok(),
            "round {round}"
        );
    }
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
        ..cheap_settings()
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

fn mfa_policy_decides_for_every_user(db: &TestDb) {
    let a = user(db, "acme", "ann@example.com");
    let b = user(db, "acme", "bob@example.com");
    let other = user(db, "other", "cy@example.com");
    assert_eq!(db.idp.mfa_step(&a).unwrap(), MfaStep::None);
    assert_eq!(
        db.idp
            .set_mfa_policy("acme", MfaPolicy::Required, &op())
            .unwrap(),
        Change::Changed
    );
    assert_eq!(
        db.idp
            .set_mfa_policy("acme", MfaPolicy::Required, &op())
            .unwrap(),
        Change::Already
    );
    assert_eq!(db.idp.mfa_step(&a).unwrap(), MfaStep::Enroll);
    assert_eq!(db.idp.mfa_step(&b).unwrap(), MfaStep::Enroll);
    assert_eq!(db.idp.mfa_step(&other).unwrap(), MfaStep::None);
    enroll(db, &a);
    assert_eq!(db.idp.mfa_step(&a).unwrap(), MfaStep::Verify);
    // Off keeps the link; on again asks for a code, not a new QR.
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Off, &op())
        .unwrap();
    assert_eq!(db.idp.mfa_step(&a).unwrap(), MfaStep::None);
    assert_eq!(
        db.idp.enrollment_state(&a.id).unwrap(),
        EnrollmentState::Linked
    );
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    assert_eq!(db.idp.mfa_step(&a).unwrap(), MfaStep::Verify);
    assert!(db
        .idp
        .audit_recent(50)
        .unwrap()
        .iter()
        .any(|e| e.action == "mfa.policy_changed" && e.actor == "operator:test"));
}

fn enrollment_links_one_app_and_refuses_a_second(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let first = db.idp.begin_enrollment(&u).unwrap();
    // Reloading shows the same secret.
    assert_eq!(
        db.idp.begin_enrollment(&u).unwrap().activation_code,
        first.activation_code
    );
    assert!(first.otpauth_uri.starts_with("otpauth://totp/"));
    assert!(
        first.otpauth_uri.contains("ann%40example.com")
            || first.otpauth_uri.contains("ann@example.com")
    );
    assert!(
        first.otpauth_uri.contains("issuer=Identity%20Provider"),
        "{}",
        first.otpauth_uri
    );
    assert!(
        first
            .otpauth_uri
            .starts_with("otpauth://totp/Identity%20Provider:ann%40example.com?secret="),
        "{}",
        first.otpauth_uri
    );
    for p in ["algorithm=SHA1", "digits=6", "period=30"] {
        assert!(first.otpauth_uri.contains(p), "{p}");
    }
    assert!(first.qr_svg.starts_with("<svg"));
    assert_eq!(
        db.idp.enrollment_state(&u.id).unwrap(),
        EnrollmentState::Pending
    );
    // A wrong code does not link.
    assert!(matches!(
        db.idp.confirm_enrollment(&u, "000000", None),
        Err(MfaError::InvalidCode) | Err(MfaError::CodeReplayed)
    ));
    let code = oathtool(&first.activation_code, db.idp.now());
    db.idp
        .confirm_enrollment(&u, &format!("{} {}", &code[..3], &code[3..]), None)
        .unwrap();
    assert_eq!(
        db.idp.enrollment_state(&u.id).unwrap(),
        EnrollmentState::Linked
    );
    assert!(matches!(
        db.idp.begin_enrollment(&u),
        Err(MfaError::AlreadyLinked)
    ));
    // The enrollment code cannot be replayed to sign in.
    assert!(matches!(
        db.idp.verify_totp(&u, &code, None),
        Err(MfaError::CodeReplayed)
    ));
    // The secret is sealed at rest: the database never holds the base32 secret.
    let sealed: String = {
        use diesel::prelude::*;
        let mut c = db.idp.store().conn().unwrap();
        crate::store::schema::totp_credentials::table
            .select(crate::store::schema::totp_credentials::secret_sealed)
            .first(&mut c)
            .unwrap()
    };
    let b32: String = first.activation_code.split_whitespace().collect();
    assert!(!sealed.contains(&b32));
}

fn codes_are_single_use_and_drift_is_tolerated(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let secret = enroll(db, &u);
    db.clock.advance(30);
    let code = oathtool(&secret, db.idp.now());
    db.idp.verify_totp(&u, &code, None).unwrap();
    assert!(matches!(
        db.idp.verify_totp(&u, &code, None),
        Err(MfaError::CodeReplayed)
    ));
    // A phone 30 s behind still works (the previous step), once the current one is not used yet.
    db.clock.advance(60);
    let behind = oathtool(&secret, db.idp.now() - 30);
    db.idp.verify_totp(&u, &behind, None).unwrap();
    // After a newer step was used, an older step's code is refused even if never used.
    let ahead = oathtool(&secret, db.idp.now() + 30);
    db.idp.verify_totp(&u, &ahead, None).unwrap();
    let current = oathtool(&secret, db.idp.now());
    assert!(matches!(
        db.idp.verify_totp(&u, &current, None),
        Err(MfaError::CodeReplayed)
    ));
    // Two minutes off is too far.
    db.clock.advance(300);
    let far = oathtool(&secret, db.idp.now() - 120);
    assert!(matches!(
        db.idp.verify_totp(&u, &far, None),
        Err(MfaError::InvalidCode)
    ));
    assert!(matches!(
        db.idp.verify_totp(&u, "12 34", None),
        Err(MfaError::InvalidFormat)
    ));
}

fn wrong_codes_lock_and_the_lock_expires(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let secret = enroll(db, &u);
    db.clock.advance(30);
    let mut last = None;
    for _ in 0..6 {
        last = Some(db.idp.verify_totp(&u, "000000", None));
    }
    assert!(matches!(last, Some(Err(MfaError::Locked(_)))), "{last:?}");
    let good = oathtool(&secret, db.idp.now());
    assert!(matches!(
        db.idp.verify_totp(&u, &good, None),
        Err(MfaError::Locked(_))
    ));
    db.clock.advance(31);
    let good = oathtool(&secret, db.idp.now());
    db.idp.verify_totp(&u, &good, None).unwrap();
}

fn disconnect_then_reenroll_and_reset_keeps_link(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let old = enroll(db, &u);
    // A password change keeps the app.
    db.idp
        .set_password(
            &u.id,
            "a brand new passphrase",
            &Actor::User(u.id.clone()),
            None,
        )
        .unwrap();
    assert_eq!(db.idp.mfa_step(&u).unwrap(), MfaStep::Verify);
    assert!(db
        .idp
        .authenticate_password("ann@example.com", "a brand new passphrase", None)
        .is_ok());
    // Lost phone: the operator disconnects; the next sign-in enrolls a new secret.
    assert_eq!(db.idp.disconnect_mfa(&u, &op()).unwrap(), Change::Changed);
    assert_eq!(db.idp.disconnect_mfa(&u, &op()).unwrap(), Change::Already);
    assert_eq!(db.idp.mfa_step(&u).unwrap(), MfaStep::Enroll);
    db.clock.advance(30);
    let new = enroll(db, &u);
    assert_ne!(old, new);
    db.clock.advance(30);
    assert!(db
        .idp
        .verify_totp(&u, &oathtool(&old, db.idp.now()), None)
        .is_err());
}

fn concurrent_enrollment_confirmations_have_one_winner(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let view = db.idp.begin_enrollment(&u).unwrap();
    let code = oathtool(&view.activation_code, db.idp.now());
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (idp, u, code, barrier) =
                (db.idp.clone(), u.clone(), code.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                idp.confirm_enrollment(&u, &code, None)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        db.idp.enrollment_state(&u.id).unwrap(),
        EnrollmentState::Linked
    );
}

fn sessions_expire_when_idle_and_slide_on_activity(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, secret) = db
        .idp
        .start_session(&u, &["pwd"], Some("127.0.0.1"), Some("test"))
        .unwrap();
    assert_eq!(s.idle_expires_at(), s.last_active_at + 1800);
    assert!(db.idp.session_by_secret(&secret).unwrap().is_some());
    assert!(db
        .idp
        .session_by_secret("not-the-secret")
        .unwrap()
        .is_none());
    db.clock.advance(1700);
    let touched = db.idp.touch_session(&s.id).unwrap();
    assert_eq!(touched.idle_expires_at(), db.idp.now() + 1800);
    db.clock.advance(1799);
    assert!(db.idp.session_by_secret(&secret).unwrap().is_some());
    db.clock.advance(1);
    assert!(db.idp.session_by_secret(&secret).unwrap().is_none());
    assert!(db.idp.touch_session(&s.id).is_err());
    // The absolute lifetime caps sliding.
    let (s2, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    for _ in 0..26 {
        db.clock.advance(1700);
        let _ = db.idp.touch_session(&s2.id);
    }
    assert!(db.idp.touch_session(&s2.id).is_err(), "12 h cap");
}

fn code_is_single_use_and_replay_revokes(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let new = NewCode {
        client_id: "app",
        redirect_uri: "https://app.example/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope: "openid email",
        nonce: Some("n-1"),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    };
    let code = db.idp.issue_code(&new).unwrap();
    let issued = db
        .idp
        .redeem_code(&code, "app", "https://app.example/cb", Some(verifier))
        .unwrap();
    assert_eq!(issued.nonce.as_deref(), Some("n-1"));
    assert!(db
        .idp
        .live_grant_subject(&issued.grant_id)
        .unwrap()
        .is_some());
    let again = db
        .idp
        .redeem_code(&code, "app", "https://app.example/cb", Some(verifier));
    assert!(matches!(again, Err(GrantError::InvalidGrant(_))));
    assert!(
        db.idp
            .live_grant_subject(&issued.grant_id)
            .unwrap()
            .is_none(),
        "replay revokes the first grant"
    );
    assert!(db.idp.refresh(&issued.refresh_token, "app").is_err());
    // Binding: wrong client, redirect URI, verifier, or too late.
    for (client, uri, v, wait) in [
        ("other", "https://app.example/cb", Some(verifier), 0),
        ("app", "https://app.example/cb/", Some(verifier), 0),
        (
            "app",
            "https://app.example/cb",
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"),
            0,
        ),
        ("app", "https://app.example/cb", None, 0),
        ("app", "https://app.example/cb", Some(verifier), 61),
    ] {
        let code = db.idp.issue_code(&new).unwrap();
        db.clock.advance(wait);
        assert!(
            db.idp.redeem_code(&code, client, uri, v).is_err(),
            "{client} {uri} {v:?} {wait}"
        );
        // The failed attempt burned the code.
        assert!(db
            .idp
            .redeem_code(&code, "app", "https://app.example/cb", Some(verifier))
            .is_err());
    }
}

/// `live_grant_subject` (the one-query `/userinfo` path): the user and account while the grant
/// and its session live; nothing after idle expiry, logout or revocation.
fn userinfo_subject_only_for_a_live_grant(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let grant = |sid: &str| {
        let code = db
            .idp
            .issue_code(&NewCode {
                client_id: "app",
                redirect_uri: "https://app.example/cb",
                session_id: sid,
                user_id: &u.id,
                scope: "openid",
                nonce: None,
                code_challenge: None,
            })
            .unwrap();
        db.idp
            .redeem_code(&code, "app", "https://app.example/cb", None)
            .unwrap()
    };
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let g = grant(&s.id);
    let (found, account) = db.idp.live_grant_subject(&g.grant_id).unwrap().unwrap();
    assert_eq!(found.id, u.id);
    assert_eq!(account.slug, "acme");
    assert!(db
        .idp
        .live_grant_subject("no-such-grant")
        .unwrap()
        .is_none());

    // Idle expiry, without anyone ending the session.
    db.clock.advance(s.idle_timeout_secs - 1);
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_some());
    db.clock.advance(1);
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_none());

    // Logout.
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let g = grant(&s.id);
    db.idp.end_session(&s.id, &op(), None).unwrap();
    assert!(db.idp.live_grant_subject(&g.grant_id).unwrap().is_none());

    // A revoked grant (refresh-token reuse) in a session that lives on.
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let g = grant(&s.id);
    let next = db.idp.refresh(&g.refresh_token, "app").unwrap();
    assert!(db.idp.refresh(&g.refresh_token, "app").is_err(), "reuse");
    assert!(db.idp.live_grant_subject(&next.grant_id).unwrap().is_none());
    assert!(db.idp.live_sessions(&u.id).unwrap().len() == 1);
}

/// A grant for client "app" in session `s` of `u`: a code issued and redeemed (redirect
/// "https://a/cb", no PKCE, no nonce).
fn redeem(
    db: &TestDb,
    u: &User,
    s: &crate::sessions::SsoSession,
    scope: &str,
) -> crate::oauth::Issued {
    let new = NewCode {
        client_id: "app",
        redirect_uri: "https://a/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope,
        nonce: None,
        code_challenge: None,
    };
    db.idp
        .redeem_code(
            &db.idp.issue_code(&new).unwrap(),
            "app",
            "https://a/cb",
            None,
        )
        .unwrap()
}

fn refresh_rotates_and_reuse_revokes_the_chain(db: &TestDb) {
    // Another user in another account, created first, so a grant that found the wrong user or
    // account would show.
    let other = user(db, "globex", "gil@example.com");
    let (other_s, _) = db.idp.start_session(&other, &["pwd"], None, None).unwrap();
    redeem(db, &other, &other_s, "openid");
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let first = redeem(db, &u, &s, "openid");
    assert_eq!(
        (first.user.id.as_str(), first.account.slug.as_str()),
        (u.id.as_str(), "acme"),
        "the code's grant carries its user and account"
    );
    db.clock.advance(600);
    let second = db.idp.refresh(&first.refresh_token, "app").unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        (second.user.email.as_str(), second.account.id.as_str()),
        ("ann@example.com", u.account_id.as_str()),
        "a refresh carries the grant's user and account"
    );
    assert_eq!(
        second.session.idle_expires_at(),
        db.idp.now() + 1800,
        "refresh slides the idle window"
    );
    assert!(
        db.idp.refresh(&second.refresh_token, "other").is_err(),
        "bound to the client"
    );
    // (The wrong-client attempt revoked the grant; start a fresh one for the reuse check.)
    let g = redeem(db, &u, &s, "openid");
    let g2 = db.idp.refresh(&g.refresh_token, "app").unwrap();
    assert!(
        db.idp.refresh(&g.refresh_token, "app").is_err(),
        "reuse refused"
    );
    assert!(
        db.idp.refresh(&g2.refresh_token, "app").is_err(),
        "reuse revoked the newest token too"
    );
    // Idle expiry kills refresh.
    let g = redeem(db, &u, &s, "openid");
    db.clock.advance(1801);
    assert!(db.idp.refresh(&g.refresh_token, "app").is_err());
}

fn refresh_may_narrow_the_scope_but_not_widen_it(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let g = redeem(db, &u, &s, "openid email");
    // Wider than the grant: refused, and nothing was spent.
    assert!(matches!(
        db.idp
            .refresh_with_scope(&g.refresh_token, "app", Some("openid email profile")),
        Err(GrantError::InvalidScope)
    ));
    // Narrower: this response's tokens carry the narrower scope...
    let narrow = db
        .idp
        .refresh_with_scope(&g.refresh_token, "app", Some("openid  email openid"))
        .expect("the refused request left the token usable");
    assert_eq!(narrow.scope, "openid email");
    let narrow = db
        .idp
        .refresh_with_scope(&narrow.refresh_token, "app", Some("openid"))
        .unwrap();
    assert_eq!(narrow.scope, "openid");
    // ...while the grant keeps its own, and an empty scope means the grant's.
    let next = db
        .idp
        .refresh_with_scope(&narrow.refresh_token, "app", Some(" "))
        .unwrap();
    assert_eq!(next.scope, "openid email");
    assert!(
        db.idp.refresh(&narrow.refresh_token, "app").is_err(),
        "still single-use"
    );
}

fn ending_a_session_revokes_its_grants(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let mk = |client: &'static str| NewCode {
        client_id: client,
        redirect_uri: "https://a/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope: "openid",
        nonce: None,
        code_challenge: None,
    };
    let a = db
        .idp
        .redeem_code(
            &db.idp.issue_code(&mk("app-a")).unwrap(),
            "app-a",
            "https://a/cb",
            None,
        )
        .unwrap();
    let b = db
        .idp
        .redeem_code(
            &db.idp.issue_code(&mk("app-b")).unwrap(),
            "app-b",
            "https://a/cb",
            None,
        )
        .unwrap();
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
}

fn concurrent_code_redemptions_have_one_winner(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (s, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let new = NewCode {
        client_id: "app",
        redirect_uri: "https://a/cb",
        session_id: &s.id,
        user_id: &u.id,
        scope: "openid",
        nonce: None,
        code_challenge: None,
    };
    for _ in 0..5 {
        let code = db.idp.issue_code(&new).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (idp, code, barrier) = (db.idp.clone(), code.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    idp.redeem_code(&code, "app", "https://a/cb", None)
                })
            })
            .collect();
        let ok = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|r| r.is_ok())
            .count();
        assert_eq!(ok, 1);
    }
}

crate::on_both_backends!(
    accounts_and_users,
    concurrent_failures_all_count,
    sign_in_is_enumeration_safe,
    password_lockout_and_expiry,
    rehash_when_parameters_change,
    mfa_policy_decides_for_every_user,
    enrollment_links_one_app_and_refuses_a_second,
    codes_are_single_use_and_drift_is_tolerated,
    wrong_codes_lock_and_the_lock_expires,
    disconnect_then_reenroll_and_reset_keeps_link,
    concurrent_enrollment_confirmations_have_one_winner,
    sessions_expire_when_idle_and_slide_on_activity,
    code_is_single_use_and_replay_revokes,
    userinfo_subject_only_for_a_live_grant,
    refresh_rotates_and_reuse_revokes_the_chain,
    refresh_may_narrow_the_scope_but_not_widen_it,
    ending_a_session_revokes_its_grants,
    concurrent_code_redemptions_have_one_winner,
    a_login_flow_is_consumed_once_and_not_after_it_expired,
);

fn a_login_flow_is_consumed_once_and_not_after_it_expired(db: &TestDb) {
    use crate::flows::{FlowError, FlowStage};
    let h = db.idp.create_flow("the request").unwrap();
    let flow = db.idp.consume_flow(&h).unwrap();
    assert_eq!(
        (flow.request.as_str(), flow.stage),
        ("the request", FlowStage::Password)
    );
    assert!(matches!(db.idp.consume_flow(&h), Err(FlowError::Expired)));
    assert!(matches!(db.idp.flow(&h), Err(FlowError::Expired)), "gone");
    let h = db.idp.create_flow("later").unwrap();
    db.clock.advance(db.idp.settings().login_flow_ttl_secs);
    assert!(matches!(db.idp.consume_flow(&h), Err(FlowError::Expired)));
    assert!(matches!(
        db.idp.consume_flow("no such flow"),
        Err(FlowError::Expired)
    ));
}

fn invitation_and_reset_links(db: &TestDb) {
    use crate::email_tokens::Purpose;
    use crate::lifecycle::LifecycleError;
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let u = db
        .idp
        .create_user(
            "acme",
            NewUser {
                email: "new@example.com",
                ..Default::default()
            },
            &op(),
        )
        .unwrap();
    let link = db.idp.issue_email_token(&u.id, Purpose::Invite).unwrap();
    // A reset link cannot be used as an invitation, nor the reverse.
    assert!(db.idp.user_for_email_token(&link, Purpose::Reset).is_err());
    // A refused password keeps the link usable.
    assert!(matches!(
        db.idp
            .set_password_by_link(&link, Purpose::Invite, "short", None),
        Err(LifecycleError::User(UserError::Password(_)))
    ));
    let (done, _) = db
        .idp
        .set_password_by_link(&link, Purpose::Invite, PW, None)
        .unwrap();
    assert_eq!(done.status, UserStatus::Active);
    assert!(done.email_verified);
    assert!(
        db.idp
            .set_password_by_link(&link, Purpose::Invite, PW, None)
            .is_err(),
        "single use"
    );
    assert!(db
        .idp
        .authenticate_password("new@example.com", PW, None)
        .is_ok());
    // Reset: ends sessions, keeps the TOTP link, expires after an hour.
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    enroll(db, &done);
    let (s, _) = db
        .idp
        .start_session(&done, &["pwd", "otp", "mfa"], None, None)
        .unwrap();
    let reset = db.idp.issue_email_token(&u.id, Purpose::Reset).unwrap();
    let (_, ended) = db
        .idp
        .set_password_by_link(&reset, Purpose::Reset, "another fine passphrase", None)
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert!(db.idp.touch_session(&s.id).is_err());
    assert!(db
        .idp
        .authenticate_password("new@example.com", PW, None)
        .is_err());
    assert!(db
        .idp
        .authenticate_password("new@example.com", "another fine passphrase", None)
        .is_ok());
    assert_eq!(
        db.idp.mfa_step(&done).unwrap(),
        MfaStep::Verify,
        "reset keeps the app linked"
    );
    let late = db.idp.issue_email_token(&u.id, Purpose::Reset).unwrap();
    db.clock.advance(3601);
    assert!(db
        .idp
        .set_password_by_link(&late, Purpose::Reset, "yet another passphrase", None)
        .is_err());
}

crate::on_both_backends!(invitation_and_reset_links);

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

fn master_key_rotation_reseals_everything(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    db.idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let secret = enroll(db, &u);
    // A second Idp with a new primary key and the old one for reading.
    let store = crate::Store::open(&db.url, crate::PoolOptions::default()).unwrap();
    let rotated = crate::Idp::new(
        store,
        crate::SecretBox::new(&[6u8; 32], &[[5u8; 32]]),
        cheap_settings(),
        db.clock.clone(),
    )
    .unwrap();
    let report = rotated.reseal_secrets(&op()).unwrap();
    assert_eq!(report.totp_secrets, 1);
    assert_eq!(
        rotated.reseal_secrets(&op()).unwrap().totp_secrets,
        0,
        "idempotent"
    );
    // The new key alone now opens everything: codes still verify.
    let store = crate::Store::open(&db.url, crate::PoolOptions::default()).unwrap();
    let only_new = crate::Idp::new(
        store,
        crate::SecretBox::new(&[6u8; 32], &[]),
        cheap_settings(),
        db.clock.clone(),
    )
    .unwrap();
    db.clock.advance(30);
    only_new
        .verify_totp(&u, &oathtool(&secret, only_new.now()), None)
        .unwrap();
    // And the old key alone no longer does.
    db.clock.advance(30);
    assert!(matches!(
        db.idp
            .verify_totp(&u, &oathtool(&secret, db.idp.now()), None),
        Err(MfaError::Crypto(_))
    ));
}

crate::on_both_backends!(master_key_rotation_reseals_everything);

fn purge_removes_dead_sessions_with_their_tokens(db: &TestDb) {
    use diesel::prelude::*;
    let u = user(db, "acme", "ann@example.com");
    let (dead, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    let new = NewCode {
        client_id: "app",
        redirect_uri: "https://a/cb",
        session_id: &dead.id,
        user_id: &u.id,
        scope: "openid",
        nonce: None,
        code_challenge: None,
    };
    db.idp
        .redeem_code(
            &db.idp.issue_code(&new).unwrap(),
            "app",
            "https://a/cb",
            None,
        )
        .unwrap();
    db.clock.advance(2 * 24 * 3600);
    let (live, _) = db.idp.start_session(&u, &["pwd"], None, None).unwrap();
    assert_eq!(db.idp.purge_expired().unwrap(), 1);
    assert!(db.idp.session_by_id(&dead.id).unwrap().is_none());
    assert!(db.idp.session_by_id(&live.id).unwrap().is_some());
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

crate::on_both_backends!(purge_removes_dead_sessions_with_their_tokens);
