//! The people around the provider: roles (always with a second factor), the disconnect that a
//! phone call cannot abuse (a reason, an hourly limit per operator, everyone told), the console's
//! rules, and `/account`'s sessions.

use super::*;
use crate::console::{Act, ConsoleEntry, ConsoleError, Followup, Staff};
use crate::mfa::{MfaError, MfaStep};
use crate::model::{Change, ReasonError, Role};
use crate::policy::{StaffAction, StaffRefusal};

fn helpdesk() -> Actor {
    Actor::Client {
        client_id: "helpdesk".into(),
        on_behalf_of: None,
        ip: Some("192.0.2.7".into()),
    }
}

fn grant(db: &TestDb, u: &User, role: Role) -> User {
    db.idp.set_role(u, role, true, &op()).unwrap();
    db.idp.user_by_id(&u.id).unwrap().unwrap()
}

/// A console session for `u` (who must hold a role and have passed a second factor).
fn staff(db: &TestDb, u: &User) -> Staff {
    let s = session(db, u, AuthMethod::PasswordAndTotp);
    let g = grant_for(db, crate::roles::CONSOLE_CLIENT_ID, u, &s, "openid");
    match db.idp.console_entry(&g.grant_id).unwrap() {
        ConsoleEntry::Staff(staff) => *staff,
        other => panic!("{other:?}"),
    }
}

/// A role always needs a second factor: granting one ends the user's sessions without one (with
/// back-channel logout) and the next sign-in enrolls first; taking it back ends the console's
/// grants. Audited, idempotent.
fn a_role_always_needs_a_second_factor(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let weak = session(db, &u, AuthMethod::Password);
    redeem(db, &u, &weak, "openid");
    assert_eq!(
        db.idp.mfa_step(&u).unwrap(),
        MfaStep::None,
        "MFA is off for acme"
    );
    let granted = db
        .idp
        .set_role(&u, Role::AccountAdmin, true, &op())
        .unwrap();
    assert_eq!((granted.change, granted.ended.len()), (Change::Changed, 1));
    // No app linked yet: the next sign-in enrolls first (the documents' flow;
    // `relink_requires_email` sends it through the mailbox instead, see below).
    assert!(
        granted.relink_token.is_none(),
        "relink_requires_email is off"
    );
    assert_eq!(
        queued_logouts(db),
        vec![(weak.id.clone(), "app".into(), "role_granted".into())]
    );
    let u = db.idp.user_by_id(&u.id).unwrap().unwrap();
    assert_eq!(u.roles.list(), [Role::AccountAdmin]);
    assert!(!u.relink_by_email);
    assert_eq!(db.idp.mfa_step(&u).unwrap(), MfaStep::Enroll);
    let flow = db.idp.create_flow(None, None).unwrap();
    db.idp
        .sign_in_password(&flow, "ann@example.com", PW, Default::default())
        .unwrap();
    assert!(matches!(
        db.idp.sign_in_page(&flow).unwrap(),
        crate::signin::SignInPage::Enroll { .. }
    ));
    assert_eq!(
        db.idp
            .set_role(&u, Role::AccountAdmin, true, &op())
            .unwrap()
            .change,
        Change::Already
    );
    // The console's grant ends when the role is taken back.
    let strong = session(db, &u, AuthMethod::PasswordAndTotp);
    let console = grant_for(db, crate::roles::CONSOLE_CLIENT_ID, &u, &strong, "openid");
    assert!(matches!(
        db.idp.console_entry(&console.grant_id).unwrap(),
        ConsoleEntry::Staff(_)
    ));
    db.idp
        .set_role(&u, Role::AccountAdmin, false, &op())
        .unwrap();
    assert!(matches!(
        db.idp.console_entry(&console.grant_id).unwrap(),
        ConsoleEntry::SignedOut
    ));
    let actions: Vec<String> = db
        .idp
        .audit_for_user(&u.id, 20)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"user.role_granted".into()), "{actions:?}");
    assert!(actions.contains(&"user.role_revoked".into()), "{actions:?}");
    // A user with no role in a live console session sees "no access".
    let plain = user(db, "acme", "bob@example.com");
    let s = session(db, &plain, AuthMethod::Password);
    let g = grant_for(db, crate::roles::CONSOLE_CLIENT_ID, &plain, &s, "openid");
    assert!(matches!(
        db.idp.console_entry(&g.grant_id).unwrap(),
        ConsoleEntry::NoRole(_)
    ));
    // Another app's grant is no console session.
    let other = redeem(db, &plain, &s, "openid");
    assert!(matches!(
        db.idp.console_entry(&other.grant_id).unwrap(),
        ConsoleEntry::SignedOut
    ));
}

/// A disconnect needs a reason, ends every session, tells the user and the account's admins,
/// records the reason; each console user and admin client may make only so many an hour (the
/// refusal audited); the operator at the command line is not limited.
fn a_disconnect_needs_a_reason_and_has_an_hourly_limit(db: &TestDb) {
    let limit = db.idp.settings().throttle.disconnects_per_actor.limit as usize;
    let admin = user(db, "acme", "boss@example.com");
    grant(db, &admin, Role::AccountAdmin);
    require_mfa(db, "acme");
    let users: Vec<User> = (0..=limit)
        .map(|i| {
            let u = user(db, "acme", &format!("u{i}@example.com"));
            enroll(db, &u);
            u
        })
        .collect();
    for bad in ["", "   "] {
        assert!(matches!(
            db.idp.disconnect_mfa(&users[0], &helpdesk(), bad),
            Err(MfaError::Reason(ReasonError::Missing))
        ));
    }
    let s = session(db, &users[0], AuthMethod::PasswordAndTotp);
    let done = db
        .idp
        .disconnect_mfa(&users[0], &helpdesk(), "T-9 lost phone")
        .unwrap();
    assert_eq!(done.change, Change::Changed);
    assert!(
        db.idp.touch_session(&s.id).is_err(),
        "signed out everywhere"
    );
    let told: Vec<(&str, bool)> = done
        .notify
        .iter()
        .map(|r| (r.email.as_str(), r.is_subject))
        .collect();
    assert_eq!(
        told,
        [("u0@example.com", true), ("boss@example.com", false)]
    );
    assert!(done.relink_token.is_none(), "relink_requires_email is off");
    let ev = db
        .idp
        .audit_for_user(&users[0].id, 5)
        .unwrap()
        .into_iter()
        .find(|e| e.action == "mfa.disconnected")
        .unwrap();
    assert_eq!(ev.reason.as_deref(), Some("T-9 lost phone"));
    assert_eq!(ev.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(ev.actor, "client:helpdesk");
    for u in &users[1..limit] {
        db.idp.disconnect_mfa(u, &helpdesk(), "T-9").unwrap();
    }
    let refused = db
        .idp
        .disconnect_mfa(&users[limit], &helpdesk(), "T-9 one more");
    assert!(
        matches!(refused, Err(MfaError::TooManyDisconnects(_))),
        "{refused:?}"
    );
    assert_eq!(
        db.idp.enrollment_state(&users[limit].id).unwrap(),
        crate::mfa::EnrollmentState::Linked,
        "nothing changed"
    );
    assert!(db
        .idp
        .audit_for_user(&users[limit].id, 5)
        .unwrap()
        .iter()
        .any(|e| e.action == "mfa.disconnect_refused"));
    // Another actor has its own budget; the command line none.
    let other = Actor::Client {
        client_id: "other-desk".into(),
        on_behalf_of: None,
        ip: None,
    };
    assert_eq!(
        db.idp
            .disconnect_mfa(&users[limit], &other, "T-10")
            .unwrap()
            .change,
        Change::Changed
    );
    enroll(db, &users[limit]);
    for _ in 0..2 {
        db.idp.disconnect_mfa(&users[limit], &op(), "T-11").unwrap();
    }
}

/// The console's rules, through the use cases: an account-admin acts in their own account on
/// users without a role, cannot turn MFA off or touch another company; support can; every
/// change names the console user, their address and the reason.
fn the_console_acts_only_as_each_role_may(db: &TestDb) {
    let boss = user(db, "acme", "boss@example.com");
    let boss = grant(db, &boss, Role::AccountAdmin);
    let ann = user(db, "acme", "ann@example.com");
    let peer = user(db, "acme", "peer@example.com");
    grant(db, &peer, Role::AccountAdmin);
    let helper = user(db, "vendor", "help@example.com");
    let helper = grant(db, &helper, Role::Support);
    user(db, "globex", "gil@example.com");
    let admin_desk = staff(db, &boss);
    let support_desk = staff(db, &helper);
    let act =
        |desk: &Staff, act: Act<'_>| db.idp.console_act(desk, &act, "T-77", Some("198.51.100.4"));
    fn on(action: StaffAction, user: &User) -> Act<'_> {
        Act::OnUser {
            action,
            user_id: &user.id,
        }
    }
    let refused = |r: Result<_, ConsoleError>| match r {
        Err(ConsoleError::Refused(why)) => why,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        db.idp
            .console_act(&admin_desk, &on(StaffAction::Disable, &ann), " ", None),
        Err(ConsoleError::Reason(ReasonError::Missing))
    ));
    let done = act(&admin_desk, on(StaffAction::Disable, &ann)).unwrap();
    assert_eq!(done.change, Change::Changed);
    let ev = db.idp.audit_for_user(&ann.id, 1).unwrap().pop().unwrap();
    assert_eq!(
        (ev.action.as_str(), ev.actor, ev.ip, ev.reason),
        (
            "user.disabled",
            format!("console:{}", boss.id),
            Some("198.51.100.4".to_string()),
            Some("T-77".to_string())
        )
    );
    assert_eq!(
        refused(act(&admin_desk, on(StaffAction::DisconnectApp, &peer))),
        StaffRefusal::HoldsRole
    );
    assert_eq!(
        refused(act(&admin_desk, on(StaffAction::EndSessions, &boss))),
        StaffRefusal::OwnUser
    );
    assert_eq!(
        refused(act(
            &admin_desk,
            Act::Mfa {
                policy: MfaPolicy::Off,
                slug: "acme"
            }
        )),
        StaffRefusal::SupportOnly
    );
    assert!(matches!(
        act(
            &admin_desk,
            Act::Mfa {
                policy: MfaPolicy::Required,
                slug: "globex"
            }
        ),
        Err(ConsoleError::NotFound)
    ));
    let gil = db.idp.user_by_email("gil@example.com").unwrap();
    assert!(matches!(
        act(&admin_desk, on(StaffAction::Disable, &gil)),
        Err(ConsoleError::NotFound)
    ));
    assert!(db
        .idp
        .console_search(&admin_desk, "gil")
        .unwrap()
        .is_empty());
    assert_eq!(
        db.idp.console_search(&admin_desk, "ANN").unwrap().len(),
        3,
        "by name too (the test users are all called Ann), in this account only"
    );
    assert!(
        db.idp.console_search(&admin_desk, "%").unwrap().is_empty(),
        "literally"
    );
    assert_eq!(
        db.idp.console_search(&support_desk, "GIL@").unwrap().len(),
        1
    );
    assert_eq!(
        db.idp
            .console_search(&admin_desk, "ann@")
            .unwrap()
            .into_iter()
            .map(|(u, _)| u.email)
            .collect::<Vec<_>>(),
        ["ann@example.com"]
    );
    act(
        &admin_desk,
        Act::Mfa {
            policy: MfaPolicy::Required,
            slug: "acme",
        },
    )
    .unwrap();
    act(
        &support_desk,
        Act::Mfa {
            policy: MfaPolicy::Off,
            slug: "acme",
        },
    )
    .unwrap();
    assert_eq!(
        act(&support_desk, on(StaffAction::DisconnectApp, &peer))
            .unwrap()
            .change,
        Change::Already,
        "support may; nothing was linked"
    );
    let invited = act(
        &admin_desk,
        Act::Invite {
            slug: "acme",
            email: "new@example.com",
            name: "New Person",
        },
    )
    .unwrap();
    assert!(matches!(
        invited.followup,
        Followup::Link {
            purpose: crate::model::Purpose::Invite,
            ..
        }
    ));
    let view = db.idp.console_account(&admin_desk, "acme", None).unwrap();
    assert_eq!(view.user_count, 4);
    assert!(view.users.items.iter().all(|l| !l.linked));
    assert!(matches!(
        db.idp.console_user(&admin_desk, &gil.id),
        Err(ConsoleError::NotFound)
    ));
    let page = db.idp.console_user(&support_desk, &ann.id).unwrap();
    assert_eq!(page.user.status, crate::UserStatus::Disabled);
    assert_eq!(page.events[0].action, "user.disabled");
}

/// `/account`: a user sees their live sessions with the apps of each, the browser's own marked,
/// and signs out one other session or every other one; another user's session id ends nothing.
fn a_user_ends_their_own_other_sessions(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    let (here, secret) = db
        .idp
        .start_session(&u, AuthMethod::Password, None, None)
        .unwrap();
    let laptop = session(db, &u, AuthMethod::Password);
    let phone = session(db, &u, AuthMethod::Password);
    redeem(db, &u, &laptop, "openid");
    let bob = user(db, "acme", "bob@example.com");
    let bobs = session(db, &bob, AuthMethod::Password);
    let view = db.idp.own_account(&secret).unwrap().unwrap();
    assert_eq!(view.sessions.len(), 3);
    let current: Vec<&str> = view
        .sessions
        .iter()
        .filter(|s| s.current)
        .map(|s| s.session.id.as_str())
        .collect();
    assert_eq!(current, [here.id.as_str()]);
    let apps = view
        .sessions
        .iter()
        .find(|s| s.session.id == laptop.id)
        .unwrap();
    assert_eq!(apps.clients, ["app"]);
    let none = db
        .idp
        .end_own_sessions(&secret, Some(&bobs.id), None)
        .unwrap()
        .unwrap();
    assert!(none.is_empty(), "another user's session");
    assert!(db.idp.touch_session(&bobs.id).is_ok());
    let one = db
        .idp
        .end_own_sessions(&secret, Some(&laptop.id), None)
        .unwrap()
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        queued_logouts(db),
        vec![(laptop.id.clone(), "app".into(), "logout".into())]
    );
    let rest = db
        .idp
        .end_own_sessions(&secret, None, None)
        .unwrap()
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.sid.as_str()).collect::<Vec<_>>(),
        [phone.id.as_str()]
    );
    assert!(db.idp.touch_session(&here.id).is_ok(), "this browser stays");
    assert!(db.idp.set_own_locale(&secret, Some("es")).unwrap());
    assert_eq!(
        db.idp.user_by_id(&u.id).unwrap().unwrap().locale.as_deref(),
        Some("es")
    );
    assert!(db
        .idp
        .end_own_sessions("not-a-cookie", None, None)
        .unwrap()
        .is_none());
}

/// `relink_requires_email`: after a help-desk disconnect, a sign-in with the password alone
/// never reaches enrollment (page, QR, confirmation); the mailed link opens the one that does,
/// once; a newer link ends the older; the enrollment ends the rest and the mark.
fn after_a_disconnect_only_the_mailed_link_opens_enrollment(db: &TestDb) {
    use crate::mfa::RelinkError;
    use crate::signin::{PasswordStep, SignInPage};
    let idp = db.reopen(crate::Settings {
        totp: crate::model::TotpSettings {
            relink_requires_email: true,
            ..Default::default()
        },
        ..crate::testing::cheap_settings()
    });
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    enroll(db, &u);
    let done = idp
        .disconnect_mfa(&u, &helpdesk(), "T-5 caller says phone lost")
        .unwrap();
    let first = done.relink_token.expect("a link to mail");
    // The password alone: the relink page, never a QR code.
    let flow = idp.create_flow(None, None).unwrap();
    let step = idp
        .sign_in_password(&flow, "ann@example.com", PW, Default::default())
        .unwrap();
    assert!(matches!(step, PasswordStep::SecondFactor), "{step:?}");
    assert!(matches!(
        idp.sign_in_page(&flow).unwrap(),
        SignInPage::RelinkByEmail { .. }
    ));
    let u = idp.user_by_id(&u.id).unwrap().unwrap();
    assert!(u.relink_by_email);
    assert!(matches!(
        idp.begin_enrollment(&u, &flow),
        Err(MfaError::RelinkByEmail)
    ));
    assert!(matches!(
        idp.confirm_enrollment(&u, &flow, "123456", None, None),
        Err(MfaError::RelinkByEmail)
    ));
    // "Send me a new link": the first one ends.
    let (to, second) = idp.resend_relink(&flow).unwrap();
    assert_eq!(to.id, u.id);
    assert!(matches!(
        idp.open_relink(&first, None),
        Err(RelinkError::Invalid)
    ));
    assert!(matches!(
        idp.open_relink("made-up", None),
        Err(RelinkError::Invalid)
    ));
    // The mailed link: a sign-in whose enrollment goes ahead, for this user only.
    user(db, "acme", "bob@example.com");
    let stolen = idp.open_relink(&second, None).unwrap();
    idp.sign_in_password(&stolen, "bob@example.com", PW, Default::default())
        .unwrap();
    assert!(
        matches!(
            idp.sign_in_page(&stolen).unwrap(),
            SignInPage::Enroll { .. }
        ),
        "someone else signing in through the link is just signing in (bob was never disconnected)"
    );
    let relink = idp.open_relink(&second, None).unwrap();
    idp.sign_in_password(&relink, "ann@example.com", PW, Default::default())
        .unwrap();
    let SignInPage::Enroll { view, .. } = idp.sign_in_page(&relink).unwrap() else {
        panic!("the QR code, through the link");
    };
    let code = oathtool(&view.activation_code, idp.now());
    idp.confirm_enrollment(&u, &relink, &code, None, None)
        .unwrap();
    let u = idp.user_by_id(&u.id).unwrap().unwrap();
    assert!(!u.relink_by_email, "the mark goes with the enrollment");
    assert!(matches!(
        idp.open_relink(&second, None),
        Err(RelinkError::Invalid)
    ));
}

/// With `relink_requires_email`, a role granted to a user without a linked app sends their
/// first enrollment through the mailbox too: whoever else knows the password reaches no QR code
/// (the grant is what makes the account worth taking over); the mailed link does.
fn with_relink_by_email_a_new_operator_links_their_first_app_through_the_mailbox(db: &TestDb) {
    let idp = db.reopen(crate::Settings {
        totp: crate::model::TotpSettings {
            relink_requires_email: true,
            ..Default::default()
        },
        ..crate::testing::cheap_settings()
    });
    let u = user(db, "acme", "ann@example.com");
    let granted = idp.set_role(&u, Role::Support, true, &op()).unwrap();
    let link = granted.relink_token.expect("a link to mail");
    let u = idp.user_by_id(&u.id).unwrap().unwrap();
    assert!(u.relink_by_email);
    let flow = idp.create_flow(None, None).unwrap();
    idp.sign_in_password(&flow, "ann@example.com", PW, Default::default())
        .unwrap();
    assert!(matches!(
        idp.sign_in_page(&flow).unwrap(),
        crate::signin::SignInPage::RelinkByEmail { .. }
    ));
    let mailed = idp.open_relink(&link, None).unwrap();
    idp.sign_in_password(&mailed, "ann@example.com", PW, Default::default())
        .unwrap();
    assert!(matches!(
        idp.sign_in_page(&mailed).unwrap(),
        crate::signin::SignInPage::Enroll { .. }
    ));
    // A user who already has an app keeps it: no link, no mark.
    let v = user(db, "acme", "vic@example.com");
    require_mfa(db, "acme");
    enroll(db, &v);
    let granted = idp.set_role(&v, Role::Support, true, &op()).unwrap();
    assert!(granted.relink_token.is_none());
    assert!(!idp.user_by_id(&v.id).unwrap().unwrap().relink_by_email);
}

crate::on_both_backends!(
    with_relink_by_email_a_new_operator_links_their_first_app_through_the_mailbox,
    after_a_disconnect_only_the_mailed_link_opens_enrollment,
    a_role_always_needs_a_second_factor,
    a_disconnect_needs_a_reason_and_has_an_hourly_limit,
    the_console_acts_only_as_each_role_may,
    a_user_ends_their_own_other_sessions,
);
