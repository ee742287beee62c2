//! `ceiling` (hidden; for bench/pinned.sh): the most one core can do of the work that bounds a
//! sign-in and a refresh, measured with the provider's own code on the cores this process may
//! run on (`taskset -c 0 idp-server ceiling`): argon2id verifications at the configured
//! parameters (the same hasher and hashing pool every sign-in uses) and JWT signatures per
//! algorithm with the signing keys in the database (the same signer the token endpoint uses).
//! One operation at a time, for `--seconds` each, after one unmeasured warm-up operation. Each
//! line: what, operations per CPU-second (the ceiling: what the core does when the operation has
//! it to itself; on a shared machine the wall-clock rate also measures the neighbours), CPU ms per
//! operation, operations done, operations per wall-clock second.

use std::time::{Duration, Instant};

use serde_json::json;

use super::args::CeilingArgs;
use super::output::Output;
use super::CliError;
use crate::alg::SigningAlg;
use crate::tokens::AccessTokenClaims;
use crate::{keys, Runtime};

/// The CPU time this process's threads have used: the sum over `/proc/self/task/*/schedstat`
/// (nanoseconds on a CPU), so a hash on a pool thread counts.
fn cpu_time() -> Result<Duration, CliError> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(Duration::from_nanos(ns))
}

/// What one operation costs, measured over `seconds` of wall time, one operation at a time.
struct Rate {
    /// Operations per second of CPU time: what a core does when nothing else runs on it.
    per_cpu_s: f64,
    /// Milliseconds of CPU time per operation.
    cpu_ms: f64,
    /// Operations per second of wall time (lower when other processes share the core).
    per_wall_s: f64,
    n: u64,
}

impl Rate {
    fn line(&self, what: &str) -> String {
        format!(
            "{what} {:.1} {:.3} {} {:.1}",
            self.per_cpu_s, self.cpu_ms, self.n, self.per_wall_s
        )
    }
    fn json(&self) -> serde_json::Value {
        json!({"per_cpu_s": self.per_cpu_s, "cpu_ms": self.cpu_ms, "per_wall_s": self.per_wall_s, "n": self.n})
    }
}

/// Runs `op` one at a time for `seconds`, after one unmeasured run.
fn rate(seconds: f64, mut op: impl FnMut() -> Result<(), CliError>) -> Result<Rate, CliError> {
    op()?;
    let budget = Duration::from_secs_f64(seconds);
    let (start, cpu0) = (Instant::now(), cpu_time()?);
    let mut n = 0u64;
    while start.elapsed() < budget || n == 0 {
        op()?;
        n += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_time()?.saturating_sub(cpu0).as_secs_f64().max(1e-9);
    Ok(Rate {
        per_cpu_s: n as f64 / cpu,
        cpu_ms: cpu * 1000.0 / n as f64,
        per_wall_s: n as f64 / wall,
        n,
    })
}

pub fn run(args: &CeilingArgs, rt: &Runtime, out: &Output) -> Result<(), CliError> {
    let mut lines = Vec::new();
    let mut results = serde_json::Map::new();
    let wanted =
        |what: &str| args.only.is_empty() || args.only.iter().any(|w| w.eq_ignore_ascii_case(what));
    if wanted("argon2id") {
        let params = rt.config.argon2;
        let hasher = idp_core::password::PasswordHasher::new(params)
            .map_err(|e| CliError::Refused(e.to_string()))?;
        let password = "correct horse battery staple";
        let phc = hasher
            .hash(password)
            .map_err(|e| CliError::Refused(e.to_string()))?;
        let r = rate(args.seconds, || {
            hasher
                .verify(&phc, password)
                .map(|_| ())
                .ok_or_else(|| CliError::Refused("the benchmark hash did not verify".into()))
        })?;
        lines.push(format!(
            "{} (m={} t={} p={})",
            r.line("argon2id"),
            params.memory_kib,
            params.iterations,
            params.parallelism
        ));
        results.insert("argon2id".into(), r.json());
    }
    let keyring = keys::Keyring::load_or_create(&rt.idp, rt.publish_retired_for())?;
    let claims = AccessTokenClaims::sample(&rt.config.issuer, chrono::Utc::now().timestamp());
    for alg in [SigningAlg::Rs256, SigningAlg::Es256] {
        if !wanted(alg.as_str()) {
            continue;
        }
        let signer = keyring
            .signer(alg)
            .ok_or_else(|| CliError::Refused(format!("no {} signing key", alg.as_str())))?;
        let r = rate(args.seconds, || {
            signer
                .sign_jwt("at+jwt", &claims)
                .map(|_| ())
                .map_err(|e| CliError::Refused(e.to_string()))
        })?;
        lines.push(r.line(alg.as_str()));
        results.insert(alg.as_str().into(), r.json());
    }
    out.say(lines.join("\n"), serde_json::Value::Object(results));
    Ok(())
}
