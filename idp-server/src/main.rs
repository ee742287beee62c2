//! `idp-server`: the OpenID Connect provider and its operator commands, on one binary.

use std::process::ExitCode;

use clap::Parser;
use idp_server::cli;

fn main() -> ExitCode {
    tune_allocator();
    let args = cli::Cli::parse();
    // Held to the end of main: dropping it writes out the log lines still queued.
    let _log_writer = init_tracing(&args);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// glibc's defaults suit short programs, not a server that hashes passwords: threads that
/// allocate at the same time get their own arenas (up to eight per core), and after the first
/// large free it raises its mmap threshold, so argon2's 19 MiB buffers (and SQLite's caches)
/// land in those arenas and stay resident. Measured with bench/run.sh: 35 → 190 MiB after a
/// sign-in storm and a userinfo load. Two arenas and a fixed 4 MiB mmap threshold (big buffers
/// always go back to the system when freed) keep it at 15-20 MiB, at the same throughput
/// (docs/performance.md). `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` in the environment win.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator tuning. It runs first in main, before any other
    // thread exists, so no allocation races with it.
    unsafe {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Logs go to stderr through a writer thread: a request's handler only queues its line (the
/// formatting and the write system call were a tenth of the CPU of a discovery request at
/// 40,000 req/s). Not lossy: when the queue (1,024 lines) is full, the handler waits rather than
/// drop a line.
/// Colours only when stderr is a terminal.
fn init_tracing(args: &cli::Cli) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDP_LOG").unwrap_or_else(|_| {
        // Operator commands print their own results; keep the log quiet there.
        let default = if args.is_serve() { "info" } else { "warn" };
        tracing_subscriber::EnvFilter::new(default)
    });
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The default queue (128,000 lines) is allocated up front: 4 MiB of resident memory.
        .buffered_lines_limit(1024)
        .thread_name("idp-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    if args.log_format == cli::LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}
