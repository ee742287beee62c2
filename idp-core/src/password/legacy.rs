//! Password hashes imported from another system: argon2id/argon2i PHC strings, bcrypt
//! (`$2a$`, `$2b$`, `$2y$`), PBKDF2 as PHC strings (`$pbkdf2-sha256$`, `$pbkdf2-sha512$`) and
//! Django's `pbkdf2_sha256$iterations$salt$hash`. Each is checked whole at import (an unknown
//! or broken one is refused there, per line) and verified with its own well-kept crate at
//! sign-in, where a match is replaced by the configured argon2id hash.
//!
//! Two bounds on what verifying one may cost. At import, the budget: no more than a check at
//! the configured argon2id parameters (`PasswordHasher::importable`, see `password::cost`), so
//! a wrong password for the imported user answers as fast as for an unknown email. Wherever a
//! hash comes from (an import under other parameters, a row written by hand), the fixed caps
//! below: no stored hash makes one sign-in cost seconds of CPU.

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::cost::{Cost, Work};
use crate::crypto::ct_eq;

/// The most PBKDF2 work a stored hash may ask for, in rounds times blocks of output (Django 5
/// uses 870,000-1,000,000 rounds of one block; `l=64` with SHA-256 is two blocks a round).
pub const MAX_PBKDF2_BLOCK_ROUNDS: u64 = 5_000_000;
/// The highest bcrypt cost a stored hash may have (14 is about a second).
pub const MAX_BCRYPT_COST: u32 = 14;
/// The most memory (KiB), passes and lanes an imported argon2 hash may ask for: 64 MiB,
/// 10 passes, 8 lanes (the provider's default is 19 MiB, 2 passes, 1 lane). A hash with more
/// would make one sign-in hold gigabytes or run for minutes on a hashing thread.
pub const MAX_ARGON2: (u32, u32, u32) = (64 * 1024, 10, 8);

/// The kinds of stored hash the provider can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// argon2id (what the provider writes) or argon2i, as a PHC string.
    Argon2,
    /// bcrypt, `$2a$`/`$2b$`/`$2y$`.
    Bcrypt,
    /// PBKDF2-HMAC-SHA256 or -SHA512 as a PHC string.
    Pbkdf2,
    /// Django's `pbkdf2_sha256$iterations$salt$base64(hash)`.
    Django,
}

/// Why an imported hash was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashFormatError {
    /// Not one of the formats above.
    #[error("not a supported password hash (argon2id/argon2i, bcrypt $2a/$2b/$2y, $pbkdf2-sha256/512, Django pbkdf2_sha256)")]
    Unknown,
    /// The format is known but the string is broken.
    #[error("a {0} hash that cannot be read")]
    Malformed(&'static str),
    /// Its cost is over the fixed cap.
    #[error("the {0} cost is over what one sign-in may spend")]
    TooCostly(&'static str),
    /// Verifying it would cost more than a check at the configured argon2id parameters.
    #[error("this {format} hash costs more to check than a sign-in at the configured argon2 parameters (at most {most}), so a wrong password would answer slower than an unknown email and tell that the user exists; import the user without it and send a reset link (user send-link), or raise the argon2 parameters")]
    OverBudget {
        /// Its kind.
        format: &'static str,
        /// The same kind at the most the budget allows.
        most: String,
    },
}

/// Reads a stored hash's format, checking the whole string and the fixed caps.
pub fn format_of(stored: &str) -> Result<HashFormat, HashFormatError> {
    read(stored).map(|(format, _)| format)
}

/// Whether verifying `stored` fits `budget` (see the module's doc): its format, or why not.
pub(super) fn within(stored: &str, budget: Work) -> Result<HashFormat, HashFormatError> {
    let (format, cost) = read(stored)?;
    if cost.upper() > budget {
        let format = match format {
            HashFormat::Argon2 => "argon2",
            HashFormat::Bcrypt => "bcrypt",
            HashFormat::Pbkdf2 => "PBKDF2",
            HashFormat::Django => "Django PBKDF2",
        };
        return Err(HashFormatError::OverBudget {
            format,
            most: cost.most_within(budget),
        });
    }
    Ok(format)
}

/// What verifying `stored` computes at sign-in: an argon2 hash at its own parameters (the
/// provider's own, made under any configuration), another format only within the fixed caps
/// (over them, nothing is computed: see `matches_legacy`).
pub(super) fn cost_of(stored: &str) -> Option<Cost> {
    if stored.starts_with("$argon2") {
        let h = PasswordHash::new(stored).ok()?;
        let p = argon2::Params::try_from(&h).ok()?;
        return Some(Cost::argon2(p.m_cost(), p.t_cost()));
    }
    read(stored).ok().map(|(_, cost)| cost)
}

/// The format and the cost of a stored hash, checking the whole string and the fixed caps.
fn read(stored: &str) -> Result<(HashFormat, Cost), HashFormatError> {
    if stored.starts_with("$argon2") {
        let h = PasswordHash::new(stored).map_err(|_| HashFormatError::Malformed("argon2"))?;
        if !matches!(h.algorithm.as_str(), "argon2id" | "argon2i") {
            return Err(HashFormatError::Unknown);
        }
        let p = argon2::Params::try_from(&h).map_err(|_| HashFormatError::Malformed("argon2"))?;
        let (m, t, lanes) = MAX_ARGON2;
        if p.m_cost() > m || p.t_cost() > t || p.p_cost() > lanes {
            return Err(HashFormatError::TooCostly("argon2"));
        }
        if h.salt.is_none() || h.hash.is_none() {
            return Err(HashFormatError::Malformed("argon2"));
        }
        return Ok((HashFormat::Argon2, Cost::argon2(p.m_cost(), p.t_cost())));
    }
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        let parts: bcrypt::HashParts = stored
            .parse()
            .map_err(|_| HashFormatError::Malformed("bcrypt"))?;
        let cost = parts.get_cost();
        if cost > MAX_BCRYPT_COST {
            return Err(HashFormatError::TooCostly("bcrypt"));
        }
        return Ok((HashFormat::Bcrypt, Cost::Bcrypt { cost }));
    }
    if stored.starts_with("$pbkdf2-sha256$") || stored.starts_with("$pbkdf2-sha512$") {
        let h = PasswordHash::new(stored).map_err(|_| HashFormatError::Malformed("pbkdf2"))?;
        let params =
            pbkdf2::Params::try_from(&h).map_err(|_| HashFormatError::Malformed("pbkdf2"))?;
        if h.salt.is_none() || h.hash.is_none() {
            return Err(HashFormatError::Malformed("pbkdf2"));
        }
        // The length verification computes (`l`, else the crate's 32 bytes), in blocks of the
        // digest: each block runs every round again.
        let cost = Cost::Pbkdf2 {
            sha512: stored.starts_with("$pbkdf2-sha512$"),
            rounds: params.rounds,
            output_len: u32::try_from(params.output_length)
                .map_err(|_| HashFormatError::Malformed("pbkdf2"))?,
        };
        if cost.block_rounds() > MAX_PBKDF2_BLOCK_ROUNDS {
            return Err(HashFormatError::TooCostly("pbkdf2"));
        }
        return Ok((HashFormat::Pbkdf2, cost));
    }
    if stored.starts_with("pbkdf2_sha256$") {
        let (rounds, _, hash) = django_parts(stored).ok_or(HashFormatError::Malformed("Django"))?;
        if hash.len() != 32 {
            return Err(HashFormatError::Malformed("Django"));
        }
        let cost = Cost::Pbkdf2 {
            sha512: false,
            rounds,
            output_len: 32,
        };
        if cost.block_rounds() > MAX_PBKDF2_BLOCK_ROUNDS {
            return Err(HashFormatError::TooCostly("Django pbkdf2"));
        }
        return Ok((HashFormat::Django, cost));
    }
    Err(HashFormatError::Unknown)
}

/// `pbkdf2_sha256$rounds$salt$hash`: the rounds, the salt (as text: Django uses it as is) and
/// the decoded hash.
fn django_parts(stored: &str) -> Option<(u32, &str, Vec<u8>)> {
    let mut it = stored.split('$');
    let (Some("pbkdf2_sha256"), Some(rounds), Some(salt), Some(hash), None) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return None;
    };
    let rounds: u32 = rounds.parse().ok().filter(|r| *r > 0)?;
    if salt.is_empty() {
        return None;
    }
    Some((rounds, salt, STANDARD.decode(hash).ok()?))
}

/// Whether `password` matches an imported (non-argon2) hash. Costs are checked again here: a
/// hash that got past no import (written by hand into the table) is no way around the caps.
pub(super) fn matches_legacy(stored: &str, password: &[u8]) -> bool {
    match format_of(stored) {
        Ok(HashFormat::Bcrypt) => bcrypt::verify(password, stored).unwrap_or(false),
        Ok(HashFormat::Pbkdf2) => PasswordHash::new(stored)
            .is_ok_and(|h| pbkdf2::Pbkdf2.verify_password(password, &h).is_ok()),
        Ok(HashFormat::Django) => {
            let Some((rounds, salt, expected)) = django_parts(stored) else {
                return false;
            };
            let mut computed = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt.as_bytes(), rounds, &mut computed);
            ct_eq(&computed, &expected)
        }
        Ok(HashFormat::Argon2) | Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_whole_and_costs_capped() {
        let argon = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$ZmFrZWhhc2hmYWtlaGFzaGZha2VoYXNoZmFrZWhhcw";
        assert_eq!(format_of(argon), Ok(HashFormat::Argon2));
        assert_eq!(
            format_of(&argon.replace("argon2id", "argon2d")),
            Err(HashFormatError::Unknown)
        );
        let bcrypt = bcrypt::hash_with_salt("pw", 4, [7u8; 16])
            .unwrap()
            .to_string();
        assert_eq!(format_of(&bcrypt), Ok(HashFormat::Bcrypt));
        assert_eq!(
            format_of(&bcrypt.replacen("$04$", "$15$", 1)),
            Err(HashFormatError::TooCostly("bcrypt"))
        );
        assert_eq!(
            format_of("$2b$10$short"),
            Err(HashFormatError::Malformed("bcrypt"))
        );
        let django = format!("pbkdf2_sha256$1000$salt${}", STANDARD.encode([1u8; 32]));
        assert_eq!(format_of(&django), Ok(HashFormat::Django));
        assert_eq!(
            format_of(&django.replace("$1000$", "$9000000$")),
            Err(HashFormatError::TooCostly("Django pbkdf2"))
        );
        assert_eq!(
            format_of("pbkdf2_sha256$x$salt$aGFzaA=="),
            Err(HashFormatError::Malformed("Django"))
        );
        // The fixed PBKDF2 cap counts blocks of output: 3,000,000 rounds of a 64-byte SHA-256
        // hash are 6,000,000 rounds of work.
        let phc = |l: usize| {
            format!(
                "$pbkdf2-sha256$i=3000000,l={l}$c2FsdHNhbHQ${}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(vec![1u8; l])
            )
        };
        assert_eq!(format_of(&phc(32)), Ok(HashFormat::Pbkdf2));
        assert_eq!(
            format_of(&phc(64)),
            Err(HashFormatError::TooCostly("pbkdf2"))
        );
        for junk in [
            "",
            "plain",
            "$1$md5crypt$",
            "sha1$salt$hash",
            "{SSHA}abc",
            "$pbkdf2-sha1$i=1,l=20$c2FsdA$aGFzaA",
        ] {
            assert!(format_of(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn an_imported_argon2_hash_cannot_ask_for_gigabytes_or_minutes() {
        let argon = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$ZmFrZWhhc2hmYWtlaGFzaGZha2VoYXNoZmFrZWhhcw";
        for costly in ["m=4194304,t=1,p=1", "m=1024,t=1000,p=1", "m=1024,t=1,p=64"] {
            assert_eq!(
                format_of(&argon.replace("m=1024,t=1,p=1", costly)),
                Err(HashFormatError::TooCostly("argon2")),
                "{costly}"
            );
        }
        // The provider's own default and the highest accepted cost pass.
        assert_eq!(
            format_of(&argon.replace("m=1024,t=1,p=1", "m=19456,t=2,p=1")),
            Ok(HashFormat::Argon2)
        );
        assert_eq!(
            format_of(&argon.replace("m=1024,t=1,p=1", "m=65536,t=10,p=8")),
            Ok(HashFormat::Argon2)
        );
    }

    #[test]
    fn each_legacy_format_verifies_the_right_password_only() {
        let bcrypt = bcrypt::hash_with_salt("correct horse", 4, [7u8; 16])
            .unwrap()
            .to_string();
        assert!(matches_legacy(&bcrypt, b"correct horse"));
        assert!(!matches_legacy(&bcrypt, b"correct horsf"));
        // RFC 6070-style vector computed independently: PBKDF2-HMAC-SHA256("password", "salt", 1).
        let expected =
            hex::decode("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
                .unwrap();
        let django = format!("pbkdf2_sha256$1$salt${}", STANDARD.encode(&expected));
        assert!(matches_legacy(&django, b"password"));
        assert!(!matches_legacy(&django, b"passwore"));
    }
}
