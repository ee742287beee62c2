//! `idp-server import` stays in the account it is run for: `--account SLUG` refuses every line
//! of another account (so Acme's export run with `--update` cannot rewrite a Globex user), and
//! without `--account` or `--all-accounts` nothing is read at all.

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{seed, sign_in_with_password, SecondFactor};

/// Acme's export, with a line for a Globex user whose email it knows: disabled and renamed if it
/// went in, and the email an attacker would then take over by registration.
fn acme_export() -> String {
    [
        r#"{"account": "acme", "email": "ann@acme.example", "name": "Ann", "status": "invited"}"#,
        r#"{"account": "globex", "email": "bob@globex.example", "name": "Taken over", "status": "disabled"}"#,
    ]
    .join("\n")
}

fn bob_is_untouched(server: &TestServer) {
    let bob = server.rt.idp.user_by_email("bob@globex.example").unwrap();
    assert_eq!(
        (bob.display_name.as_str(), bob.status),
        ("Ann Lee", idp_core::UserStatus::Active)
    );
    sign_in_with_password(
        server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "bob@globex.example",
        PASSWORD,
        SecondFactor::None,
        None,
    );
}

fn an_import_without_a_scope_reads_nothing(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "boss@acme.example", false);
    seed(&server, "globex", "bob@globex.example", false);
    let text = acme_export();
    let out = server.cli(&["import", "--file", "-", "--update"], Some(&text));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("--account") && out.stderr.contains("--all-accounts"),
        "the refusal names both ways: {}",
        out.stderr
    );
    let both = server.cli(
        &[
            "import",
            "--file",
            "-",
            "--update",
            "--account",
            "acme",
            "--all-accounts",
        ],
        Some(&text),
    );
    assert_eq!(both.code, 2, "{}{}", both.stdout, both.stderr);
    assert!(server.rt.idp.user_by_email("ann@acme.example").is_err());
    bob_is_untouched(&server);
}

fn a_line_for_another_account_is_refused(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "boss@acme.example", false);
    seed(&server, "globex", "bob@globex.example", false);
    let text = acme_export();
    let out = server.cli(
        &["import", "--file", "-", "--update", "--account", "acme"],
        Some(&text),
    );
    assert_eq!(
        out.code, 1,
        "a line was refused: {}{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.lines().any(|l| l.starts_with("line 2: ")
            && l.contains("\"globex\"")
            && l.contains("\"acme\"")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("1 created") && out.stdout.contains("1 failed"),
        "{}",
        out.stdout
    );
    assert_eq!(
        server
            .rt
            .idp
            .user_by_email("ann@acme.example")
            .unwrap()
            .display_name,
        "Ann"
    );
    bob_is_untouched(&server);
    // An operator migrating every company at once says so.
    let all = server.cli(
        &["import", "--file", "-", "--update", "--all-accounts"],
        Some(&text),
    );
    assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
    assert_eq!(
        server
            .rt
            .idp
            .user_by_email("bob@globex.example")
            .unwrap()
            .status,
        idp_core::UserStatus::Disabled
    );
}

on_both_backends!(
    an_import_without_a_scope_reads_nothing,
    a_line_for_another_account_is_refused,
);
