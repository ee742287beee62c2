//! The policy and the hasher.

use super::hash::{hash_into, HashPool, KEEP_WORKING_MEMORY, WORKING_MEMORY};
use super::*;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

fn cheap() -> Argon2Params {
    Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    }
}

#[test]
fn blocklist_holds_at_least_ten_thousand_common_passwords() {
    assert!(
        COMMON_PASSWORDS.len() >= 10_000,
        "{}",
        COMMON_PASSWORDS.len()
    );
}

#[test]
fn policy_accepts_a_long_uncommon_passphrase() {
    let p = PasswordPolicy::default();
    assert_eq!(
        p.check("correct horse battery staple", "ann@example.com"),
        Ok(())
    );
    // No composition rules: all lowercase letters are fine.
    assert_eq!(p.check("wrtqplmnbvcxzkjh", "ann@example.com"), Ok(()));
}

#[test]
fn policy_refuses_short_long_common_and_email_passwords() {
    let p = PasswordPolicy::default();
    assert_eq!(
        p.check("short", "a@b.c"),
        Err(PasswordRejection::TooShort { min: 12 })
    );
    assert_eq!(
        p.check(&"x".repeat(129), "a@b.c"),
        Err(PasswordRejection::TooLong { max: 128 })
    );
    assert_eq!(
        p.check("password1234", "a@b.c"),
        Err(PasswordRejection::Common)
    );
    assert_eq!(
        p.check("Password1234", "a@b.c"),
        Err(PasswordRejection::Common)
    );
    assert_eq!(
        p.check("jonathan-the-great", "Jonathan@example.com"),
        Err(PasswordRejection::ContainsEmail)
    );
    assert_eq!(
        p.check("twelve chars\u{0}x", "a@b.c"),
        Err(PasswordRejection::ControlCharacters)
    );
    // Length counts characters, not bytes.
    assert_eq!(
        p.check("ééééééééééé", "a@b.c"),
        Err(PasswordRejection::TooShort { min: 12 })
    );
}

#[test]
fn every_refusal_names_its_rule() {
    for (r, rule) in [
        (PasswordRejection::TooShort { min: 12 }, "shorter than 12"),
        (PasswordRejection::TooLong { max: 128 }, "longer than 128"),
        (PasswordRejection::Common, "common"),
        (PasswordRejection::ContainsEmail, "email"),
        (PasswordRejection::ControlCharacters, "control"),
    ] {
        let text = r.to_string();
        assert!(
            text.starts_with("the password") && text.contains(rule),
            "{text}"
        );
    }
}

#[test]
fn minimum_length_is_configurable_but_never_below_eight() {
    assert!(PasswordPolicy::new(7).is_err());
    let p = PasswordPolicy::new(8).unwrap();
    assert_eq!(p.check("qzvbnmxk", "a@b.c"), Ok(()));
}

#[test]
fn hash_is_argon2id_phc_and_verifies() {
    let h = PasswordHasher::new(cheap()).unwrap();
    let phc = h.hash("correct horse battery staple").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
    assert_eq!(
        h.verify(&phc, "correct horse battery staple"),
        Some(Verified {
            needs_rehash: false
        })
    );
    assert_eq!(h.verify(&phc, "wrong horse battery staple"), None);
    assert_eq!(h.verify("not a hash", "x"), None);
}

/// The dummy hash (unknown emails) must cost what a real one costs: same algorithm, version,
/// parameters, salt and output sizes; and nothing verifies against it.
#[test]
fn the_dummy_hash_has_the_shape_of_a_real_one() {
    let hasher = PasswordHasher::new(cheap()).unwrap();
    let real = hasher.hash("correct horse battery staple").unwrap();
    let (real, dummy) = (
        PasswordHash::new(&real).unwrap(),
        PasswordHash::new(&hasher.dummy_hash).unwrap(),
    );
    assert_eq!(dummy.algorithm, real.algorithm);
    assert_eq!(dummy.version, real.version);
    assert_eq!(dummy.params, real.params);
    assert_eq!(
        dummy.salt.map(|s| s.as_str().len()),
        real.salt.map(|s| s.as_str().len())
    );
    assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    assert!(hasher.verify(&hasher.dummy_hash, "").is_none());
    assert!(hasher
        .verify(&hasher.dummy_hash, "correct horse battery staple")
        .is_none());
}

#[test]
fn changed_parameters_ask_for_a_rehash() {
    let old = PasswordHasher::new(cheap()).unwrap();
    let phc = old.hash("correct horse battery staple").unwrap();
    let new = PasswordHasher::new(Argon2Params {
        memory_kib: 2048,
        ..cheap()
    })
    .unwrap();
    assert_eq!(
        new.verify(&phc, "correct horse battery staple"),
        Some(Verified { needs_rehash: true })
    );
}

#[test]
fn unicode_equivalent_passwords_verify() {
    let h = PasswordHasher::new(cheap()).unwrap();
    // U+212B ANGSTROM SIGN and U+00C5 are the same after NFKC.
    let phc = h.hash("\u{212B}ngstrom-units-rule").unwrap();
    assert!(h.verify(&phc, "\u{00C5}ngstrom-units-rule").is_some());
}

/// Our hashes and the argon2 crate's standard ones are interchangeable: each verifies the
/// other's, for argon2id, argon2i and argon2d, several costs and both versions.
#[test]
fn hashes_interoperate_with_the_standard_argon2_api() {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    let ours = PasswordHasher::new(cheap()).unwrap();
    let phc = ours.hash("correct horse battery staple").unwrap();
    let parsed = PasswordHash::new(&phc).unwrap();
    assert!(Argon2::default()
        .verify_password(b"correct horse battery staple", &parsed)
        .is_ok());
    assert!(Argon2::default()
        .verify_password(b"wrong horse battery staple", &parsed)
        .is_err());
    for (algorithm, version, m, t, p) in [
        (Algorithm::Argon2id, Version::V0x13, 1024, 1, 1),
        (Algorithm::Argon2id, Version::V0x13, 2048, 3, 2),
        (Algorithm::Argon2i, Version::V0x13, 1024, 2, 1),
        (Algorithm::Argon2d, Version::V0x10, 1024, 2, 1),
    ] {
        let standard = Argon2::new(algorithm, version, Params::new(m, t, p, None).unwrap());
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = standard
            .hash_password(b"correct horse battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(
            ours.verify(&theirs, "correct horse battery staple")
                .is_some(),
            "{theirs}"
        );
        assert!(ours
            .verify(&theirs, "correct horse battery stapl")
            .is_none());
    }
}

/// The kept working memory holds nothing that changes a later hash: the same password gives
/// the same output after other hashes (of other passwords and larger costs) ran on the thread.
#[test]
fn reused_working_memory_does_not_change_results() {
    let salt = b"sixteen byte slt";
    let run = |m: u32, password: &[u8]| {
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(m, 2, 1, None).unwrap(),
        );
        let mut out = [0u8; 32];
        hash_into(&argon2, password, salt, &mut out).unwrap();
        let mut fresh = [0u8; 32];
        argon2
            .hash_password_into(password, salt, &mut fresh)
            .unwrap();
        assert_eq!(out, fresh, "kept memory and fresh memory agree");
        out
    };
    let first = run(1024, b"one password here");
    run(4096, b"another password");
    run(1024, b"a third one");
    assert_eq!(run(1024, b"one password here"), first);
}

/// A hashing thread keeps its working memory while hashes keep coming and releases it once
/// idle for `KEEP_WORKING_MEMORY`.
#[test]
fn idle_hashing_threads_release_their_working_memory() {
    let pool = HashPool::new(1).unwrap();
    let kept = || pool.run(|| WORKING_MEMORY.with_borrow(Vec::len)).unwrap();
    let hasher = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(1024, 1, 1, None).unwrap(),
    );
    pool.run(move || {
        let mut out = [0u8; 32];
        hash_into(&hasher, b"password", b"sixteen byte slt", &mut out).unwrap();
    })
    .unwrap();
    assert_eq!(kept(), 1024, "1024 one-KiB blocks kept after a hash");
    std::thread::sleep(KEEP_WORKING_MEMORY + Duration::from_millis(500));
    assert_eq!(kept(), 0, "released after the idle time");
}

/// Every failed check spends the budget (`password::cost`): an imported hash cheaper than a
/// check at the configured parameters, an argon2 hash made under smaller ones, a row that is no
/// hash at all, each is padded with argon2id work up to what the dummy hash of an unknown email
/// spends by itself. A match is not padded (it goes on to the rehash). The work is the hashing
/// thread's own account of what it ran, so the padding is seen to run, not only computed.
#[test]
fn a_wrong_password_spends_the_budget_whatever_the_hash() {
    let hasher = PasswordHasher::new(Argon2Params {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    let budget = hasher.budget();
    let right = "the right passphrase";
    let bcrypt = bcrypt::hash_with_salt(right, 4, [7u8; 16])
        .unwrap()
        .to_string();
    let mut django = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(right.as_bytes(), b"salt", 1000, &mut django);
    let django = format!("pbkdf2_sha256$1000$salt${}", STANDARD.encode(django));
    let smaller = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap_params())
        .hash_password(
            right.as_bytes(),
            &SaltString::encode_b64(b"sixteen byte slt").unwrap(),
        )
        .unwrap()
        .to_string();
    let own = hasher.hash(right).unwrap();
    for stored in [
        &bcrypt,
        &django,
        &smaller,
        &own,
        &hasher.dummy_hash,
        "not a hash",
    ] {
        let (verified, work) = hasher.check(stored, "a wrong passphrase");
        assert!(verified.is_none());
        assert!(
            work <= budget && work.0 * 100 >= budget.0 * 99,
            "{stored}: {work:?} of {budget:?}"
        );
    }
    let (verified, work) = hasher.check(&bcrypt, right);
    assert!(verified.is_some_and(|v| v.needs_rehash));
    assert_eq!(
        work,
        Cost::Bcrypt { cost: 4 }.here(),
        "a match is not padded"
    );
}

fn cheap_params() -> Params {
    Params::new(1024, 1, 1, None).unwrap()
}
