//! The console in a real browser (`node/console.mjs`: playwright-core driving Debian's chromium,
//! axe-core on every page) against the RELEASE binary (`target/release/idp-server serve`), on
//! SQLite and on PostgreSQL, seeded through that binary's CLI. The tickets it walks leave their
//! audit events, read back here from the database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::independent_clients::{screenshot_dir, try_run_node};
use crate::on_both_backends;
use crate::rp::http;

/// The release binary: built once if missing (`.ci/run` builds it before the tests).
fn release_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
            let bin = target.join("release/idp-server");
            if !bin.exists() {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "--release", "-p", "idp-server"])
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .status()
                    .expect("cargo runs");
                assert!(status.success(), "building the release binary failed");
            }
            bin
        })
        .clone()
}

/// The release binary's CLI with this config; panics on a failure.
fn cli(config: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(release_binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("IDP_CONFIG")
        .env_remove("IDP_MASTER_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A served release binary, killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts `serve` on a free port (again on another one if that port was taken meanwhile).
fn serve(dir: &Path, db_url: &str) -> (Served, PathBuf) {
    for _ in 0..5 {
        let addr = free_listener().local_addr().unwrap();
        let base = format!("http://{addr}");
        let text = config_text(&base, &addr.to_string(), db_url, dir, &Options::default());
        let config = dir.join("idp.toml");
        std::fs::write(&config, text).unwrap();
        let log = dir.join("server.log");
        let child = Command::new(release_binary())
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut served = Served { child, base };
        let start = Instant::now();
        loop {
            if served.child.try_wait().unwrap().is_some() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(text.contains("in use"), "server exited at start:\n{text}");
                break;
            }
            let ready = http()
                .get(format!("{}/readyz", served.base))
                .send()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return (served, config);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("no free port after 5 attempts");
}

fn a_real_browser_handles_the_tickets_in_the_console(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(db, dir.path());
    // The schema and the keys come from the server's first start; the CLI seeds after it.
    let (server, config) = serve(dir.path(), &database.url);
    for (slug, name) in [
        ("vendor", "Vendor Help Desk"),
        ("acme", "Acme Fuel"),
        ("globex", "Globex"),
    ] {
        cli(&config, &["account", "create", slug, "--name", name], None);
    }
    let people = [
        ("vendor", "help@example.com", "Hana Help", Some("support")),
        ("vendor", "ayuda@example.com", "Ana Ayuda", Some("support")),
        ("acme", "boss@example.com", "Bo Boss", Some("account-admin")),
        ("acme", "ann@example.com", "Ann Lee", None),
        ("globex", "plain@example.com", "Pat Plain", None),
        ("globex", "nadie@example.com", "Nadia Nadie", None),
    ];
    for (account, email, name, role) in people {
        cli(
            &config,
            &[
                "user",
                "create",
                "--account",
                account,
                "--email",
                email,
                "--name",
                name,
                "--password-stdin",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        if let Some(role) = role {
            cli(
                &config,
                &["user", "grant-role", "--email", email, "--role", role],
                None,
            );
        }
    }
    // Beside the other browser test's folder, never inside it: that test empties its own.
    let shots = screenshot_dir()
        .with_file_name("console-screenshots")
        .join(match db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        });
    std::fs::remove_dir_all(&shots).ok();
    let run = try_run_node(
        "console.mjs",
        &[
            ("ISSUER", &server.base),
            ("PASSWORD", PASSWORD),
            ("SCREENSHOT_DIR", shots.to_str().unwrap()),
            ("SUPPORT", "help@example.com"),
            ("SUPPORT_ES", "ayuda@example.com"),
            ("ADMIN", "boss@example.com"),
            ("USER", "ann@example.com"),
            ("PLAIN", "plain@example.com"),
            ("PLAIN_ES", "nadie@example.com"),
            ("OTHER_ACCOUNT", "globex"),
        ],
    );
    if let Err(e) = run {
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "{e}\nserver log (last lines, newest first):\n{}",
            tail.join("\n")
        );
    }
    // What the walk did, read back from the database: each ticket's event names the support
    // user at the console, their address and the reason.
    drop(server);
    let rt = idp_server::Runtime::open(
        idp_server::config::Config::load(config.to_str().unwrap()).unwrap(),
        false,
    )
    .unwrap();
    let idp = &rt.idp;
    let help = idp.user_by_email("help@example.com").unwrap();
    let ann = idp.user_by_email("ann@example.com").unwrap();
    let acme = idp.account_by_slug("acme").unwrap();
    let events = idp
        .audit_page(
            &idp_core::audit::AuditFilter {
                account_id: Some(&acme.id),
                ..Default::default()
            },
            200,
        )
        .unwrap()
        .items;
    let by_help = format!("console:{}", help.id);
    for reason in [
        "T-2000 customer asks for MFA",
        "T-2001 lost phone",
        "T-2002 customer turns MFA off",
        "T-2003 shared computer",
    ] {
        let ev = events
            .iter()
            .find(|e| e.reason.as_deref() == Some(reason))
            .unwrap_or_else(|| panic!("no event with the reason {reason:?}"));
        assert_eq!(ev.actor, by_help, "{reason}");
        assert_eq!(ev.ip.as_deref(), Some("127.0.0.1"), "{reason}");
    }
    assert_eq!(
        idp.enrollment_state(&ann.id).unwrap(),
        idp_core::mfa::EnrollmentState::Linked,
        "ann linked a new app after the disconnect"
    );
    let shot_count = std::fs::read_dir(&shots).unwrap().count();
    assert!(
        shot_count >= 44,
        "every console page at two widths in two languages: {shot_count}"
    );
}

on_both_backends!(a_real_browser_handles_the_tickets_in_the_console);
