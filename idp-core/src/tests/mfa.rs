//! The per-account MFA policy and TOTP: enrollment bound to its sign-in, single-use codes,
//! drift, lockout, disconnect.

use std::sync::{Arc, Barrier};

use super::*;
use crate::accounts::Change;
use crate::mfa::{EnrollmentState, MfaError, MfaStep};

fn mfa_policy_decides_for_every_user(db: &TestDb) {
    let a = user(db, "acme", "ann@example.com");
    let b = user(db, "acme", "bob@example.com");
    let other = user(db, "other", "cy@example.com");
    assert_eq!(db.idp.mfa_step(&a).unwrap(), MfaStep::None);
    assert_eq!(
        db.idp
            .set_mfa_policy("acme", MfaPolicy::Required, &op())
            .unwrap()
            .0,
        Change::Changed
    );
    assert_eq!(
        db.idp
            .set_mfa_policy("acme", MfaPolicy::Required, &op())
            .unwrap()
            .0,
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
    require_mfa(db, "acme");
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
    require_mfa(db, "acme");
    let flow = enrollment_flow(db, &u);
    let first = db.idp.begin_enrollment(&u, &flow).unwrap();
    // Reloading the page of this sign-in shows the same secret.
    assert_eq!(
        db.idp.begin_enrollment(&u, &flow).unwrap().activation_code,
        first.activation_code
    );
    assert!(
        first
            .otpauth_uri
            .starts_with("otpauth://totp/Identity%20Provider:ann%40example.com?secret="),
        "{}",
        first.otpauth_uri
    );
    assert!(first.otpauth_uri.contains("issuer=Identity%20Provider"));
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
        db.idp.confirm_enrollment(&u, &flow, "000000", None, None),
        Err(MfaError::InvalidCode)
    ));
    let code = oathtool(&first.activation_code, db.idp.now());
    db.idp
        .confirm_enrollment(
            &u,
            &flow,
            &format!("{} {}", &code[..3], &code[3..]),
            Some("192.0.2.10"),
            Some("Firefox/140"),
        )
        .unwrap();
    assert_eq!(
        db.idp.enrollment_state(&u.id).unwrap(),
        EnrollmentState::Linked
    );
    assert!(matches!(
        db.idp.begin_enrollment(&u, &enrollment_flow(db, &u)),
        Err(MfaError::AlreadyLinked)
    ));
    // The enrollment code cannot be replayed to sign in.
    assert!(matches!(
        db.idp.verify_totp(&u, &code, None),
        Err(MfaError::CodeReplayed)
    ));
    // The link is an audit event with where and what from.
    let linked = db
        .idp
        .audit_for_user(&u.id, 10)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "mfa.enrolled")
        .expect("audited");
    assert_eq!(linked.ip.as_deref(), Some("192.0.2.10"));
    assert!(linked.detail.unwrap_or_default().contains("Firefox/140"));
    // The secret is sealed at rest: the database never holds the base32 secret.
    let sealed: String = {
        let mut c = db.idp.store().conn().unwrap();
        crate::store::schema::totp_credentials::table
            .select(crate::store::schema::totp_credentials::secret_sealed)
            .first(&mut c)
            .unwrap()
    };
    let b32: String = first.activation_code.split_whitespace().collect();
    assert!(!sealed.contains(&b32));
}

/// Someone with a phished password opens enrollment and copies the secret. The real user's next
/// sign-in gets a secret of its own, and the copied one can never be confirmed from it: codes of
/// the attacker's secret are refused there. The secret also dies with its sign-in.
fn an_enrollment_secret_belongs_to_the_sign_in_that_showed_it(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    let attacker = enrollment_flow(db, &u);
    let copied = db.idp.begin_enrollment(&u, &attacker).unwrap();
    let real = enrollment_flow(db, &u);
    let shown = db.idp.begin_enrollment(&u, &real).unwrap();
    assert_ne!(shown.activation_code, copied.activation_code);
    // A code of the copied secret, typed in the real user's sign-in: refused.
    let code = oathtool(&copied.activation_code, db.idp.now());
    assert!(matches!(
        db.idp.confirm_enrollment(&u, &real, &code, None, None),
        Err(MfaError::InvalidCode)
    ));
    // The real user links their own app; the attacker's secret is worth nothing afterwards.
    let code = oathtool(&shown.activation_code, db.idp.now());
    db.idp
        .confirm_enrollment(&u, &real, &code, None, None)
        .unwrap();
    db.clock.advance(30);
    let attackers_code = oathtool(&copied.activation_code, db.idp.now());
    assert!(matches!(
        db.idp
            .confirm_enrollment(&u, &attacker, &attackers_code, None, None),
        Err(MfaError::AlreadyLinked)
    ));
    assert!(matches!(
        db.idp.verify_totp(&u, &attackers_code, None),
        Err(MfaError::InvalidCode)
    ));
    // A pending secret expires with its flow.
    db.idp.disconnect_mfa(&u, &op(), "T-1 lost phone").unwrap();
    let flow = enrollment_flow(db, &u);
    let view = db.idp.begin_enrollment(&u, &flow).unwrap();
    db.clock.advance(db.idp.settings().login_flow_ttl_secs);
    assert!(matches!(
        db.idp.confirm_enrollment(
            &u,
            &flow,
            &oathtool(&view.activation_code, db.idp.now()),
            None,
            None
        ),
        Err(MfaError::NotEnrolled)
    ));
    assert_eq!(
        db.idp.enrollment_state(&u.id).unwrap(),
        EnrollmentState::NotEnrolled
    );
}

fn codes_are_single_use_and_drift_is_tolerated(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
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
    require_mfa(db, "acme");
    let secret = enroll(db, &u);
    db.clock.advance(30);
    let results: Vec<_> = (0..5)
        .map(|_| db.idp.verify_totp(&u, "000000", None))
        .collect();
    assert!(
        results[..4]
            .iter()
            .all(|r| matches!(r, Err(MfaError::InvalidCode))),
        "{results:?}"
    );
    assert!(
        matches!(results[4], Err(MfaError::Locked(_))),
        "the fifth wrong code locks: {results:?}"
    );
    let good = oathtool(&secret, db.idp.now());
    assert!(matches!(
        db.idp.verify_totp(&u, &good, None),
        Err(MfaError::Locked(_))
    ));
    db.clock.advance(31);
    let good = oathtool(&secret, db.idp.now());
    db.idp.verify_totp(&u, &good, None).unwrap();
}

/// 40 wrong codes at once get at most the limit's number of checks.
fn parallel_wrong_codes_get_at_most_the_limit(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    enroll(db, &u);
    const N: usize = 40;
    let barrier = Barrier::new(N);
    let results: Vec<Result<(), MfaError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    db.idp.verify_totp(&u, "000000", None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failures = db
        .idp
        .audit_for_user(&u.id, 100)
        .unwrap()
        .iter()
        .filter(|e| e.action == "mfa.code_failed")
        .count();
    let limit = db.idp.settings().throttle.totp_per_user.limit as usize;
    assert_eq!(failures, limit, "checks made: {results:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(MfaError::Locked(_))))
            .count(),
        N - limit + 1,
        "the limit-reaching check answers locked, and so does every refused one"
    );
}

fn disconnect_then_reenroll_and_reset_keeps_link(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    let old = enroll(db, &u);
    // A password change keeps the app.
    db.idp
        .set_password(
            &u.id,
            "a brand new passphrase",
            &Actor::User(u.id.clone()),
            None,
            None,
        )
        .unwrap();
    assert_eq!(db.idp.mfa_step(&u).unwrap(), MfaStep::Verify);
    assert!(db
        .idp
        .authenticate_password("ann@example.com", "a brand new passphrase", None)
        .is_ok());
    // Lost phone: the operator disconnects; the sessions its codes opened end (a refresh kept
    // them going while reuse at /authorize refused them, found by review); the next sign-in
    // enrolls a new secret.
    let s = session(db, &u, AuthMethod::PasswordAndTotp);
    assert_eq!(
        db.idp
            .disconnect_mfa(&u, &op(), "T-1 lost phone")
            .unwrap()
            .change,
        Change::Changed
    );
    assert!(
        db.idp.touch_session(&s.id).is_err(),
        "signed out everywhere"
    );
    assert_eq!(
        db.idp
            .disconnect_mfa(&u, &op(), "T-1 lost phone")
            .unwrap()
            .change,
        Change::Already
    );
    assert_eq!(db.idp.mfa_step(&u).unwrap(), MfaStep::Enroll);
    db.clock.advance(30);
    let new = enroll(db, &u);
    assert_ne!(old, new);
    db.clock.advance(30);
    assert!(db
        .idp
        .verify_totp(&u, &oathtool(&old, db.idp.now()), None)
        .is_err());
    assert!(db
        .idp
        .audit_for_user(&u.id, 20)
        .unwrap()
        .iter()
        .any(|e| e.action == "mfa.disconnected" && e.actor == "operator:test"));
}

fn concurrent_enrollment_confirmations_have_one_winner(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    // The same flow submitted twice at once, and two flows of the same user at once.
    let flow = enrollment_flow(db, &u);
    let view = db.idp.begin_enrollment(&u, &flow).unwrap();
    let other_flow = enrollment_flow(db, &u);
    let other = db.idp.begin_enrollment(&u, &other_flow).unwrap();
    let attempts = [
        (flow.clone(), oathtool(&view.activation_code, db.idp.now())),
        (flow, oathtool(&view.activation_code, db.idp.now())),
        (other_flow, oathtool(&other.activation_code, db.idp.now())),
    ];
    let barrier = Arc::new(Barrier::new(attempts.len()));
    let handles: Vec<_> = attempts
        .into_iter()
        .map(|(flow, code)| {
            let (idp, u, barrier) = (db.idp.clone(), u.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                idp.confirm_enrollment(&u, &flow, &code, None, None)
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

/// The account-wide listing gives each user the state `enrollment_state` gives them one by one.
fn an_accounts_users_come_with_their_enrollment_state(db: &TestDb) {
    let linked = user(db, "acme", "ann@example.com");
    let pending = user(db, "acme", "bob@example.com");
    let none = user(db, "acme", "cy@example.com");
    let elsewhere = user(db, "other", "dee@example.com");
    require_mfa(db, "acme");
    require_mfa(db, "other");
    enroll(db, &linked);
    db.idp
        .begin_enrollment(&pending, &enrollment_flow(db, &pending))
        .unwrap();
    db.idp
        .begin_enrollment(&elsewhere, &enrollment_flow(db, &elsewhere))
        .unwrap();
    let mut listed: Vec<(String, EnrollmentState)> = db
        .idp
        .users_with_enrollment(" acme ")
        .unwrap()
        .into_iter()
        .map(|(u, s)| (u.email, s))
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        listed,
        vec![
            (linked.email.clone(), EnrollmentState::Linked),
            (pending.email.clone(), EnrollmentState::Pending),
            (none.email.clone(), EnrollmentState::NotEnrolled),
        ]
    );
    for u in [&linked, &pending, &none] {
        let one = db.idp.enrollment_state(&u.id).unwrap();
        assert!(listed.contains(&(u.email.clone(), one)), "{}", u.email);
    }
    assert!(db.idp.users_with_enrollment("nope").is_err());
}

crate::on_both_backends!(
    an_accounts_users_come_with_their_enrollment_state,
    mfa_policy_decides_for_every_user,
    enrollment_links_one_app_and_refuses_a_second,
    an_enrollment_secret_belongs_to_the_sign_in_that_showed_it,
    codes_are_single_use_and_drift_is_tolerated,
    wrong_codes_lock_and_the_lock_expires,
    parallel_wrong_codes_get_at_most_the_limit,
    disconnect_then_reenroll_and_reset_keeps_link,
    concurrent_enrollment_confirmations_have_one_winner,
);
