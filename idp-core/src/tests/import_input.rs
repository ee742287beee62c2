//! A hostile import file: a line far over the limit is refused and the import goes on.

use super::*;
use crate::import::{ImportOptions, ImportReport, ImportScope, LineError, MAX_LINE};

fn import(db: &TestDb, file: &[u8]) -> ImportReport {
    db.idp
        .import_users(
            file,
            ImportOptions::default(),
            &ImportScope::Account("acme".into()),
            &mut |_| {},
            &op(),
        )
        .unwrap()
}

/// A line several times the limit (a name of 4 × 16 KiB) is one refused line: the users before
/// and after it go in.
fn a_line_over_the_limit_is_refused_and_the_import_goes_on(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let long = serde_json::json!({
        "account": "acme",
        "email": "long@example.com",
        "name": "x".repeat(4 * MAX_LINE),
    })
    .to_string();
    let file = [
        r#"{"account": "acme", "email": "a@example.com"}"#,
        &long,
        r#"{"account": "acme", "email": "b@example.com"}"#,
        // The last line may also be too long, and end without a newline.
        &long.replace("long@", "last@"),
    ]
    .join("\n");
    let r = import(db, file.as_bytes());
    assert_eq!(r.created, 2, "{:?}", r.failed);
    assert_eq!(
        r.failed,
        [
            (2, LineError::TooLong.to_string()),
            (4, LineError::TooLong.to_string())
        ]
    );
    assert!(db.idp.user_by_email("b@example.com").is_ok());
    assert!(db.idp.user_by_email("long@example.com").is_err());
}

crate::on_both_backends!(
    a_line_over_the_limit_is_refused_and_the_import_goes_on,
);
