//! What commands print (a line for people, `--json` for scripts), and the small helpers they
//! share.

use std::io::Read;

use idp_core::accounts::Change;
use idp_core::mfa::EnrollmentState;
use idp_core::{Actor, User};
use serde_json::json;

use super::args::Cli;
use super::CliError;

/// What a command prints: a line for people, a value for scripts.
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn say(&self, text: impl AsRef<str>, value: serde_json::Value) {
        if self.json {
            outln!("{value}");
        } else {
            outln!("{}", text.as_ref());
        }
    }
}

/// One line of a command's output on stdout. Rust ignores SIGPIPE, so `println!` panics when the
/// reader went away (`... | head`); here a closed pipe ends the command quietly (what it did is
/// done; the reader wanted no more), and any other write error ends it with the reason.
pub fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

pub fn operator(cli: &Cli) -> Actor {
    let name = cli
        .operator
        .clone()
        .or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    Actor::Operator(name)
}

pub fn ts(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

pub fn read_password() -> Result<String, CliError> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::Refused(format!("cannot read the password from stdin: {e}")))?;
    let pw = s.strip_suffix('\n').unwrap_or(&s);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err(CliError::Refused("no password on standard input".into()));
    }
    Ok(pw.to_string())
}

pub fn user_json(u: &User) -> serde_json::Value {
    serde_json::to_value(u).unwrap_or_default()
}

pub fn say_change(out: &Output, change: Change, changed: &str, already: &str) {
    match change {
        Change::Changed => out.say(changed, json!({"changed": true})),
        Change::Already => out.say(already, json!({"changed": false})),
    }
}

pub fn mfa_state(s: EnrollmentState) -> &'static str {
    match s {
        EnrollmentState::Linked => "linked",
        EnrollmentState::Pending => "pending",
        EnrollmentState::NotEnrolled => "not enrolled",
    }
}
