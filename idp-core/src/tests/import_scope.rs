//! An import stays in the account it is run for: a company's own export cannot create, or with
//! `update` change, another company's users; a file for every account is imported only when the
//! caller says so.

use super::*;
use crate::import::{ImportOptions, ImportReport, ImportScope, LineError};

fn import(db: &TestDb, text: &str, options: ImportOptions, scope: &ImportScope) -> ImportReport {
    db.idp
        .import_users(text.as_bytes(), options, scope, &mut |_| {}, &op())
        .unwrap()
}

const UPDATE: ImportOptions = ImportOptions {
    dry_run: false,
    create_accounts: true,
    update: true,
};

/// Acme's export, run with `--account acme --update --create-accounts`, carries a line for a
/// user of Globex (whose email it knows) and one for an account nobody has created: both are
/// refused as lines, nothing of them is stored, and Acme's own line goes in.
fn a_line_for_another_account_is_refused_and_stores_nothing(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let bob = user(db, "globex", "bob@globex.example");
    let file = [
        r#"{"account": "acme", "email": "ann@acme.example", "name": "Ann"}"#,
        r#"{"account": "globex", "email": "bob@globex.example", "name": "Taken over", "status": "disabled"}"#,
        r#"{"account": "initech", "email": "eve@initech.example"}"#,
    ]
    .join("\n");
    let only_acme = ImportScope::Account("acme".into());
    for dry_run in [true, false] {
        let r = import(db, &file, ImportOptions { dry_run, ..UPDATE }, &only_acme);
        assert_eq!(
            (r.created, r.updated, r.accounts_created),
            (1, 0, 0),
            "dry run {dry_run}: {:?}",
            r.failed
        );
        let lines: Vec<usize> = r.failed.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3], "{:?}", r.failed);
        assert!(
            r.failed[0].1.contains("\"globex\"") && r.failed[0].1.contains("\"acme\""),
            "the report names the line's account and the import's: {}",
            r.failed[0].1
        );
    }
    let after = db.idp.user_by_id(&bob.id).unwrap().unwrap();
    assert_eq!(
        (after.display_name.as_str(), after.status),
        ("Ann", crate::UserStatus::Active),
        "Globex's user is untouched"
    );
    assert!(
        db.idp.account_by_slug("initech").is_err(),
        "no account made"
    );
    assert!(db.idp.user_by_email("eve@initech.example").is_err());
    assert_eq!(
        db.idp
            .user_by_email("ann@acme.example")
            .unwrap()
            .display_name,
        "Ann"
    );
}

/// The scope's own rule, as a line error: the line's account against the import's.
fn the_refusal_is_a_line_error_naming_both_accounts(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let r = import(
        db,
        r#"{"account": "globex", "email": "bob@globex.example"}"#,
        ImportOptions::default(),
        &ImportScope::Account("acme".into()),
    );
    assert_eq!(
        r.failed,
        [(
            1,
            LineError::OutsideScope {
                line: "globex".into(),
                only: "acme".into()
            }
            .to_string()
        )]
    );
}

/// A migration of the whole user base says so, and then every account the file names is
/// written (an existing user still never moves to another account).
fn every_account_only_when_the_caller_says_so(db: &TestDb) {
    let bob = user(db, "globex", "bob@globex.example");
    let file = [
        r#"{"account": "acme", "email": "ann@acme.example"}"#,
        r#"{"account": "globex", "email": "bob@globex.example", "name": "Bob"}"#,
    ]
    .join("\n");
    let r = import(db, &file, UPDATE, &ImportScope::AllAccounts);
    assert_eq!(
        (r.created, r.updated, r.accounts_created, r.failed.len()),
        (1, 1, 1, 0),
        "{:?}",
        r.failed
    );
    assert_eq!(
        db.idp.user_by_id(&bob.id).unwrap().unwrap().display_name,
        "Bob"
    );
    let moved = import(
        db,
        r#"{"account": "acme", "email": "bob@globex.example"}"#,
        UPDATE,
        &ImportScope::AllAccounts,
    );
    assert_eq!(moved.failed.len(), 1, "never moved: {:?}", moved.failed);
}

crate::on_both_backends!(
    a_line_for_another_account_is_refused_and_stores_nothing,
    the_refusal_is_a_line_error_naming_both_accounts,
    every_account_only_when_the_caller_says_so,
);
