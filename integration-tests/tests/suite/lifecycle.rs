//! The account lifecycle over HTTP, as a user meets it: the invitation mail (read from the file
//! outbox) → complete registration → signed in (and on to the authenticator on an MFA account);
//! forgot → reset (old password refused, new one accepted, the linked app still asked for);
//! change password; and the reset mail through a real SMTP server (aiosmtpd).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::harness::*;
use crate::mail::{header, link_in, wait_for_exactly, wait_for_mails};
use crate::on_both_backends;
use crate::rp::{seed, sign_in, sign_in_with_password, SecondFactor};

const NEW_PASSWORD: &str = "a brand new passphrase, mine";
/// A later sign-in of ann, whose app is linked: password, then the code page (never the QR code
/// or the activation code again: `SecondFactor::Code` checks), then back at the app.
fn later_sign_in(server: &TestServer, password: &str, activation: &str) {
    let signed = sign_in_with_password(
        server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        password,
        SecondFactor::Code,
        Some(activation),
    );
    assert!(signed
        .callback
        .location
        .unwrap()
        .starts_with("http://127.0.0.1:8081/callback?code="));
}

fn set_password(browser: &Browser, link: &str, action: &str, new: &str, confirm: &str) -> Page {
    let form = browser.get(link);
    assert_eq!(form.status, 200, "{}", form.body);
    let token = form.input("token").expect("token in the form");
    browser.post(
        action,
        &[
            ("csrf", &form.csrf()),
            ("token", &token),
            ("new_password", new),
            ("confirm_password", confirm),
        ],
    )
}

fn an_invitation_ends_signed_in_and_enrolled(db: Db) {
    let server = TestServer::start(db);
    let s = &server;
    assert_eq!(
        s.cli(&["account", "create", "acme", "--name", "Acme Fuel"], None)
            .code,
        0
    );
    assert_eq!(s.cli(&["mfa", "enable", "--account", "acme"], None).code, 0);
    let out = s.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "Ann@Example.com",
            "--name",
            "Ann Lee",
            "--work-email",
            "ann.lee@acme.example",
            "--invite",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let mails = wait_for_exactly(&server.outbox(), 1);
    let mail = &mails[0];
    assert_eq!(header(mail, "To"), Some("ann@example.com"));
    assert!(header(mail, "Subject").unwrap().contains("Petrosoft Cloud"));
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    let link = link_in(mail, &server.base, "/register");
    let before = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(!before.email_verified);
    assert!(!before.has_password());

    let browser = Browser::new();
    // The policy's reason is shown and the link stays usable.
    let weak = set_password(
        &browser,
        &link,
        &server.url("/register"),
        "password1234",
        "password1234",
    );
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("id=\"form-error\""), "{}", weak.body);
    assert!(weak.body.to_lowercase().contains("common"), "{}", weak.body);
    let mismatch = set_password(
        &browser,
        &link,
        &server.url("/register"),
        NEW_PASSWORD,
        "something else entirely",
    );
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.body.contains("do not match"));
    // A forged form (wrong CSRF) is refused and changes nothing.
    let token = browser.get(&link).input("token").unwrap();
    let forged = browser.post(
        &server.url("/register"),
        &[
            ("csrf", "forged"),
            ("token", &token),
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ],
    );
    assert_eq!(forged.status, 403);
    assert!(!server
        .rt
        .idp
        .user_by_email("ann@example.com")
        .unwrap()
        .has_password());

    let done = set_password(
        &browser,
        &link,
        &server.url("/register"),
        NEW_PASSWORD,
        NEW_PASSWORD,
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(user.email_verified, "registration confirms the email");
    // The account requires MFA: the next page is the enrollment (QR + activation code).
    let enroll = browser.follow(&server.base, done);
    assert!(enroll.body.contains("<svg"), "{}", enroll.body);
    let activation = enroll.by_id("activation-code").unwrap();
    wait_for_fresh_step(5);
    let linked = browser.post(
        &server.url("/login/totp"),
        &[
            ("csrf", &enroll.csrf()),
            ("code", &oathtool(&activation, 0)),
        ],
    );
    assert_eq!(linked.status, 303, "{}", linked.body);
    let home = browser.follow(&server.base, linked);
    assert_eq!(home.status, 200);
    assert!(home.body.contains("ann@example.com"), "{}", home.body);

    // The link is single-use.
    let again = browser.get(&link);
    assert_eq!(again.status, 400);
    assert!(again.body.contains("cannot be used"));

    // From an app: the new password, then a code (no QR: the app is linked).
    later_sign_in(&server, NEW_PASSWORD, &activation);
}

fn forgot_and_reset_keep_the_authenticator_app(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let first = Browser::new();
    let signed = sign_in(
        &server,
        &first,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    let activation = signed.activation_code.unwrap();
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert_eq!(server.rt.idp.live_sessions(&user.id).unwrap().len(), 1);

    // Forgot: the same answer for a known (mixed case) and an unknown address.
    let browser = Browser::new();
    let ask = |email: &str| {
        let form = browser.get(&server.url("/forgot"));
        assert_eq!(form.status, 200);
        browser.post(
            &server.url("/forgot"),
            &[("csrf", &form.csrf()), ("email", email)],
        )
    };
    let known = ask("ANN@example.com");
    let unknown = ask("nobody@example.com");
    assert_eq!(known.status, 200);
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body, unknown.body, "no enumeration");
    assert!(known.body.contains("If that address has an account"));
    let no_csrf = browser.post(
        &server.url("/forgot"),
        &[("csrf", "x"), ("email", "ann@example.com")],
    );
    assert_eq!(no_csrf.status, 403);

    // The enrollment above sent its notice ("an app was linked"); the reset link comes next.
    let mails = wait_for_exactly(&server.outbox(), 2);
    assert!(header(&mails[0], "Subject")
        .unwrap()
        .contains("authenticator app was linked"));
    assert_eq!(header(&mails[1], "To"), Some("ann@example.com"));
    let link = link_in(&mails[1], &server.base, "/reset");

    let weak = set_password(
        &browser,
        &link,
        &server.url("/reset"),
        "ann@example.com",
        "ann@example.com",
    );
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("id=\"form-error\""));
    let done = set_password(
        &browser,
        &link,
        &server.url("/reset"),
        NEW_PASSWORD,
        NEW_PASSWORD,
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your password was changed"));
    assert!(
        server.rt.idp.live_sessions(&user.id).unwrap().is_empty(),
        "a reset ends the user's sessions"
    );
    assert_eq!(browser.get(&link).status, 400, "the link is single-use");
    // The "your password was changed" notice follows (sent in the background).
    let mails = wait_for_mails(&server.outbox(), 3);
    assert_eq!(mails.len(), 3);
    assert!(header(&mails[2], "Subject")
        .unwrap()
        .to_lowercase()
        .contains("changed"));

    // The old password is refused, the new one accepted, and the linked app is still asked for.
    let b = Browser::new();
    let old = submit_password(
        &server,
        &b,
        &server.demo_authorize_url(),
        "ann@example.com",
        PASSWORD,
    );
    assert_eq!(old.status, 401);
    assert!(old.body.contains("The email or password is not correct."));
    // An emailed reset never lets anyone bind a new authenticator.
    later_sign_in(&server, NEW_PASSWORD, &activation);
}

fn change_password_asks_the_current_one(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let other = Browser::new();
    sign_in(
        &server,
        &other,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let browser = Browser::new();
    sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert_eq!(server.rt.idp.live_sessions(&user.id).unwrap().len(), 2);

    let anonymous = Browser::new().get(&server.url("/password/change"));
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/login"));

    let change = |current: &str, new: &str, confirm: &str| {
        let form = browser.get(&server.url("/password/change"));
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form.body.contains("name=\"current_password\""));
        browser.post(
            &server.url("/password/change"),
            &[
                ("csrf", &form.csrf()),
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ],
        )
    };
    let wrong = change("not my password", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("The current password is not correct."));
    let weak = change(PASSWORD, "short", "short");
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("id=\"form-error\""));
    let mismatch = change(PASSWORD, NEW_PASSWORD, "another one entirely");
    assert_eq!(mismatch.status, 400);
    assert!(server
        .rt
        .idp
        .authenticate_password("ann@example.com", PASSWORD, None)
        .is_ok());

    // Post/redirect/get: the page that says so can be reloaded without resending anything, and
    // says so once.
    let done = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account"))
    );
    let shown = browser.follow(&server.base, done);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("Your password was changed"));
    let reloaded = browser.get(&server.url("/account"));
    assert_eq!(reloaded.status, 200);
    assert!(!reloaded.body.contains("Your password was changed"));
    assert_eq!(
        server.rt.idp.live_sessions(&user.id).unwrap().len(),
        1,
        "both ended, and a successor carries this browser on"
    );
    assert_eq!(
        other.get(&server.url("/password/change")).status,
        303,
        "the other browser is signed out"
    );
    assert!(server
        .rt
        .idp
        .authenticate_password("ann@example.com", NEW_PASSWORD, None)
        .is_ok());
    assert!(server
        .rt
        .idp
        .authenticate_password("ann@example.com", PASSWORD, None)
        .is_err());
}

/// Python's aiosmtpd storing what it receives in a Maildir (`python/smtp_sink.py`, which binds
/// a free port itself and tells it, so no other test can take the port in between).
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpSink {
    fn start(dir: &Path) -> Self {
        use std::io::{BufRead, Read};
        let maildir = dir.join("maildir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&maildir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SMTP test");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let Ok(port) = first.trim().parse::<u16>() else {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            child.kill().ok();
            panic!("the SMTP sink did not start (is aiosmtpd installed? `pip install aiosmtpd`): {err}");
        };
        SmtpSink {
            child,
            port,
            maildir,
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[test]
fn the_reset_mail_goes_through_a_real_smtp_server() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path());
    let server = TestServer::start_with(
        Db::Sqlite,
        Options {
            mail_smtp_port: Some(smtp.port),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let form = browser.get(&server.url("/forgot"));
    let sent = browser.post(
        &server.url("/forgot"),
        &[("csrf", &form.csrf()), ("email", "ann@example.com")],
    );
    assert_eq!(sent.status, 200);
    let mails = wait_for_exactly(&smtp.maildir.join("new"), 1);
    assert_eq!(header(&mails[0], "To"), Some("ann@example.com"));
    let link = link_in(&mails[0], &server.base, "/reset");
    let done = set_password(
        &browser,
        &link,
        &server.url("/reset"),
        NEW_PASSWORD,
        NEW_PASSWORD,
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(server
        .rt
        .idp
        .authenticate_password("ann@example.com", NEW_PASSWORD, None)
        .is_ok());
}

on_both_backends!(
    an_invitation_ends_signed_in_and_enrolled,
    forgot_and_reset_keep_the_authenticator_app,
    change_password_asks_the_current_one,
);

/// With a public issuer, a file outbox is reported by /readyz (the service is ready, but its
/// invitations and reset links reach nobody); on a development machine it is not.
#[test]
fn readyz_reports_a_file_outbox_outside_development() {
    let public = TestServer::start_with(
        Db::Sqlite,
        Options {
            issuer: Some("https://id.example.com".into()),
            ..Options::default()
        },
    );
    let res = crate::rp::http().get(public.url("/readyz")).send().unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().unwrap();
    assert!(
        body.starts_with("ready\n") && body.contains("warning: mail goes to the file outbox"),
        "{body}"
    );
    let dev = TestServer::start(Db::Sqlite);
    let body = crate::rp::http()
        .get(dev.url("/readyz"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(body, "ready\n");
}
