//! Password lockouts: per email and per address, their expiry and their sliding window, and
//! what a success gives back on an address many people share.

use super::*;
use crate::users::AuthError;

/// A wrong password, refused as wrong (not as locked).
fn wrong(db: &TestDb, email: &str, ip: Option<&str>) {
    let guess = db.idp.authenticate_password(email, "wrong password!!", ip);
    assert!(
        matches!(guess, Err(AuthError::InvalidCredentials)),
        "{email}: {guess:?}"
    );
}

fn password_lockout_and_expiry(db: &TestDb) {
    user(db, "acme", "ann@example.com");
    // Five failures are allowed; the fifth locks for 30 s.
    for _ in 0..5 {
        wrong(db, "ann@example.com", None);
    }
    // While locked even the right password is refused, without being checked.
    assert!(matches!(
        db.idp.authenticate_password("ann@example.com", PW, None),
        Err(AuthError::Locked(l)) if l.until == db.idp.now() + 30
    ));
    // Unknown emails lock the same way, so a lockout does not reveal that an email exists.
    for _ in 0..5 {
        assert!(db
            .idp
            .authenticate_password("ghost@example.com", "wrong password!!", None)
            .is_err());
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
    // After the lock, each further failure doubles it.
    db.clock.advance(31);
    wrong(db, "ann@example.com", None);
    assert!(matches!(
        db.idp.authenticate_password("ann@example.com", PW, None),
        Err(AuthError::Locked(l)) if l.until == db.idp.now() + 60
    ));
    db.clock.advance(61);
    assert!(db
        .idp
        .authenticate_password("ann@example.com", PW, None)
        .is_ok());
    // A success forgets the failures before it: 3 + 3 failures around a success do not lock,
    // where 5 in a row would.
    for round in 0..2 {
        for _ in 0..3 {
            wrong(db, "bob@example.com", None);
        }
        assert!(
            db.idp
                .authenticate_password("bob@example.com", PW, None)
                .is_ok(),
            "round {round}"
        );
    }
}

/// The failure window slides from the last failure: a guess every 50 minutes never lets the
/// count start again (with a window from the first failure it would reset every hour), while an
/// hour without any failure does.
fn the_failure_window_slides_from_the_last_failure(db: &TestDb) {
    user(db, "acme", "ann@example.com");
    for _ in 0..5 {
        wrong(db, "ann@example.com", None);
        db.clock.advance(50 * 60);
    }
    let state = db
        .idp
        .password_lockout(&db.idp.user_by_email("ann@example.com").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(state.failures, 5, "the count never started again");
    // Quiet for more than the window: the next failure is the first of a new count.
    db.clock.advance(61 * 60);
    wrong(db, "ann@example.com", None);
    let state = db
        .idp
        .password_lockout(&db.idp.user_by_email("ann@example.com").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((state.failures, state.locked_until), (1, None));
}

/// An address that reached its failure limit (an office behind one NAT): once the lock has run
/// out, correct passwords from it neither lock it again nor keep its count alive (found by a
/// review: each success's reservation set a lock its refund kept, so the office got one sign-in
/// a minute, and moved the window so the count never aged out). Each real failure past the
/// limit still locks, for longer each time.
fn successes_from_a_locked_out_address_neither_relock_it_nor_keep_its_count(db: &TestDb) {
    let ip = Some("203.0.113.9");
    for i in 0..5 {
        user(db, "acme", &format!("u{i}@example.com"));
    }
    for i in 0..50 {
        wrong(db, &format!("nobody{i}@example.com"), ip);
    }
    assert!(matches!(
        db.idp.authenticate_password("u0@example.com", PW, ip),
        Err(AuthError::Locked(_))
    ));
    db.clock.advance(31);
    for i in 0..5 {
        let signed = db
            .idp
            .authenticate_password(&format!("u{i}@example.com"), PW, ip);
        assert!(signed.is_ok(), "success {i} after the lock: {signed:?}");
    }
    // A real failure past the limit locks again.
    wrong(db, "nobody@example.com", ip);
    assert!(matches!(
        db.idp.authenticate_password("u0@example.com", PW, ip),
        Err(AuthError::Locked(_))
    ));
    // An hour after that failure, with successes meanwhile, the count starts again.
    db.clock.advance(61);
    for i in 0..5 {
        assert!(db
            .idp
            .authenticate_password(&format!("u{i}@example.com"), PW, ip)
            .is_ok());
        db.clock.advance(12 * 60);
    }
    wrong(db, "nobody@example.com", ip);
    assert!(
        db.idp
            .authenticate_password("u1@example.com", PW, ip)
            .is_ok(),
        "one failure of a new count does not lock"
    );
}

crate::on_both_backends!(
    password_lockout_and_expiry,
    the_failure_window_slides_from_the_last_failure,
    successes_from_a_locked_out_address_neither_relock_it_nor_keep_its_count,
);
