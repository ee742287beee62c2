//! What `idp-server import` prints comes from the file only escaped: a crafted line cannot send
//! terminal escape sequences to the operator or add a line to the report that reads like the
//! tool's; and a line far over the limit is one refused line.

use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;

fn crafted_file() -> String {
    [
        r#"{"account": "acme", "email": "ok@example.com"}"#,
        // The parser's "unknown field" quotes the key, decoded from its JSON escapes.
        r#"{"account": "acme", "email": "a@example.com", "\u001b]0;owned\u0007\u001b[2J": 1}"#,
        r#"{"account": "acme", "email": "b@example.com", "x\nline 7: 0 failed, all imported\r": 1}"#,
        r#"{"account": "acme", "email": "c@example.com", "\u202egnp.exe": 1}"#,
    ]
    .join("\n")
}

fn a_crafted_line_cannot_forge_the_report_or_reach_the_terminal(db: Db) {
    let server = TestServer::start(db);
    crate::rp::seed(&server, "acme", "boss@acme.example", false);
    let out = server.cli(
        &["import", "--file", "-", "--account", "acme"],
        Some(&crafted_file()),
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let printed = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !printed
            .chars()
            .any(|c| c != '\n' && idp_core::model::disguises(c)),
        "only the tool's own newlines: {printed:?}"
    );
    // One line per refused line, then the tool's own last word: no line the file wrote.
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(lines[3], "error: 3 line(s) were refused (see above)");
    for (line, n) in lines[..3].iter().zip(2..) {
        assert!(line.starts_with(&format!("line {n}: ")), "{line:?}");
    }
    assert!(lines[0].contains(r"\u{1b}]0;owned\u{7}"), "{}", lines[0]);
    assert!(lines[1].contains(r"x\u{a}line 7: 0 failed"), "{}", lines[1]);
    assert!(
        out.stdout.contains("1 created") && out.stdout.contains("3 failed"),
        "{}",
        out.stdout
    );
    // --json is escaped JSON, and says the same.
    let json = server.cli(
        &[
            "--json",
            "import",
            "--file",
            "-",
            "--account",
            "acme",
            "--dry-run",
        ],
        Some(&crafted_file()),
    );
    let v: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["failed"].as_array().unwrap().len(), 3, "{v}");
    assert!(!json.stdout.contains('\u{1b}'));
}

fn a_line_over_the_limit_is_refused_and_the_next_one_imported(db: Db) {
    let server = TestServer::start(db);
    crate::rp::seed(&server, "acme", "boss@acme.example", false);
    let long = serde_json::json!({
        "account": "acme",
        "email": "long@example.com",
        "name": "x".repeat(4 * idp_core::import::MAX_LINE),
    });
    let text = format!(
        "{long}\n{}\n",
        r#"{"account": "acme", "email": "next@example.com"}"#
    );
    let out = server.cli(&["import", "--file", "-", "--account", "acme"], Some(&text));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr.lines().next(),
        Some("line 1: the line is longer than 16 KiB"),
        "{}",
        out.stderr
    );
    assert!(server.rt.idp.user_by_email("next@example.com").is_ok());
    assert!(server.rt.idp.user_by_email("long@example.com").is_err());
}

on_both_backends!(
    a_crafted_line_cannot_forge_the_report_or_reach_the_terminal,
    a_line_over_the_limit_is_refused_and_the_next_one_imported,
);
