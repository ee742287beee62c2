//! Passwords (NIST SP 800-63B): a length-based policy with a blocklist and no composition rules,
//! and argon2id hashing in PHC strings with rehash-on-login when the parameters change.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{mpsc, LazyLock};
use std::time::Duration;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use unicode_normalization::UnicodeNormalization;

use crate::crypto::{random_bytes, CryptoError};

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

impl PasswordPolicy {
    /// A policy with a custom minimum; NIST's floor of 8 cannot be undercut.
    pub fn new(min_length: usize) -> Result<Self, String> {
        if min_length < ABSOLUTE_MIN_LENGTH {
            return Err(format!(
                "the minimum password length cannot be below {ABSOLUTE_MIN_LENGTH}"
            ));
        }
        if min_length > DEFAULT_MAX_LENGTH {
            return Err(format!(
                "the minimum password length cannot exceed {DEFAULT_MAX_LENGTH}"
            ));
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

/// NFKC, so the same password typed on different keyboards hashes the same (SP 800-63B 5.1.1.2).
fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

#[derive(Debug, thiserror::Error)]
/// Why hashing failed.
pub enum HashError {
    /// Invalid argon2 parameters: ….
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Password hashing failed: ….
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    /// The random generator or the sealing of a secret failed.
    Crypto(#[from] CryptoError),
}

/// argon2id cost parameters. Defaults are OWASP's: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Time cost (passes).
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// What a successful verification tells the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The stored hash was made with other parameters: store a fresh hash now.
    pub needs_rehash: bool,
}

type Job = Box<dyn FnOnce() + Send>;

/// How long a hashing thread keeps its argon2 working memory after its last hash.
const KEEP_WORKING_MEMORY: Duration = Duration::from_secs(2);

thread_local! {
    /// A hashing thread's argon2 working memory (m KiB: 19 MiB at the default cost), reused from
    /// one hash to the next. Allocated fresh for every hash, it was mapped and unmapped each
    /// time (the server sets a fixed mmap threshold so freed memory goes back to the system), and
    /// the kernel's page faults and page clearing took a quarter of every hash during a sign-in
    /// storm. Released when the thread has been idle for [`KEEP_WORKING_MEMORY`], so an idle
    /// server holds none of it.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` on this thread's kept working memory (grown when a hash needs more).
/// Every block is written before it is read, so what an earlier hash left there is never used.
fn hash_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    WORKING_MEMORY.with_borrow_mut(|blocks| {
        let need = argon2.params().block_count();
        if blocks.len() < need {
            blocks.resize(need, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..need])
    })
}

/// Whether `password` matches the PHC string `stored`, computed with the string's own algorithm,
/// version and parameters (what `PasswordVerifier::verify_password` does, on the kept working
/// memory); the outputs are compared in constant time (`Output`'s equality).
fn matches_phc(stored: &str, password: &[u8]) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(phc.algorithm),
        phc.version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&phc),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut computed = [0u8; Output::MAX_LENGTH];
    let computed = &mut computed[..expected.len()];
    hash_into(
        &Argon2::new(algorithm, version, params),
        password,
        salt,
        computed,
    )
    .is_ok()
        && Output::new(computed).is_ok_and(|c| c == expected)
}

/// `$argon2id$v=19$m=..,t=..,p=..$salt$output`, the PHC string of an argon2id hash.
fn phc_string(params: &Argon2Params, salt_b64: &str, output: &Output) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}${salt_b64}${output}",
        params.memory_kib, params.iterations, params.parallelism,
    )
}

/// A few long-lived threads (one per core) that run every argon2 computation. A storm of
/// sign-ins then queues here instead of taking every core and every blocking thread, so the
/// other endpoints keep their share of the CPU; and each thread reuses its working memory (see
/// [`WORKING_MEMORY`]) instead of mapping a fresh 19 MiB per hash.
struct HashPool {
    jobs: crossbeam_channel::Sender<Job>,
}

impl HashPool {
    fn new(threads: usize) -> Result<Self, HashError> {
        let (jobs, rx) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    use crossbeam_channel::RecvTimeoutError;
                    let job = match rx.recv_timeout(KEEP_WORKING_MEMORY) {
                        Ok(job) => job,
                        Err(RecvTimeoutError::Timeout) => {
                            WORKING_MEMORY.take();
                            match rx.recv() {
                                Ok(job) => job,
                                Err(_) => return, // the hasher was dropped
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    job();
                })
                .map_err(|e| HashError::Hash(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(HashPool { jobs })
    }

    /// Runs `f` on a pool thread and waits for its result.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move || {
                // The caller waits on the other end; if it is gone, nobody needs the answer.
                tx.send(f()).ok();
            }))
            .map_err(|_| HashError::Hash("the hashing threads are gone".into()))?;
        rx.recv()
            .map_err(|_| HashError::Hash("a hashing thread failed".into()))
    }
}

/// Hashes and verifies passwords with argon2id at the configured cost.
pub struct PasswordHasher {
    pool: HashPool,
    argon2: Argon2<'static>,
    params: Argon2Params,
    /// A hash of a random password, verified when the email is unknown so that an unknown email
    /// costs the same time as a wrong password (no user enumeration by timing).
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

/// A PHC string at `params` with a random salt and a random 32-byte "hash": verifying any
/// password against it costs one full argon2id computation at those parameters, exactly like a
/// real hash, and never matches. Built without hashing, so a start does not spend a hash
/// (35-70 ms, most of the server's start-up time).
fn dummy_phc(params: &Argon2Params) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| HashError::Hash(e.to_string()))?;
    let output = Output::new(&random_bytes::<32>()?).map_err(|e| HashError::Hash(e.to_string()))?;
    let phc = phc_string(params, salt.as_str(), &output);
    PasswordHash::new(&phc).map_err(|e| HashError::Hash(e.to_string()))?;
    Ok(phc)
}

impl PasswordHasher {
    /// A hasher with one thread per core.
    pub fn new(params: Argon2Params) -> Result<Self, HashError> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Params(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(PasswordHasher {
            pool: HashPool::new(threads)?,
            argon2,
            params,
            dummy_hash: dummy_phc(&params)?,
        })
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// A PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) for the password.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        self.hash_raw(&normalise(password))
    }

    fn hash_raw(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::encode_b64(&random_bytes::<16>()?)
            .map_err(|e| HashError::Hash(e.to_string()))?;
        let (argon2, password) = (self.argon2.clone(), password.to_string());
        let salt_b64 = salt.as_str().to_string();
        let output = self.pool.run(move || {
            let mut salt_bytes = [0u8; 64];
            let salt = salt
                .as_salt()
                .decode_b64(&mut salt_bytes)
                .map_err(|e| HashError::Hash(e.to_string()))?;
            let mut out = [0u8; 32];
            hash_into(&argon2, password.as_bytes(), salt, &mut out)
                .map_err(|e| HashError::Hash(e.to_string()))?;
            Output::new(&out).map_err(|e| HashError::Hash(e.to_string()))
        })??;
        Ok(phc_string(&self.params, &salt_b64, &output))
    }

    /// `Some` when the password matches the stored hash. The hash's own parameters are used, so
    /// hashes made under older settings still verify (and report `needs_rehash`).
    pub fn verify(&self, stored: &str, password: &str) -> Option<Verified> {
        let parsed = PasswordHash::new(stored).ok()?;
        let (owned, password) = (stored.to_string(), normalise(password));
        let matches = self
            .pool
            .run(move || matches_phc(&owned, password.as_bytes()))
            .ok()?;
        if !matches {
            return None;
        }
        let current = Params::try_from(&parsed).ok().map(|p| Argon2Params {
            memory_kib: p.m_cost(),
            iterations: p.t_cost(),
            parallelism: p.p_cost(),
        });
        let same_algorithm = parsed.algorithm.as_str() == "argon2id";
        Some(Verified {
            needs_rehash: !same_algorithm || current != Some(self.params),
        })
    }

    /// Spends one verification on the dummy hash; the result is always "no match".
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(&self.dummy_hash, password);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
