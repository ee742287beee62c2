//! Forgot and reset: the answer comes at once and alike for every address, the reset mail
//! (through the file outbox and through a real SMTP server, aiosmtpd), the old password refused
//! and the new one accepted, the linked authenticator app still asked for.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{later_sign_in, set_password, NEW_PASSWORD};
use crate::harness::*;
use crate::mail::{header, link_in, wait_for_exactly, wait_for_mails};
use crate::on_both_backends;
use crate::rp::{seed, sign_in, SecondFactor};

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

/// An SMTP server that waits before it greets (a slow relay), then takes any message.
struct SlowSmtp {
    port: u16,
    received: mpsc::Receiver<String>,
}

impl SlowSmtp {
    fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    stream.write_all(b"220 slow.example ESMTP\r\n").ok();
                    let mut data = String::new();
                    let mut in_data = false;
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        if in_data {
                            if line == ".\r\n" {
                                in_data = false;
                                tx.send(std::mem::take(&mut data)).ok();
                                stream.write_all(b"250 queued\r\n").ok();
                            } else {
                                data.push_str(&line);
                            }
                        } else {
                            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                            let answer: &[u8] = match verb.as_str() {
                                "DATA" => {
                                    in_data = true;
                                    b"354 go on\r\n"
                                }
                                "QUIT" => b"221 bye\r\n",
                                _ => b"250 ok\r\n",
                            };
                            stream.write_all(answer).ok();
                            if verb == "QUIT" {
                                break;
                            }
                        }
                        line.clear();
                    }
                });
            }
        });
        SlowSmtp { port, received }
    }
}

/// Forgot-password answers at once, the same for a known and an unknown address: the lookup, the
/// link and the mail happen after the answer. (An answer that waited for the mail would let a slow
/// relay tell who has an account.)
fn forgot_password_answers_at_once_for_every_address(db: Db) {
    let smtp = SlowSmtp::start(Duration::from_secs(3));
    let server = TestServer::start_with(
        db,
        Options {
            mail_smtp_port: Some(smtp.port),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let ask = |email: &str| {
        let form = browser.get(&server.url("/forgot"));
        let started = Instant::now();
        let page = browser.post(
            &server.url("/forgot"),
            &[("csrf", &form.csrf()), ("email", email)],
        );
        (started.elapsed(), page)
    };
    let (known_time, known) = ask("ann@example.com");
    let (unknown_time, unknown) = ask("nobody@example.com");
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert!(
        known_time < Duration::from_millis(1500),
        "answered before the mail was sent: {known_time:?} (unknown: {unknown_time:?})"
    );
    let mail = smtp
        .received
        .recv_timeout(Duration::from_secs(15))
        .expect("the reset mail is still sent");
    assert!(mail.contains("ann@example.com"), "{mail}");
}

on_both_backends!(
    forgot_and_reset_keep_the_authenticator_app,
    forgot_password_answers_at_once_for_every_address,
);
