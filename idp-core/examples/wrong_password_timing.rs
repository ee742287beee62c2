//! A one-off measurement, not a test: how long a wrong password takes against each kind of
//! stored hash, next to an unknown email (the dummy hash), with the provider's default argon2id
//! parameters. Run in release on an otherwise idle machine:
//!
//!     cargo run --release -p idp-core --example wrong_password_timing
//!
//! Each line is the median and the spread (10th-90th percentile) of its checks, in
//! milliseconds. docs/performance.md ("Wrong passwords against imported hashes") keeps a run.

use std::time::Instant;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use idp_core::password::PasswordHasher;
use idp_core::Argon2Params;

const RIGHT: &str = "the right passphrase";
const WRONG: &str = "a wrong passphrase!!";
const ROUNDS: usize = 64;
const SALT: &[u8; 16] = b"sixteen byte slt";

type Failed = Box<dyn std::error::Error>;

fn bcrypt(cost: u32) -> Result<String, Failed> {
    Ok(bcrypt::hash_with_salt(RIGHT, cost, *SALT)?.to_string())
}

fn pbkdf2(rounds: u32, len: usize) -> String {
    let mut out = vec![0u8; len];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(RIGHT.as_bytes(), SALT, rounds, &mut out);
    format!(
        "$pbkdf2-sha256$i={rounds},l={len}${}${}",
        STANDARD_NO_PAD.encode(SALT),
        STANDARD_NO_PAD.encode(&out)
    )
}

fn django(rounds: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(RIGHT.as_bytes(), b"djangosalt", rounds, &mut out);
    format!("pbkdf2_sha256${rounds}$djangosalt${}", STANDARD.encode(out))
}

fn argon2(memory_kib: u32, passes: u32) -> Result<String, Failed> {
    let params = argon2::Params::new(memory_kib, passes, 1, None)?;
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    Ok(argon2
        .hash_password(RIGHT.as_bytes(), &SaltString::encode_b64(SALT)?)?
        .to_string())
}

fn main() -> Result<(), Failed> {
    let hasher = PasswordHasher::new(Argon2Params::default())?;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("unknown email (dummy hash)", None),
        (
            "argon2id, the configured parameters",
            Some(hasher.hash(RIGHT)?),
        ),
        ("argon2id m=4096,t=1 (imported)", Some(argon2(4096, 1)?)),
        ("bcrypt cost 4 (imported)", Some(bcrypt(4)?)),
        ("bcrypt cost 7 (the most importable)", Some(bcrypt(7)?)),
        ("PBKDF2-SHA256 1,000 rounds", Some(pbkdf2(1000, 32))),
        ("PBKDF2-SHA256 30,000 rounds", Some(pbkdf2(30_000, 32))),
        ("Django PBKDF2 20,000 rounds", Some(django(20_000))),
        ("over the budget: bcrypt cost 13", Some(bcrypt(13)?)),
        ("over the budget: Django 870,000", Some(django(870_000))),
    ];
    for (label, stored) in &cases {
        if let Some(stored) = stored {
            if hasher.verify(stored, RIGHT).is_none() {
                return Err(format!("{label}: the right password does not match").into());
            }
        }
    }
    // Round by round through every case, so that whatever else the machine does weighs on
    // each alike; the cases over the budget take long, and a few rounds tell enough.
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..ROUNDS {
        for ((label, stored), times) in cases.iter().zip(&mut times) {
            if label.starts_with("over") && round % 8 != 0 {
                continue;
            }
            let start = Instant::now();
            let matched = match stored {
                Some(stored) => hasher.verify(stored, WRONG).is_some(),
                None => {
                    hasher.verify_dummy(WRONG);
                    false
                }
            };
            times.push(start.elapsed().as_secs_f64() * 1e3);
            if matched {
                return Err(format!("{label}: a wrong password matched").into());
            }
        }
    }
    for ((label, _), mut times) in cases.iter().zip(times) {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{label:<40} {:>8.2} ms  ({:.2}-{:.2}, {} checks)",
            at(0.5),
            at(0.1),
            at(0.9),
            times.len()
        );
    }
    Ok(())
}
