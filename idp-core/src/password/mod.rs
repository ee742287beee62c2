//! Passwords (NIST SP 800-63B): a length-based policy with a blocklist and no composition rules,
//! and argon2id hashing in PHC strings with rehash-on-login when the parameters change.

use std::collections::HashSet;
use std::sync::LazyLock;

mod cost;
mod hash;
pub mod legacy;
#[cfg(test)]
mod tests;

pub use cost::{Cost, Work};
use hash::normalise;
pub use hash::{Argon2Params, HashError, PasswordHasher, Verified};

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Why a password was refused (what a person reads on a page is the server's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    /// The password is shorter than … characters.
    #[error("the password is shorter than {min} characters")]
    /// Shorter than the policy's minimum.
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// The password is longer than … characters.
    #[error("the password is longer than {max} characters")]
    /// Longer than the policy's maximum.
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// The password is among the most common passwords.
    #[error("the password is among the most common passwords")]
    Common,
    /// The password contains the email address or its local part.
    #[error("the password contains the email address or its local part")]
    ContainsEmail,
    /// The password contains control characters.
    #[error("the password contains control characters")]
    ControlCharacters,
}

/// The rules every new password must satisfy, wherever it is set (pages, CLI, reset).
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
}

/// No policy may ask for fewer characters.
pub const ABSOLUTE_MIN_LENGTH: usize = 8;
/// The default minimum length (NIST SP 800-63B).
pub const DEFAULT_MIN_LENGTH: usize = 12;
/// The maximum length.
pub const DEFAULT_MAX_LENGTH: usize = 128;

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: DEFAULT_MIN_LENGTH,
            max_length: DEFAULT_MAX_LENGTH,
        }
    }
}

/// A minimum length the policy cannot have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Below NIST's floor.
    #[error("the minimum password length cannot be below {ABSOLUTE_MIN_LENGTH}")]
    BelowFloor,
    /// Above the maximum length.
    #[error("the minimum password length cannot exceed {DEFAULT_MAX_LENGTH}")]
    AboveMaximum,
}

impl PasswordPolicy {
    /// A policy with a custom minimum; NIST's floor of 8 cannot be undercut.
    pub fn new(min_length: usize) -> Result<Self, PolicyError> {
        if min_length < ABSOLUTE_MIN_LENGTH {
            return Err(PolicyError::BelowFloor);
        }
        if min_length > DEFAULT_MAX_LENGTH {
            return Err(PolicyError::AboveMaximum);
        }
        Ok(PasswordPolicy {
            min_length,
            max_length: DEFAULT_MAX_LENGTH,
        })
    }

    /// The minimum length in characters.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// The maximum length in characters.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Checks a new password for the user with this authentication email.
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordRejection> {
        let normalised = normalise(password);
        if normalised.chars().any(|c| c.is_control()) {
            return Err(PasswordRejection::ControlCharacters);
        }
        let len = normalised.chars().count();
        if len < self.min_length {
            return Err(PasswordRejection::TooShort {
                min: self.min_length,
            });
        }
        if len > self.max_length {
            return Err(PasswordRejection::TooLong {
                max: self.max_length,
            });
        }
        let lower = normalised.to_lowercase();
        if COMMON_PASSWORDS.contains(lower.as_str()) {
            return Err(PasswordRejection::Common);
        }
        let local = email.trim().split('@').next().unwrap_or("").to_lowercase();
        if local.chars().count() >= 3 && lower.contains(&local) {
            return Err(PasswordRejection::ContainsEmail);
        }
        Ok(())
    }
}
