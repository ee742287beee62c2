//! A hostile import file: a line far over the limit is refused and the import goes on; what
//! the report quotes from the file cannot write terminal escapes or lines of its own.

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

/// The reasons quote the file (an unknown key, a value): a key holding ESC sequences, a newline
/// followed by a made-up report line, or a right-to-left override comes back escaped, so a
/// crafted line can neither retitle or recolour the operator's terminal nor forge a line of the
/// report.
fn what_the_report_quotes_from_the_file_is_escaped(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let file = [
        // A JSON escape in a key: the parser's "unknown field" names it decoded.
        r#"{"account": "acme", "email": "a@example.com", "\u001b]0;owned\u0007\u001b[2J": 1}"#,
        r#"{"account": "acme", "email": "b@example.com", "x\nline 9: all users imported\r": 1}"#,
        r#"{"account": "acme", "email": "c@example.com", "\u202egnp.exe": 1}"#,
        r#"{"account": "acme", "email": "d@example.com", "status": "act\u001b[8mive"}"#,
        // A raw ESC byte in the line itself (not JSON).
        "\u{1b}[31mnot json",
    ]
    .join("\n");
    let r = import(db, file.as_bytes());
    assert_eq!(r.failed.len(), 5, "{:?}", r.failed);
    for (line, reason) in &r.failed {
        assert!(
            !reason.chars().any(crate::model::disguises),
            "line {line}: {reason:?}"
        );
    }
    assert!(
        r.failed[0].1.contains(r"\u{1b}]0;owned\u{7}"),
        "{:?}",
        r.failed[0]
    );
    assert!(
        r.failed[1]
            .1
            .contains(r"x\u{a}line 9: all users imported\u{d}"),
        "{:?}",
        r.failed[1]
    );
    assert!(
        r.failed[2].1.contains(r"\u{202e}gnp.exe"),
        "{:?}",
        r.failed[2]
    );
}

crate::on_both_backends!(
    a_line_over_the_limit_is_refused_and_the_import_goes_on,
    what_the_report_quotes_from_the_file_is_escaped,
);
