//! What one password check costs, in one unit that every algorithm converts to: the time it
//! takes on the machine the ratios below were measured on (nanoseconds; docs/performance.md,
//! "Wrong passwords against imported hashes"). Only the ratios matter: a check at the
//! configured argon2id parameters is the budget, every failed check spends it (the hasher pads
//! a cheaper one with argon2id work), and an imported hash is accepted only when verifying it
//! costs no more. So a wrong password for a user whose imported hash was never replaced takes
//! what an unknown email takes (the dummy hash, at the budget), and the response time does not
//! tell whether the email exists: a bcrypt hash of cost 13 answered in 0.55 s against 17 ms.

/// Time on the reference machine, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Work(pub u64);

/// What verifying a stored hash computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// argon2 over `memory_kib` 1 KiB blocks, `passes` times (lanes share the blocks: no more
    /// work, and the hashing threads run them one after the other).
    Argon2 {
        /// m, KiB.
        memory_kib: u32,
        /// t.
        passes: u32,
    },
    /// bcrypt: 2^cost expansions of the Blowfish key.
    Bcrypt {
        /// The cost (log2 of the rounds).
        cost: u32,
    },
    /// PBKDF2-HMAC: `rounds` iterations for each `digest`-sized block of the output, so an
    /// output longer than the digest multiplies the work (SP 800-132 5.3; `l=64` with SHA-256
    /// is two blocks, twice the rounds).
    Pbkdf2 {
        /// SHA-512 (else SHA-256).
        sha512: bool,
        /// c.
        rounds: u32,
        /// dkLen, bytes.
        output_len: u32,
    },
}

/// argon2 on kept working memory, ns per block: in the first pass and in each later one (which
/// reads blocks the data chose, further apart: 5-25% more), by memory (KiB); measured with
/// t=1 and t=2 (2-core Xeon, 2026-12-06). A block costs more once the blocks leave the caches.
const ARGON2_NS_PER_BLOCK: [(u32, u64, u64); 7] = [
    (1024, 305, 307),
    (4096, 305, 328),
    (8192, 317, 357),
    (16_384, 341, 397),
    (32_768, 384, 482),
    (65_536, 487, 572),
    (262_144, 662, 846),
];
/// bcrypt: ns per expansion of the key (cost 6, 8 and 10 alike).
const BCRYPT_NS: u64 = 60_500;
/// PBKDF2: ns per round and block: SHA-256 with the CPU's SHA instructions, without them
/// (sha2's portable code, 3.4 times slower), and SHA-512 (no such instructions; AVX2 or not
/// within a tenth).
const SHA256_NS_HARDWARE: u64 = 109;
const SHA256_NS_PORTABLE: u64 = 375;
const SHA512_NS: u64 = 495;

/// ns per argon2 block at `memory_kib`, in the first pass and in a later one, interpolated
/// between the measured points.
fn argon2_ns_per_block(memory_kib: u32) -> (u64, u64) {
    let mut below = ARGON2_NS_PER_BLOCK[0];
    for above in ARGON2_NS_PER_BLOCK {
        if memory_kib <= above.0 {
            if above.0 == below.0 {
                return (above.1, above.2);
            }
            let span = u64::from(above.0 - below.0);
            let into = u64::from(memory_kib.max(below.0) - below.0);
            let between = |low: u64, high: u64| low + (high - low) * into / span;
            return (between(below.1, above.1), between(below.2, above.2));
        }
        below = above;
    }
    (below.1, below.2)
}

/// Whether this CPU has the SHA-256 instructions sha2 uses (it checks the same at run time).
fn sha256_in_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("sha2")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

impl Cost {
    /// The argon2 check every other is measured against.
    pub fn argon2(memory_kib: u32, passes: u32) -> Self {
        Cost::Argon2 { memory_kib, passes }
    }

    fn work(&self, sha256_ns: u64) -> Work {
        Work(match *self {
            Cost::Argon2 { memory_kib, passes } => {
                let (first, later) = argon2_ns_per_block(memory_kib);
                let later_passes = u64::from(passes.saturating_sub(1));
                u64::from(memory_kib) * (first + later_passes * later)
            }
            Cost::Bcrypt { cost } => BCRYPT_NS << cost.min(31),
            Cost::Pbkdf2 { sha512, .. } => {
                self.block_rounds() * if sha512 { SHA512_NS } else { sha256_ns }
            }
        })
    }

    /// PBKDF2's rounds times its blocks of output (none for the others).
    pub fn block_rounds(&self) -> u64 {
        match *self {
            Cost::Pbkdf2 {
                sha512,
                rounds,
                output_len,
            } => {
                let digest = if sha512 { 64 } else { 32 };
                u64::from(rounds) * u64::from(output_len.div_ceil(digest).max(1))
            }
            _ => 0,
        }
    }

    /// The most it takes on any machine (SHA-256 without the CPU's instructions): what an
    /// import compares with the budget, so that no accepted hash costs more than a check at
    /// the configured parameters, wherever the provider runs.
    pub fn upper(&self) -> Work {
        self.work(SHA256_NS_PORTABLE)
    }

    /// What it takes on this machine: what a failed check is padded up from.
    pub fn here(&self) -> Work {
        let sha256 = if sha256_in_hardware() {
            SHA256_NS_HARDWARE
        } else {
            SHA256_NS_PORTABLE
        };
        self.work(sha256)
    }

    /// The same kind of hash at the most `budget` allows, in the operator's words (for the
    /// refusal of a costlier one).
    pub fn most_within(&self, budget: Work) -> String {
        match *self {
            Cost::Argon2 { .. } => {
                "argon2 no costlier than the configured parameters (memory × passes)".into()
            }
            Cost::Bcrypt { .. } => match (4..=31)
                .rev()
                .find(|c| Cost::Bcrypt { cost: *c }.upper() <= budget)
            {
                Some(cost) => format!("bcrypt cost {cost}"),
                None => "no bcrypt cost (not even 4)".into(),
            },
            Cost::Pbkdf2 {
                sha512, output_len, ..
            } => {
                let one = Cost::Pbkdf2 {
                    sha512,
                    rounds: 1,
                    output_len,
                };
                format!(
                    "{} rounds of PBKDF2-{} for a {output_len}-byte hash",
                    budget.0 / one.upper().0.max(1),
                    if sha512 { "SHA512" } else { "SHA256" },
                )
            }
        }
    }
}

/// The argon2id run (memory KiB, passes) that brings a failed check that spent `spent` up to
/// `budget`, over no more memory than the configured `memory_kib` (a wrong password must not
/// hold more than a right one): the fewest passes over the most memory that fit, so its cost
/// per block is close to the budget's own. `None` when nothing worth a run is left.
pub(super) fn padding(memory_kib: u32, budget: Work, spent: Work) -> Option<(u32, u32)> {
    let left = budget.0.checked_sub(spent.0)?;
    // The fewest passes over the configured memory that reach what is left (at most the
    // budget's own passes, since what is left is at most the budget).
    let mut passes = 1u32;
    while Cost::argon2(memory_kib, passes).here().0 < left && passes < u32::MAX {
        passes += 1;
    }
    // The most memory whose `passes` fit in what is left (the cost grows with the memory).
    let (mut lo, mut hi) = (0u32, memory_kib);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if Cost::argon2(mid, passes).here().0 <= left {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    // argon2's least memory is 8 KiB; under that, the difference is a few microseconds.
    (lo >= 8).then_some((lo, passes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Cost = Cost::Argon2 {
        memory_kib: 19_456,
        passes: 2,
    };

    #[test]
    fn the_default_budget_is_what_was_measured() {
        // 14.7 ms measured for m=19456, t=2 on kept working memory, 6.9 ms for t=1.
        let ms = DEFAULT.here().0 as f64 / 1e6;
        assert!((14.0..15.5).contains(&ms), "{ms} ms");
        let ms = Cost::argon2(19_456, 1).here().0 as f64 / 1e6;
        assert!((6.5..7.3).contains(&ms), "{ms} ms");
        // And bcrypt cost 13 is the 0.55 s of the issue.
        let ms = Cost::Bcrypt { cost: 13 }.here().0 as f64 / 1e6;
        assert!((480.0..520.0).contains(&ms), "{ms} ms");
    }

    #[test]
    fn a_longer_pbkdf2_output_counts_its_blocks() {
        let sha256 = |output_len| Cost::Pbkdf2 {
            sha512: false,
            rounds: 10_000,
            output_len,
        };
        assert_eq!(sha256(64).upper().0, 2 * sha256(32).upper().0);
        assert_eq!(sha256(33).upper(), sha256(64).upper());
        assert_eq!(sha256(20).upper(), sha256(32).upper());
        let sha512 = |output_len| Cost::Pbkdf2 {
            sha512: true,
            rounds: 10_000,
            output_len,
        };
        assert_eq!(sha512(64).upper(), sha512(32).upper());
        assert!(sha256(32).here() <= sha256(32).upper());
    }

    #[test]
    fn padding_fills_a_failed_check_up_to_the_budget() {
        let budget = DEFAULT.here();
        for spent in [0, 10_000, 1_000_000, 5_000_000, 7_000_000, 14_000_000] {
            let (m, t) = padding(19_456, budget, Work(spent)).unwrap();
            assert!(m <= 19_456, "no more memory than configured");
            let total = spent + Cost::argon2(m, t).here().0;
            let short = budget.0 - total;
            assert!(
                total <= budget.0 && short * 100 <= budget.0,
                "spent {spent}: {m} KiB × {t} brings {total} of {}",
                budget.0
            );
        }
        assert_eq!(padding(19_456, budget, budget), None);
        assert_eq!(padding(19_456, budget, Work(budget.0 * 2)), None);
    }

    #[test]
    fn the_most_within_a_budget_reads_like_a_setting() {
        let budget = DEFAULT.upper();
        assert_eq!(
            Cost::Bcrypt { cost: 12 }.most_within(budget),
            "bcrypt cost 7"
        );
        let sha256 = Cost::Pbkdf2 {
            sha512: false,
            rounds: 870_000,
            output_len: 32,
        };
        assert!(sha256
            .most_within(budget)
            .ends_with("rounds of PBKDF2-SHA256 for a 32-byte hash"));
    }
}
