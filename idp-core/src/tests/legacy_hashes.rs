//! An imported hash costs no more to check than a sign-in at the configured argon2id
//! parameters, so a wrong password for its user answers as fast as one for an unknown email
//! (a bcrypt hash of cost 13 took 0.55 s against 17 ms: one request told that the email
//! existed). Costlier hashes are refused at import, line by line; PBKDF2 counts every block of
//! its output.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;

use super::*;
use crate::import::{ImportOptions, ImportReport, ImportScope};
use crate::testing::cheap_settings;
use crate::{Argon2Params, Settings};

/// The provider's defaults (m=19456, t=2: a check takes about 15 ms on the reference machine).
/// Nothing is hashed at import, so a test pays nothing for them.
fn importer(db: &TestDb) -> crate::Idp {
    db.reopen(Settings {
        argon2: Argon2Params::default(),
        ..cheap_settings()
    })
}

fn import(idp: &crate::Idp, lines: &[String]) -> ImportReport {
    idp.import_users(
        lines.join("\n").as_bytes(),
        ImportOptions::default(),
        &ImportScope::Account("acme".into()),
        &mut |_| {},
        &op(),
    )
    .unwrap()
}

fn line(email: &str, hash: &str) -> String {
    serde_json::json!({"account": "acme", "email": email, "password_hash": hash}).to_string()
}

/// A PHC PBKDF2-SHA256 string of `rounds` and an output of `len` bytes (the bytes are not a
/// real hash: only the format and the cost are read at import).
fn pbkdf2_sha256(rounds: u32, len: usize) -> String {
    let b64 = |b: &[u8]| STANDARD_NO_PAD.encode(b);
    format!(
        "$pbkdf2-sha256$i={rounds},l={len}${}${}",
        b64(b"sixteen byte slt"),
        b64(&vec![7u8; len])
    )
}

fn hashes_costlier_than_a_sign_in_are_line_errors(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let idp = importer(db);
    let bcrypt = bcrypt::hash_with_salt("pw", 4, [7u8; 16])
        .unwrap()
        .to_string();
    let bcrypt = |cost: &str| bcrypt.replacen("$04$", &format!("${cost}$"), 1);
    let argon2 = |params: &str| {
        format!(
            "$argon2id$v=19${params}$c2FsdHNhbHRzYWx0$ZmFrZWhhc2hmYWtlaGFzaGZha2VoYXNoZmFrZWhhcw"
        )
    };
    let django = |rounds: u32| {
        format!(
            "pbkdf2_sha256${rounds}$salt${}",
            base64::engine::general_purpose::STANDARD.encode([1u8; 32])
        )
    };
    let lines = [
        // bcrypt: cost 7 takes 7.7 ms, cost 8 15.5 ms (the budget is 14.8 ms); 12 and 13 are
        // what applications use.
        line("b7@example.com", &bcrypt("07")),
        line("b8@example.com", &bcrypt("08")),
        line("b13@example.com", &bcrypt("13")),
        // PBKDF2-SHA256 at 30,000 rounds: 11 ms for a 32-byte hash (one block), twice that for
        // `l=64` (two blocks, every round run for each).
        line("p32@example.com", &pbkdf2_sha256(30_000, 32)),
        line("p64@example.com", &pbkdf2_sha256(30_000, 64)),
        // Django's default since 5.0.
        line("dj@example.com", &django(870_000)),
        line("dj-old@example.com", &django(20_000)),
        // argon2: the configured cost passes, one over it does not.
        line("a2@example.com", &argon2("m=19456,t=2,p=1")),
        line("a3@example.com", &argon2("m=19456,t=3,p=1")),
    ];
    let r = import(&idp, &lines);
    let refused: Vec<usize> = r.failed.iter().map(|(l, _)| *l).collect();
    assert_eq!(refused, [2, 3, 5, 6, 9], "{:#?}", r.failed);
    assert_eq!(r.created, 4);
    let reason = |line: usize| &r.failed.iter().find(|(l, _)| *l == line).unwrap().1;
    assert!(
        reason(2).contains("at most bcrypt cost 7") && reason(2).contains("unknown email"),
        "{}",
        reason(2)
    );
    assert!(
        reason(5).contains("for a 64-byte hash"),
        "the refusal counts the blocks: {}",
        reason(5)
    );
    assert!(db.idp.user_by_email("b8@example.com").is_err());
    assert!(db.idp.user_by_email("p32@example.com").is_ok());
}

/// The budget is the configured one: the test kit's argon2 (1 MiB, one pass: 0.3 ms) allows a
/// thousand PBKDF2-SHA512 rounds no more, the cheapest bcrypt neither.
fn the_budget_follows_the_configured_parameters(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let bcrypt4 = bcrypt::hash_with_salt("pw", 4, [7u8; 16])
        .unwrap()
        .to_string();
    let r = import(
        &db.idp,
        &[
            line("b4@example.com", &bcrypt4),
            line("p@example.com", &pbkdf2_sha256(500, 32)),
        ],
    );
    assert_eq!(
        r.failed.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [1],
        "{:?}",
        r.failed
    );
    assert!(
        r.failed[0].1.contains("no bcrypt cost"),
        "{}",
        r.failed[0].1
    );
    assert_eq!(
        import(&importer(db), &[line("b4@example.com", &bcrypt4)]).created,
        1
    );
}

crate::on_both_backends!(
    hashes_costlier_than_a_sign_in_are_line_errors,
    the_budget_follows_the_configured_parameters,
);
