//! A sign-in holds only while the password it checked is the user's: a password set meanwhile
//! (by the user, an operator, a reset link or an import) cancels the sign-ins already past
//! their password step, and one whose password check overlapped the change completes nothing.

use super::*;
use crate::model::Purpose;
use crate::on_both_backends;
use crate::signin::{Browser, CodeStep, SignInError, SignInPage};
use crate::store;

const NEW_PW: &str = "a brand new passphrase";

/// The activation code a sign-in parked at enrollment shows.
fn shown_secret(db: &TestDb, flow: &str) -> String {
    match db.idp.sign_in_page(flow).unwrap() {
        SignInPage::Enroll { view, .. } => view.activation_code,
        other => panic!("enrollment expected: {other:?}"),
    }
}

fn linked(db: &TestDb, u: &User) -> bool {
    store::totp::linked(&mut db.idp.store().conn().unwrap(), &u.id)
        .unwrap()
        .is_some()
}

/// The attacker knows the old password and parks a sign-in at enrollment; the user resets
/// their password (or an operator sets one). The parked sign-in must not link the attacker's
/// app nor open a session.
fn a_password_set_cancels_sign_ins_past_their_password_step(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    // Each way sets the password the next one's sign-in starts with, and says how many
    // sessions it leaves (the user's own change keeps the one it is made in).
    let ways: [(&str, &dyn Fn() -> usize); 4] = [
        (PW, &|| {
            db.idp
                .set_password(&u.id, NEW_PW, &op(), None, None)
                .unwrap();
            0
        }),
        (NEW_PW, &|| {
            let crate::lifecycle::ResetRequest::Send { token, .. } = db
                .idp
                .request_password_reset("ann@example.com", None, None)
                .unwrap()
            else {
                panic!("a reset link expected");
            };
            db.idp
                .set_password_by_link(&token, Purpose::Reset, PW, None, None)
                .unwrap();
            0
        }),
        (PW, &|| {
            let now = db.idp.user_by_id(&u.id).unwrap().unwrap();
            let s = session(db, &now, AuthMethod::Password);
            let own = crate::model::OwnChange {
                sid: &s.id,
                checked: now.password_hash.as_deref().unwrap(),
                successor: &db.idp.successor_of(&s).unwrap(),
                successor_secret_hash: "renewed",
            };
            let me = crate::Actor::User(u.id.clone());
            db.idp
                .set_password(&u.id, NEW_PW, &me, None, Some(own))
                .unwrap();
            1
        }),
        (NEW_PW, &|| {
            db.idp.end_user_sessions(&u, &op(), None).unwrap();
            0
        }),
    ];
    for (password, set) in ways {
        let flow = parked(db, password);
        let activation = shown_secret(db, &flow);
        let kept = set();
        let code = oathtool(&activation, db.idp.now());
        assert!(
            matches!(
                db.idp.sign_in_code(&flow, &code, Browser::default()),
                Err(SignInError::Expired)
            ),
            "the parked sign-in ended with the old password"
        );
        assert!(!linked(db, &u), "no app linked by the parked sign-in");
        assert_eq!(db.idp.live_sessions(&u.id).unwrap().len(), kept);
    }
    // The same at the code step of a user with a linked app.
    let activation = enroll(db, &u);
    db.clock.advance(30);
    // (The ways above left NEW_PW.)
    let flow = parked(db, NEW_PW);
    db.idp.set_password(&u.id, PW, &op(), None, None).unwrap();
    let code = oathtool(&activation, db.idp.now());
    assert!(matches!(
        db.idp.sign_in_code(&flow, &code, Browser::default()),
        Err(SignInError::Expired)
    ));
    assert!(db.idp.live_sessions(&u.id).unwrap().is_empty());
    // A sign-in with the new password goes on as before.
    let flow = parked(db, PW);
    let code = oathtool(&activation, db.idp.now() + 30);
    db.clock.advance(30);
    assert!(matches!(
        db.idp.sign_in_code(&flow, &code, Browser::default()),
        Ok(CodeStep::SignedIn { .. })
    ));
    // A disconnected app (the lost-phone ticket) cancels a sign-in parked at its code.
    db.clock.advance(30);
    let flow = parked(db, PW);
    let code = oathtool(&activation, db.idp.now());
    db.idp.disconnect_mfa(&u, &op(), "T-1 lost phone").unwrap();
    assert!(matches!(
        db.idp.sign_in_code(&flow, &code, Browser::default()),
        Err(SignInError::Expired)
    ));
}

/// The password was checked (the user as read then), then changed before the sign-in took its
/// next step: neither completing it nor moving it to the second factor is possible any more.
fn a_password_checked_before_a_change_completes_nothing(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let checked = db
        .idp
        .authenticate_password("ann@example.com", PW, None)
        .unwrap();
    db.idp
        .set_password(&u.id, NEW_PW, &op(), None, None)
        .unwrap();
    let flow = db.idp.create_flow(Some(&request("openid")), None).unwrap();
    assert!(matches!(
        db.idp
            .complete_sign_in(&flow, &checked, AuthMethod::Password, Browser::default()),
        Err(SignInError::Expired)
    ));
    assert!(matches!(
        db.idp.advance_flow(&flow, &checked, FlowStage::MfaEnroll),
        Err(crate::flows::FlowError::Expired)
    ));
    assert!(db.idp.live_sessions(&u.id).unwrap().is_empty());
    // Checked after the change, it completes.
    let checked = db
        .idp
        .authenticate_password("ann@example.com", NEW_PW, None)
        .unwrap();
    let flow = db.idp.create_flow(Some(&request("openid")), None).unwrap();
    db.idp
        .complete_sign_in(&flow, &checked, AuthMethod::Password, Browser::default())
        .unwrap();
    assert_eq!(db.idp.live_sessions(&u.id).unwrap().len(), 1);
}

/// A user's own change confirms the current password, then hashes the new one: an operator's
/// set-password (or a reset) that commits in between wins, and the own change is refused rather
/// than putting back a password the person changing it chose (they may be the intruder).
fn an_own_change_does_not_undo_a_password_set_meanwhile(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let s = session(db, &u, AuthMethod::Password);
    let successor = db.idp.successor_of(&s).unwrap();
    let own = crate::model::OwnChange {
        sid: &s.id,
        checked: u.password_hash.as_deref().unwrap(),
        successor: &successor,
        successor_secret_hash: "renewed",
    };
    let me = crate::Actor::User(u.id.clone());
    // The operator first (ending the session the change is made in).
    db.idp
        .set_password(&u.id, NEW_PW, &op(), None, None)
        .unwrap();
    assert!(matches!(
        db.idp
            .set_password(&u.id, "the intruders passphrase", &me, None, Some(own)),
        Err(crate::users::UserError::Superseded)
    ));
    assert!(db
        .idp
        .authenticate_password("ann@example.com", NEW_PW, None)
        .is_ok());
    // A live session whose password changed meanwhile (another tab): refused as well.
    let u = db.idp.user_by_id(&u.id).unwrap().unwrap();
    let s = session(db, &u, AuthMethod::Password);
    let successor = db.idp.successor_of(&s).unwrap();
    let stale = crate::model::OwnChange {
        sid: &s.id,
        checked: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA",
        successor: &successor,
        successor_secret_hash: "renewed",
    };
    assert!(matches!(
        db.idp
            .set_password(&u.id, "the intruders passphrase", &me, None, Some(stale)),
        Err(crate::users::UserError::Superseded)
    ));
    // With both still current, it goes through and keeps its session.
    let own = crate::model::OwnChange {
        sid: &s.id,
        checked: u.password_hash.as_deref().unwrap(),
        successor: &successor,
        successor_secret_hash: "renewed",
    };
    db.idp
        .set_password(&u.id, "a passphrase of my own", &me, None, Some(own))
        .unwrap();
    assert_eq!(db.idp.live_sessions(&u.id).unwrap().len(), 1);
}

on_both_backends!(
    an_own_change_does_not_undo_a_password_set_meanwhile,
    a_password_set_cancels_sign_ins_past_their_password_step,
    a_password_checked_before_a_change_completes_nothing,
);
