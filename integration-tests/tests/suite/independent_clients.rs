//! Clients nobody here wrote: panva's openid-client (an OpenID Certified relying-party library)
//! runs the whole flow against our server, and Debian's chromium driven by playwright-core signs
//! in to a test app through the hosted pages. Both are node scripts under `integration-tests/node`
//! (versions pinned by its lockfile; `.ci/run` runs `npm ci`); the test fails when they fail.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::seed;

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Installs the pinned packages when they are missing (CI does it up front).
fn ensure_node_modules() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if node_dir()
            .join("node_modules/openid-client/package.json")
            .exists()
            && node_dir()
                .join("node_modules/playwright-core/package.json")
                .exists()
        {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(node_dir())
            .status()
            .expect("node and npm are needed (apt-get install nodejs npm)");
        assert!(
            status.success(),
            "npm ci failed in {}",
            node_dir().display()
        );
    });
}

fn run_node(script: &str, env: &[(&str, &str)]) -> String {
    try_run_node(script, env).unwrap_or_else(|e| panic!("{e}"))
}

/// The node scripts that drive chromium; one runs at a time, so that on a 2-core machine running
/// the whole suite no walk waits past its timeouts for a CPU another browser holds.
const BROWSER_SCRIPTS: [&str; 2] = ["browser.mjs", "console.mjs"];

/// A node script's output, or what it said when it failed.
pub(crate) fn try_run_node(script: &str, env: &[(&str, &str)]) -> Result<String, String> {
    static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ensure_node_modules();
    let _browser = BROWSER_SCRIPTS
        .contains(&script)
        .then(|| ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner()));
    let out = Command::new("node")
        .arg(script)
        .current_dir(node_dir())
        .envs(env.iter().copied())
        .output()
        .expect("node is needed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && stdout.lines().last() == Some("OK") {
        Ok(stdout)
    } else {
        Err(format!(
            "{script} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        ))
    }
}

fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// Installs the pinned Python packages when they are missing (CI does it up front).
pub fn ensure_python_packages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let present = Command::new("python3")
            .args(["-c", "import authlib, requests, schemathesis"])
            .status()
            .is_ok_and(|s| s.success());
        if present {
            return;
        }
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "-r", "requirements.txt"])
            .current_dir(python_dir())
            .status()
            .expect("python3 with pip is needed");
        assert!(
            status.success(),
            "pip install -r integration-tests/python/requirements.txt failed"
        );
    });
}

/// Authlib (an independent OAuth/OIDC library) as the app: code + PKCE, the ID token verified with
/// authlib.jose against the JWKS, two refreshes the way Authlib makes them (re-sending the original
/// scope, `offline_access` included, which must not be refused: the user would be signed out five
/// minutes later), userinfo; then Authlib as an API introspects the access token (RFC 7662), the
/// app revokes its refresh token (RFC 7009) and the API learns at once that the access token is
/// dead.
fn authlib_runs_the_flow_and_refreshes_with_the_original_scope(db: Db) {
    ensure_python_packages();
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: crate::token::introspection::api_client(),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let out = Command::new("python3")
        .arg("authlib_rp.py")
        .current_dir(python_dir())
        .envs([
            ("ISSUER", server.base.as_str()),
            ("CLIENT_ID", "demo"),
            ("CLIENT_SECRET", DEMO_SECRET),
            ("REDIRECT_URI", "http://127.0.0.1:8081/callback"),
            ("EMAIL", "ann@example.com"),
            ("PASSWORD", PASSWORD),
            ("API_CLIENT_ID", "api"),
            ("API_CLIENT_SECRET", crate::token::introspection::API_SECRET),
        ])
        .output()
        .expect("python3 is needed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.lines().last() == Some("OK"),
        "authlib_rp.py failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for step in [
        "discovery",
        "code + PKCE",
        "id token",
        "refresh",
        "userinfo",
        "introspection",
        "revocation",
    ] {
        assert!(stdout.contains(step), "{stdout}");
    }
}

fn openid_client_runs_the_whole_flow(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let out = run_node(
        "openid-client-rp.mjs",
        &[
            ("ISSUER", &server.base),
            ("CLIENT_ID", "demo"),
            ("CLIENT_SECRET", DEMO_SECRET),
            ("REDIRECT_URI", "http://127.0.0.1:8081/callback"),
            ("POST_LOGOUT_REDIRECT_URI", "http://127.0.0.1:8081/"),
            ("EMAIL", "ann@example.com"),
            ("PASSWORD", PASSWORD),
        ],
    );
    for step in ["discovery", "code + PKCE", "userinfo", "refresh", "logout"] {
        assert!(out.contains(step), "{out}");
    }
    // What the library did is what the database shows: the session it ended is gone.
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(server.rt.idp.live_sessions(&user.id).unwrap().is_empty());
}

/// Where the browser test leaves its screenshots (an artifact of the run).
pub(crate) fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

/// The logo of the browser test's app (its pages carry it and its accent colour).
pub const DEMO_LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 32" width="120" height="32"><rect width="32" height="32" rx="6" fill="#7a2e8e"/><path d="M9 22 L16 9 L23 22 Z" fill="#fff"/><text x="40" y="22" font-family="sans-serif" font-size="14" fill="#7a2e8e">Demo App</text></svg>"##;

/// The app's port is found free and released, then node binds it; if another test took it in
/// between, node fails with EADDRINUSE and the test starts over on another port.
#[test]
fn a_real_browser_signs_in_to_an_app_with_mfa() {
    for attempt in 1..=3 {
        let rp_port = free_listener().local_addr().unwrap().port();
        match browser_signs_in(rp_port) {
            Ok(()) => return,
            Err(e) if e.contains("EADDRINUSE") && attempt < 3 => eprintln!("port taken: {e}"),
            Err(e) => panic!("{e}"),
        }
    }
}

fn browser_signs_in(rp_port: u16) -> Result<(), String> {
    const RP_SECRET: &str = "browser-test-app-secret-0123456789abcdef";
    let secret_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(RP_SECRET.as_bytes()));
    let server = TestServer::start_with(
        Db::Sqlite,
        Options {
            extra_toml: format!(
                r##"
[[clients]]
client_id = "browser-app"
name = "Demo App"
redirect_uris = ["http://127.0.0.1:{rp_port}/callback"]
post_logout_redirect_uris = ["http://127.0.0.1:{rp_port}/"]
backchannel_logout_uri = "http://127.0.0.1:{rp_port}/backchannel"
secret_sha256 = "{secret_hash}"
ui = {{ logo = "branding/demo-app.svg", accent_color = "#7a2e8e" }}
"##
            ),
            files: vec![("branding/demo-app.svg", DEMO_LOGO.as_bytes().to_vec())],
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", true);
    // The Spanish walk's user.
    seed(&server, "acme", "eva@example.com", true);
    // An invited colleague, for the registration page's screenshot.
    let invited = server.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "bo@example.com",
            "--invite",
        ],
        None,
    );
    assert_eq!(invited.code, 0, "{}", invited.stderr);
    let mails = crate::mail::wait_for_mails(&server.outbox(), 1);
    let register = crate::mail::link_in(&mails[0], &server.base, "/register");
    let dir = screenshot_dir();
    std::fs::remove_dir_all(&dir).ok();
    try_run_node(
        "browser.mjs",
        &[
            ("ISSUER", &server.base),
            ("RP_PORT", &rp_port.to_string()),
            ("CLIENT_ID", "browser-app"),
            ("CLIENT_SECRET", RP_SECRET),
            ("EMAIL", "ann@example.com"),
            ("EMAIL_ES", "eva@example.com"),
            ("PASSWORD", PASSWORD),
            ("SCREENSHOT_DIR", dir.to_str().unwrap()),
            ("REGISTER_LINK", &register),
            ("OUTBOX_DIR", server.outbox().to_str().unwrap()),
        ],
    )?;
    for email in ["ann@example.com", "eva@example.com"] {
        let user = server.rt.idp.user_by_email(email).unwrap();
        assert_eq!(
            server.rt.idp.enrollment_state(&user.id).unwrap(),
            idp_core::mfa::EnrollmentState::Linked
        );
        assert!(server.rt.idp.live_sessions(&user.id).unwrap().is_empty());
    }
    let shots = std::fs::read_dir(&dir).unwrap().count();
    assert!(
        shots >= 80,
        "every page at two widths in two languages: {shots}"
    );
    Ok(())
}

on_both_backends!(
    openid_client_runs_the_whole_flow,
    authlib_runs_the_flow_and_refreshes_with_the_original_scope
);
