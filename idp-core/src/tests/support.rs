//! The help-desk use cases: repeatable creations, profiles, pages of users and of the audit log
//! (with who an admin client acted for), an account's MFA at a glance, links on request, and the
//! admin call rate.

use super::*;
use crate::audit::AuditFilter;
use crate::support::{AdminCall, Creation};
use crate::users::{ProfileChange, UserQuery};

fn helpdesk(ticket: &str) -> Actor {
    Actor::Client {
        client_id: "helpdesk".into(),
        on_behalf_of: Some(ticket.into()),
        ip: Some("192.0.2.9".into()),
    }
}

fn creations_can_be_repeated_and_say_when_they_differ(db: &TestDb) {
    let a = helpdesk("T-1");
    let Creation::Created(acme) = db.idp.create_account_once("acme", "Acme Fuel", &a).unwrap()
    else {
        panic!("created");
    };
    let Creation::Existing(again) = db
        .idp
        .create_account_once("acme", " Acme Fuel ", &a)
        .unwrap()
    else {
        panic!("the same again");
    };
    assert_eq!(again.id, acme.id);
    assert!(matches!(
        db.idp.create_account_once("acme", "Other", &a).unwrap(),
        Creation::Conflict(_)
    ));
    let new = NewUser {
        email: "Ann@Example.com",
        display_name: "Ann",
        work_email: Some("ann.lee@acme.example"),
        password: None,
    };
    let Creation::Created(ann) = db.idp.create_user_once("acme", new.clone(), &a).unwrap() else {
        panic!("created");
    };
    assert_eq!(ann.status, crate::UserStatus::Invited);
    let same = NewUser {
        email: "ann@EXAMPLE.com",
        ..new.clone()
    };
    let Creation::Existing(found) = db.idp.create_user_once("acme", same, &a).unwrap() else {
        panic!("the same again, emails matched as at sign-in");
    };
    assert_eq!(found.id, ann.id);
    let renamed = NewUser {
        display_name: "Ann Lee",
        ..new.clone()
    };
    assert!(matches!(
        db.idp.create_user_once("acme", renamed, &a).unwrap(),
        Creation::Conflict(_)
    ));
    db.idp.create_account("other", "Other", &op()).unwrap();
    assert!(matches!(
        db.idp.create_user_once("other", new, &a).unwrap(),
        Creation::Conflict(_)
    ));
}

fn profiles_accounts_and_pages_of_users(db: &TestDb) {
    let a = helpdesk("T-2");
    for i in 0..7 {
        user(db, "acme", &format!("u{i}@example.com"));
    }
    user(db, "other", "x@example.com");
    // Pages of 3 through the account's 7 users, each once, in id order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = UserQuery {
            account: Some("acme"),
            email: None,
            cursor: cursor.as_deref(),
        };
        let page = db.idp.find_users(&q, 3).unwrap();
        seen.extend(page.items.iter().map(|u| u.id.clone()));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), &seen), (7, &sorted));
    // A last page that is exactly full says it is the last.
    let all = UserQuery {
        account: Some("acme"),
        ..UserQuery::default()
    };
    assert_eq!(db.idp.find_users(&all, 7).unwrap().next, None);
    assert!(db.idp.find_users(&all, 6).unwrap().next.is_some());
    let by_email = UserQuery {
        email: Some("U3@Example.COM"),
        ..UserQuery::default()
    };
    let found = db.idp.find_users(&by_email, 50).unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].email, "u3@example.com");
    let bad = UserQuery {
        email: Some("not an address"),
        ..UserQuery::default()
    };
    assert!(db.idp.find_users(&bad, 50).unwrap().items.is_empty());
    let nowhere = UserQuery {
        account: Some("nope"),
        ..UserQuery::default()
    };
    assert!(matches!(
        db.idp.find_users(&nowhere, 50),
        Err(crate::users::UserError::NoSuchAccount(_))
    ));
    // Profile: name and work email; the same again changes nothing.
    let u = &found.items[0];
    let change = ProfileChange {
        display_name: Some("Ursula"),
        work_email: Some("Ursula@Acme.example"),
    };
    let (c, updated) = db.idp.update_profile(&u.id, &change, &a).unwrap();
    assert_eq!(c, crate::model::Change::Changed);
    assert_eq!(
        (updated.display_name.as_str(), updated.work_email.as_deref()),
        ("Ursula", Some("ursula@acme.example"))
    );
    assert_eq!(
        db.idp.update_profile(&u.id, &change, &a).unwrap().0,
        crate::model::Change::Already
    );
    let cleared = ProfileChange {
        display_name: None,
        work_email: Some(""),
    };
    assert_eq!(
        db.idp
            .update_profile(&u.id, &cleared, &a)
            .unwrap()
            .1
            .work_email,
        None
    );
    let bad = ProfileChange {
        work_email: Some("nope"),
        ..ProfileChange::default()
    };
    assert!(db.idp.update_profile(&u.id, &bad, &a).is_err());
    // Rename an account.
    let (c, acme) = db.idp.rename_account("acme", "Acme Fuel Ltd", &a).unwrap();
    assert_eq!(
        (c, acme.name.as_str()),
        (crate::model::Change::Changed, "Acme Fuel Ltd")
    );
    assert!(db.idp.rename_account("acme", "", &a).is_err());
}

fn the_audit_log_pages_and_keeps_who_a_client_acted_for(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let bo = user(db, "other", "bo@example.com");
    for i in 0..5 {
        let change = ProfileChange {
            display_name: Some(&format!("Ann {i}")),
            ..ProfileChange::default()
        };
        db.idp
            .update_profile(&ann.id, &change, &helpdesk(&format!("T-{i}")))
            .unwrap();
    }
    db.clock.advance(100);
    let since = db.idp.now();
    db.idp
        .update_profile(
            &bo.id,
            &ProfileChange {
                display_name: Some("Bo"),
                ..ProfileChange::default()
            },
            &helpdesk("T-9"),
        )
        .unwrap();
    // Ann's events in pages of 2, newest first, each once.
    let mut notes = Vec::new();
    let mut before = None;
    loop {
        let filter = AuditFilter {
            user_id: Some(&ann.id),
            before_id: before,
            ..AuditFilter::default()
        };
        let page = db.idp.audit_page(&filter, 2).unwrap();
        notes.extend(
            page.items
                .iter()
                .filter(|e| e.action == "user.updated")
                .map(|e| (e.actor.clone(), e.actor_note.clone())),
        );
        match page.next {
            Some(n) => before = Some(n.parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<_> = (0..5)
        .rev()
        .map(|i| ("client:helpdesk".to_string(), Some(format!("T-{i}"))))
        .collect();
    assert_eq!(notes, expected);
    let account = db.idp.account_by_slug("other").unwrap();
    let recent = AuditFilter {
        account_id: Some(&account.id),
        since: Some(since),
        ..AuditFilter::default()
    };
    let page = db.idp.audit_page(&recent, 50).unwrap();
    assert_eq!(page.items.len(), 1, "{:?}", page.items);
    assert_eq!(page.items[0].actor_note.as_deref(), Some("T-9"));
}

fn mfa_at_a_glance_links_on_request_and_the_admin_rate(db: &TestDb) {
    let ann = user(db, "acme", "ann@example.com");
    let bo = user(db, "acme", "bo@example.com");
    require_mfa(db, "acme");
    enroll(db, &ann);
    let o = db.idp.mfa_overview("acme").unwrap();
    assert!(o.required);
    let linked: Vec<(&str, bool)> = o
        .users
        .iter()
        .map(|u| (u.email.as_str(), u.linked))
        .collect();
    assert_eq!(
        linked,
        [("ann@example.com", true), ("bo@example.com", false)]
    );
    let (purpose, _) = db.idp.link_on_request(&bo, &helpdesk("T-3")).unwrap();
    assert_eq!(purpose, crate::model::Purpose::Reset);
    assert!(db
        .idp
        .audit_for_user(&bo.id, 5)
        .unwrap()
        .iter()
        .any(|e| e.action == "user.link_sent" && e.actor_note.as_deref() == Some("T-3")));
    db.idp
        .set_user_enabled("bo@example.com", false, &op())
        .unwrap();
    let bo = db.idp.user_by_email("bo@example.com").unwrap();
    assert!(db.idp.link_on_request(&bo, &helpdesk("T-4")).is_err());
    // 600 calls a minute per client, then refused until the window ends.
    let limit = db.idp.settings().throttle.admin_per_client.limit;
    for _ in 0..limit {
        assert_eq!(db.idp.admin_call("helpdesk").unwrap(), AdminCall::Allowed);
    }
    assert!(matches!(
        db.idp.admin_call("helpdesk").unwrap(),
        AdminCall::Limited(_)
    ));
    assert_eq!(db.idp.admin_call("other").unwrap(), AdminCall::Allowed);
    db.clock.advance(61);
    assert_eq!(db.idp.admin_call("helpdesk").unwrap(), AdminCall::Allowed);
}

crate::on_both_backends!(
    creations_can_be_repeated_and_say_when_they_differ,
    profiles_accounts_and_pages_of_users,
    the_audit_log_pages_and_keeps_who_a_client_acted_for,
    mfa_at_a_glance_links_on_request_and_the_admin_rate,
);
