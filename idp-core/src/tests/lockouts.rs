//! Password lockouts: per email at an address, per email, per address and per known browser,
//! their expiry and their sliding window, what a success gives back on a key many people share,
//! and the forgot-password budget.

use super::*;
use crate::model::{KnownBrowser, KNOWN_BROWSER_TTL_SECS};
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
    a_stranger_cannot_spend_a_users_forgot_password_budget,
    a_known_browser_is_not_refused_for_failures_made_by_others,
    an_address_under_attack_refuses_only_browsers_nobody_vouched_for,
    an_operators_unlock_lifts_every_lock_of_the_email,
    the_forgot_password_ceiling_spares_the_known_browser,
);

/// A stranger asking for Ann's reset link from their address spends only the budget of that
/// address for her email: Ann's own request from hers still sends the link.
fn a_stranger_cannot_spend_a_users_forgot_password_budget(db: &TestDb) {
    use crate::lifecycle::ResetRequest;
    user(db, "acme", "ann@example.com");
    let sent = |ip: &str| {
        matches!(
            db.idp
                .request_password_reset("ann@example.com", Some(ip), None)
                .unwrap(),
            ResetRequest::Send { .. }
        )
    };
    let stranger: Vec<bool> = (0..6).map(|_| sent("203.0.113.66")).collect();
    assert_eq!(stranger, [true, true, true, false, false, false]);
    assert!(
        sent("198.51.100.20"),
        "Ann's own request sends her the link"
    );
}

/// A browser known for Ann (it signed in as her before) is refused for nothing others did: not
/// for an attacker's lock on her email at the attacker's address (even from that address), not
/// for the email's growing delay that failures from many addresses set. A browser nobody
/// vouched for gets both. A cookie of another user, a forged one or one from before a password
/// change vouches for nothing.
fn a_known_browser_is_not_refused_for_failures_made_by_others(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let bob = user(db, "acme", "bob@example.com");
    let cookie = db.idp.vouch_for_browser(&ann.id).unwrap();
    let known = db.idp.known_browser(&cookie).unwrap();
    let sign_in = |ip: &str, known: Option<&KnownBrowser>| {
        db.idp
            .authenticate_password_from("ann@example.com", PW, Some(ip), known)
    };
    const ATTACKER: &str = "203.0.113.66";
    for _ in 0..5 {
        wrong(db, "ann@example.com", Some(ATTACKER));
    }
    assert!(matches!(sign_in(ATTACKER, None), Err(AuthError::Locked(_))));
    assert!(
        sign_in("198.51.100.20", None).is_ok(),
        "only at that address"
    );
    for i in 0..5 {
        wrong(db, "ann@example.com", Some(&format!("192.0.2.{i}")));
    }
    // Ten failures for the email from anywhere: a browser nobody vouched for waits.
    assert!(matches!(
        sign_in("198.51.100.20", None),
        Err(AuthError::Locked(l)) if l.until == db.idp.now() + 30
    ));
    assert!(sign_in("198.51.100.20", Some(&known)).is_ok());
    assert!(
        sign_in(ATTACKER, Some(&known)).is_ok(),
        "not even at the attacker's address"
    );
    // What does not vouch for Ann.
    let bobs = db
        .idp
        .known_browser(&db.idp.vouch_for_browser(&bob.id).unwrap());
    assert!(matches!(
        sign_in("198.51.100.20", bobs.as_ref()),
        Err(AuthError::Locked(_))
    ));
    let forged = cookie.replacen(&ann.id, &bob.id, 1);
    assert!(db.idp.known_browser(&forged).is_none());
    assert!(db.idp.known_browser(&format!("{cookie}x")).is_none());
    assert!(db.idp.known_browser("v1.ab.1.cd.").is_none());
    db.clock.advance(1);
    db.idp
        .set_password(&ann.id, "a brand new passphrase", &op(), None, None)
        .unwrap();
    let ann = db.idp.user_by_id(&ann.id).unwrap().unwrap();
    assert!(
        !known.vouches_for(&ann),
        "a password change voids the cookies issued before it"
    );
    let renewed = db.idp.vouch_for_browser(&ann.id).unwrap();
    assert!(db.idp.known_browser(&renewed).unwrap().vouches_for(&ann));
    // A known browser's own failures lock it (a thief with the cookie guesses no faster).
    let renewed = db.idp.known_browser(&renewed).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            db.idp.authenticate_password_from(
                "ann@example.com",
                "wrong password!!",
                None,
                Some(&renewed)
            ),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        db.idp.authenticate_password_from(
            "ann@example.com",
            "a brand new passphrase",
            None,
            Some(&renewed)
        ),
        Err(AuthError::Locked(_))
    ));
    db.clock.advance(KNOWN_BROWSER_TTL_SECS);
    assert!(db.idp.known_browser(&cookie).is_none(), "expired");
}

/// A store behind one address: an attacker there fails for fifty emails, locking the address.
/// A browser known for Bob still signs him in there; a browser there nobody vouched for (Carol's
/// new laptop) waits out the address's lock; Carol from elsewhere is not affected. An IPv6
/// attacker changing addresses inside their /64 is one address.
fn an_address_under_attack_refuses_only_browsers_nobody_vouched_for(db: &TestDb) {
    let bob = user(db, "acme", "bob@example.com");
    user(db, "acme", "carol@example.com");
    let known = db
        .idp
        .known_browser(&db.idp.vouch_for_browser(&bob.id).unwrap())
        .unwrap();
    const STORE: &str = "2001:db8:5:7::1";
    for i in 0..50 {
        wrong(
            db,
            &format!("guess{i}@example.com"),
            Some(&format!("2001:db8:5:7::{:x}", 100 + i)),
        );
    }
    assert!(db
        .idp
        .authenticate_password_from("bob@example.com", PW, Some(STORE), Some(&known))
        .is_ok());
    assert!(matches!(
        db.idp
            .authenticate_password("carol@example.com", PW, Some(STORE)),
        Err(AuthError::Locked(_))
    ));
    assert!(db
        .idp
        .authenticate_password("carol@example.com", PW, Some("2001:db8:5:8::1"))
        .is_ok());
}

/// An operator's unlock lifts every lock of the user's email: at each address and the delay.
fn an_operators_unlock_lifts_every_lock_of_the_email(db: &TestDb) {
    user(db, "acme", "ann@example.com");
    user(db, "acme", "xann@example.com");
    for i in 0..10 {
        wrong(db, "ann@example.com", Some(&format!("192.0.2.{}", i / 5)));
    }
    for _ in 0..5 {
        wrong(db, "xann@example.com", Some("192.0.2.0"));
    }
    db.idp.unlock_user("ann@example.com", &op()).unwrap();
    for ip in ["192.0.2.0", "192.0.2.1", "198.51.100.1"] {
        assert!(db
            .idp
            .authenticate_password("ann@example.com", PW, Some(ip))
            .is_ok());
    }
    assert!(
        matches!(
            db.idp
                .authenticate_password("xann@example.com", PW, Some("192.0.2.0")),
            Err(AuthError::Locked(_))
        ),
        "another email's locks stay"
    );
}

/// The ceiling on reset mails to one mailbox from anywhere (a flood from many addresses) does
/// not stop the user's known browser.
fn the_forgot_password_ceiling_spares_the_known_browser(db: &TestDb) {
    use crate::lifecycle::ResetRequest;
    let ann = user(db, "acme", "ann@example.com");
    let cookie = db.idp.vouch_for_browser(&ann.id).unwrap();
    let sent = |ip: &str, known: Option<&str>| {
        matches!(
            db.idp
                .request_password_reset("ann@example.com", Some(ip), known)
                .unwrap(),
            ResetRequest::Send { .. }
        )
    };
    for i in 0..10 {
        assert!(sent(&format!("192.0.2.{i}"), None));
    }
    assert!(!sent("198.51.100.20", None), "the ceiling");
    assert!(sent("198.51.100.20", Some(&cookie)));
}
