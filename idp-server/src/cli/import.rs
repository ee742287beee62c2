//! `import --file users.jsonl`: an existing user base, line by line (see `idp_core::import`).

use std::io::{BufRead, BufReader, IsTerminal};

use idp_core::import::{ImportOptions, ImportScope};
use idp_core::model::printable;
use idp_core::Actor;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::args::ImportArgs;
use super::error::CliError;
use super::output::Output;
use crate::Runtime;

pub fn run(args: &ImportArgs, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), CliError> {
    // clap requires exactly one of the two (args.rs); a caller that got here without either is
    // refused the same way rather than given a default.
    let scope = match (&args.account, args.all_accounts) {
        (Some(slug), false) => ImportScope::Account(slug.trim().to_string()),
        (None, true) => ImportScope::AllAccounts,
        _ => {
            return Err(CliError::Refused(
                "name the account the file is for (--account SLUG) or import every account it names (--all-accounts)".into(),
            ))
        }
    };
    // A progress bar on a terminal (stderr, so the summary on stdout stays clean): over the
    // file's bytes, or a counter for standard input. Hidden for --json and when not a terminal.
    let show = std::io::stderr().is_terminal() && !out.json;
    let (input, bar): (Box<dyn BufRead>, ProgressBar) = if args.file == "-" {
        let bar = if show {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(style("{spinner} {msg}"));
        (Box::new(BufReader::new(std::io::stdin().lock())), bar)
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| CliError::Refused(format!("cannot open {}: {e}", args.file)))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = if show {
            ProgressBar::new(size)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(style("[{bar:30}] {percent:>3}% {msg} (eta {eta})"));
        (Box::new(BufReader::new(bar.wrap_read(file))), bar)
    };
    let options = ImportOptions {
        dry_run: args.dry_run,
        create_accounts: args.create_accounts,
        update: args.update,
    };
    let mut progress = |lines: usize| bar.set_message(format!("{lines} lines"));
    let result = rt
        .idp
        .import_users(input, options, &scope, &mut progress, actor);
    bar.finish_and_clear();
    // What stopped the import may quote the input too (an I/O or database message): escaped
    // like the report's reasons, which come escaped from the core.
    let report = result.map_err(|e| CliError::Refused(printable(&e.to_string()).into_owned()))?;
    for (line, reason) in &report.failed {
        eprintln!("line {line}: {reason}");
    }
    let verb = if args.dry_run { "would be " } else { "" };
    out.say(
        format!(
            "{}{} created, {} updated, {} skipped (existing), {} failed; {} account(s) {verb}created",
            if args.dry_run { "dry run: " } else { "" },
            report.created,
            report.updated,
            report.skipped,
            report.failed.len(),
            report.accounts_created,
        ),
        json!({
            "dry_run": args.dry_run,
            "created": report.created,
            "updated": report.updated,
            "skipped": report.skipped,
            "accounts_created": report.accounts_created,
            "failed": report.failed.iter().map(|(l, r)| json!({"line": l, "reason": r})).collect::<Vec<_>>(),
        }),
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Partial(report.failed.len()))
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a bad one is a programming error caught by
    // the tests that run the command, and falls back to the default look rather than failing.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
