//! argon2id hashing in PHC strings, on a few long-lived threads that keep their working memory,
//! with a dummy hash that makes an unknown email cost what a wrong password costs.

use std::cell::RefCell;
use std::sync::mpsc;
use std::time::Duration;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use unicode_normalization::UnicodeNormalization;

use super::cost::{self, Cost, Work};
use super::legacy::{self, HashFormat, HashFormatError};
use crate::crypto::{random_bytes, CryptoError};

#[derive(Debug, thiserror::Error)]
/// Why hashing failed.
pub enum HashError {
    /// The argon2 parameters are out of argon2's bounds.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// argon2 failed, or a hashing thread is gone.
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
pub(super) const KEEP_WORKING_MEMORY: Duration = Duration::from_secs(2);

thread_local! {
    /// A hashing thread's argon2 working memory (m KiB: 19 MiB at the default cost), reused from
    /// one hash to the next. Allocated fresh for every hash, it was mapped and unmapped each
    /// time (the server sets a fixed mmap threshold so freed memory goes back to the system), and
    /// the kernel's page faults and page clearing took a quarter of every hash during a sign-in
    /// storm. Released when the thread has been idle for [`KEEP_WORKING_MEMORY`], so an idle
    /// server holds none of it.
    pub(super) static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` on this thread's kept working memory (grown when a hash needs more).
/// Every block is written before it is read, so what an earlier hash left there is never used.
/// Never inlined: the instruction budgets (`bench/budgets.sh`) leave exactly this call out of
/// the sign-in steps they count.
#[inline(never)]
pub(super) fn hash_into(
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

/// Runs argon2id over `memory_kib` KiB, `passes` times, on a value nobody uses: the padding of
/// a failed check. Its estimated cost, or nothing if argon2 refused the parameters.
fn spend(memory_kib: u32, passes: u32) -> Work {
    let Ok(params) = Params::new(memory_kib, passes, 1, None) else {
        return Work(0);
    };
    let mut out = [0u8; 32];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    if hash_into(&argon2, b"padding", &[0u8; 16], &mut out).is_err() {
        return Work(0);
    }
    std::hint::black_box(out);
    Cost::argon2(memory_kib, passes).here()
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
pub(super) struct HashPool {
    jobs: crossbeam_channel::Sender<Job>,
}

impl HashPool {
    pub(super) fn new(threads: usize) -> Result<Self, HashError> {
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
    pub(super) fn run<T: Send + 'static>(
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
    pub(super) dummy_hash: String,
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

    /// What one check at the configured parameters costs: what every failed check spends, and
    /// the most verifying an imported hash may cost (see `password::cost`).
    pub fn budget(&self) -> Work {
        Cost::argon2(self.params.memory_kib, self.params.iterations).here()
    }

    /// Whether `stored` may be imported: a format the provider verifies, within the fixed caps,
    /// and no costlier to verify than the budget (so a wrong password for its user answers as
    /// fast as for an unknown email).
    pub fn importable(&self, stored: &str) -> Result<HashFormat, HashFormatError> {
        legacy::within(stored, self.budget())
    }

    /// `Some` when the password matches the stored hash. The hash's own parameters are used, so
    /// hashes made under older settings still verify (and report `needs_rehash`).
    pub fn verify(&self, stored: &str, password: &str) -> Option<Verified> {
        self.check(stored, password).0
    }

    /// [`Self::verify`], and the work the hashing thread did, estimated (see `password::cost`).
    /// A check that fails is padded with argon2id work up to the budget: a wrong password costs
    /// the same whatever the user's hash (an imported bcrypt hash of cost 4 or a PBKDF2 one of
    /// a thousand rounds answered in well under a millisecond, the dummy hash of an unknown
    /// email in 15 ms), so the response time does not tell which users exist. A hash costlier
    /// than the budget (imported before it applied, or under parameters lowered since) is not
    /// padded down: it answers slower until the user's first sign-in replaces it.
    pub(super) fn check(&self, stored: &str, password: &str) -> (Option<Verified>, Work) {
        let imported = !stored.starts_with("$argon2");
        // An imported hash (bcrypt, PBKDF2, Django) is verified with its own algorithm and
        // always replaced by argon2id after a match. Its password goes in as typed: the other
        // system hashed it without our NFKC normalisation.
        let password = if imported {
            password.to_string()
        } else {
            normalise(password)
        };
        let spent = legacy::cost_of(stored).map_or(Work(0), |c| c.here());
        let padding = cost::padding(self.params.memory_kib, self.budget(), spent);
        let owned = stored.to_string();
        let Ok((matches, padded)) = self.pool.run(move || {
            let matches = if imported {
                legacy::matches_legacy(&owned, password.as_bytes())
            } else {
                matches_phc(&owned, password.as_bytes())
            };
            let padded = match padding {
                Some((memory_kib, passes)) if !matches => spend(memory_kib, passes),
                _ => Work(0),
            };
            (matches, padded)
        }) else {
            return (None, Work(0));
        };
        let work = Work(spent.0 + padded.0);
        if !matches {
            return (None, work);
        }
        if imported {
            return (Some(Verified { needs_rehash: true }), work);
        }
        (self.rehash_verdict(stored), work)
    }

    /// A matching argon2 hash: to be replaced when made with another algorithm or parameters.
    fn rehash_verdict(&self, stored: &str) -> Option<Verified> {
        let parsed = PasswordHash::new(stored).ok()?;
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
        // Only the time it takes matters; the answer is always "no match".
        let matched = self.verify(&self.dummy_hash, password).is_some();
        debug_assert!(!matched, "the dummy hash never matches");
    }
}

/// NFKC, so the same password typed on different keyboards hashes the same (SP 800-63B 5.1.1.2).
pub(super) fn normalise(password: &str) -> String {
    password.nfkc().collect()
}
