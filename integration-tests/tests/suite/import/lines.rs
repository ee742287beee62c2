//! `idp-server import` through the real binary: a user of each password hash format signs in
//! over HTTP afterwards (and then holds an argon2id hash), an imported authenticator secret
//! signs in with its codes and no QR code, bad lines are reported by number and store nothing,
//! a second run changes nothing, standard input works.

use std::process::Command;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use serde_json::{json, Value};

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{sign_in_with_password, SecondFactor};

const OLD_PW: &str = "the password from the old system";
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// PBKDF2 hashes made by Python's hashlib (an implementation independent of ours): the PHC
/// form and Django's.
fn python_pbkdf2() -> (String, String, String) {
    let script = r#"
import base64, hashlib, sys
pw = sys.argv[1].encode()
def phc(alg, n):
    h = hashlib.pbkdf2_hmac(alg, pw, b"phc-salt-bytes!!", 1000, n)
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")
    return f"$pbkdf2-{alg}$i=1000,l={n}${b64(b'phc-salt-bytes!!')}${b64(h)}"
django = base64.b64encode(hashlib.pbkdf2_hmac("sha256", pw, b"djangosalt", 1000)).decode()
print(phc("sha256", 32)); print(phc("sha512", 64)); print(f"pbkdf2_sha256$1000$djangosalt${django}")
"#;
    let out = Command::new("python3")
        .args(["-c", script, OLD_PW])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    (lines[0].into(), lines[1].into(), lines[2].into())
}

fn hashes() -> Vec<(&'static str, String)> {
    let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
    let argon2 = |alg| {
        argon2::Argon2::new(
            alg,
            argon2::Version::V0x13,
            argon2::Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(OLD_PW.as_bytes(), &salt)
        .unwrap()
        .to_string()
    };
    let bcrypt = bcrypt::hash_with_salt(OLD_PW, 5, [9u8; 16]).unwrap();
    let (sha256, sha512, django) = python_pbkdf2();
    vec![
        ("argon2id", argon2(argon2::Algorithm::Argon2id)),
        ("argon2i", argon2(argon2::Algorithm::Argon2i)),
        (
            "bcrypt-2a",
            bcrypt.format_for_version(bcrypt::Version::TwoA),
        ),
        (
            "bcrypt-2b",
            bcrypt.format_for_version(bcrypt::Version::TwoB),
        ),
        (
            "bcrypt-2y",
            bcrypt.format_for_version(bcrypt::Version::TwoY),
        ),
        ("pbkdf2-sha256", sha256),
        ("pbkdf2-sha512", sha512),
        ("django", django),
    ]
}

fn import_file(server: &TestServer, lines: &[Value], args: &[&str]) -> CliOutput {
    let path = server.dir.path().join("users.jsonl");
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&path, text.join("\n")).unwrap();
    let mut all = vec!["import", "--file", path.to_str().unwrap(), "--all-accounts"];
    all.extend_from_slice(args);
    server.cli(&all, None)
}

fn every_hash_format_signs_in_after_import(db: Db) {
    // argon2 at 8 MiB: a check costs 2.7 ms, enough for the cheap hashes above (bcrypt cost 5
    // is 2 ms); the harness's 1 MiB would refuse them as costlier than a sign-in.
    let server = TestServer::start_with(
        db,
        Options {
            argon2_memory_kib: 8192,
            ..Options::default()
        },
    );
    let mut lines: Vec<Value> = hashes()
        .iter()
        .map(|(kind, hash)| json!({"account": "acme", "email": format!("{kind}@example.com"), "password_hash": hash, "name": kind}))
        .collect();
    // In an account with MFA: the app linked in the old system stays linked.
    lines.push(json!({"account": "secure", "email": "Mo@Example.com", "password_hash": hashes()[2].1, "totp_secret": SECRET}));
    let out = import_file(&server, &lines, &["--create-accounts"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("9 created") && out.stdout.contains("2 account(s) created"),
        "{}",
        out.stdout
    );
    for (kind, original) in hashes() {
        let email = format!("{kind}@example.com");
        let signed = sign_in_with_password(
            &server,
            &Browser::new(),
            &server.demo_authorize_url(),
            &email,
            OLD_PW,
            SecondFactor::None,
            None,
        );
        assert!(
            signed.callback.location_param("code").is_some(),
            "{kind} signs in"
        );
        let stored = server.rt.idp.user_by_email(&email).unwrap();
        let hash = test_password_hash(&server, &stored.id);
        assert!(
            hash.starts_with("$argon2id$v=19$m=8192") && hash != original,
            "{kind}: now argon2id at our cost: {hash}"
        );
    }
    server
        .rt
        .idp
        .set_mfa_policy("secure", idp_core::MfaPolicy::Required, &crate::rp::op())
        .unwrap();
    // The code page straight away (no QR code): its codes are the second factor.
    sign_in_with_password(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "mo@example.com",
        OLD_PW,
        SecondFactor::Code,
        Some(SECRET),
    );
    // Again: every line skipped.
    let again = import_file(&server, &lines, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("0 created") && again.stdout.contains("9 skipped"),
        "{}",
        again.stdout
    );
}

/// The stored hash of a user, read from the database (the API never shows it).
fn test_password_hash(server: &TestServer, user_id: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    let sql = format!("SELECT password_hash FROM users WHERE id = '{user_id}'");
    let row: Row = if server.db_url.starts_with("sqlite://") {
        let mut c =
            diesel::SqliteConnection::establish(server.db_url.trim_start_matches("sqlite://"))
                .unwrap();
        diesel::sql_query(sql).get_result(&mut c).unwrap()
    } else {
        let mut c = diesel::PgConnection::establish(&server.db_url).unwrap();
        diesel::sql_query(sql).get_result(&mut c).unwrap()
    };
    row.password_hash
}

fn bad_lines_are_reported_and_store_nothing(db: Db) {
    let server = TestServer::start(db);
    server
        .rt
        .idp
        .create_account("acme", "Acme", &crate::rp::op())
        .unwrap();
    let text = [
        r#"{"account": "acme", "email": "ok@example.com", "status": "invited", "name": "Ok"}"#,
        r#"{"account": "acme", "email": "md5@example.com", "password_hash": "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}"#,
        "{not json",
        r#"{"account": "acme", "email": "ok@example.com"}"#,
        r#"{"account": "ghost", "email": "x@example.com"}"#,
    ]
    .join("\n");
    // Standard input, dry run first: nothing stored.
    let dry = run_cli(
        &server.config_path,
        &["import", "--file", "-", "--all-accounts", "--dry-run"],
        Some(&text),
    );
    assert_eq!(dry.code, 1, "lines were refused");
    assert!(dry.stdout.contains("dry run: 1 created"), "{}", dry.stdout);
    assert!(server.rt.idp.user_by_email("ok@example.com").is_err());
    let out = run_cli(
        &server.config_path,
        &["import", "--file", "-", "--all-accounts"],
        Some(&text),
    );
    assert_eq!(out.code, 1);
    for (line, says) in [
        (2, "password_hash"),
        (3, "not a valid record"),
        (4, "line 1"),
        (5, "ghost"),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&format!("line {line}: ")) && l.contains(says)),
            "line {line} ({says}) in:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stdout.contains("1 created") && out.stdout.contains("4 failed"),
        "{}",
        out.stdout
    );
    assert!(server.rt.idp.user_by_email("md5@example.com").is_err());
    assert_eq!(
        server
            .rt
            .idp
            .user_by_email("ok@example.com")
            .unwrap()
            .display_name,
        "Ok"
    );
    // --json for scripts.
    let json_out = run_cli(
        &server.config_path,
        &[
            "--json",
            "import",
            "--file",
            "-",
            "--all-accounts",
            "--dry-run",
        ],
        Some(&text),
    );
    let v: Value = serde_json::from_str(json_out.stdout.trim()).unwrap();
    assert_eq!(
        (v["skipped"].as_u64(), v["failed"].as_array().unwrap().len()),
        (Some(1), 4)
    );
}

on_both_backends!(
    every_hash_format_signs_in_after_import,
    bad_lines_are_reported_and_store_nothing,
);
