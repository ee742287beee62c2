//! Lockouts and throttles of the sign-in a stranger cannot turn against a user or a whole store:
//! the hard lock is per email *and* address, a browser that signed in as the user before is not
//! refused for failures made elsewhere (or at its own address, by someone else), the
//! forgot-password budget is counted per email and address, parallel guesses of a password or a
//! code get at most the limit's checks, a lockout says when to come back, and the address all
//! this is keyed on cannot be forged.

use std::sync::Barrier;
use std::time::Duration;

use openidconnect::reqwest;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

/// Every test here speaks from several client addresses, through the local "proxy".
fn server(db: Db) -> TestServer {
    TestServer::start_with(
        db,
        Options {
            extra_toml: "\n[server]\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\"]\n".into(),
            ..Options::default()
        },
    )
}

/// A browser (its own cookies) whose every request comes from `addr`.
fn browser_at(addr: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", addr.parse().unwrap());
    let client = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .user_agent(BROWSER_UA)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Browser { client }
}

/// The demo app's authorize URL asking for a sign-in even where the browser has a session.
fn sign_in_url(server: &TestServer) -> String {
    format!("{}&prompt=login", server.demo_authorize_url())
}

/// One password attempt at the demo app from `browser`: the answer's status.
fn attempt(server: &TestServer, browser: &Browser, email: &str, password: &str) -> u16 {
    submit_password(server, browser, &sign_in_url(server), email, password).status
}

/// Wrong passwords for `email` from `browser` until `n` were answered (401 or 429).
fn fail(server: &TestServer, browser: &Browser, email: &str, n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| attempt(server, browser, email, "not the password!"))
        .collect()
}

/// The victim signs in from the browser they used before while an attacker keeps failing for their
/// email from another address (past the lock there, past the growing delay for the email): the
/// attacker is refused even the right password at theirs, a browser nobody vouched for waits out
/// the delay, and the victim's known browser is never refused. (A hard lock per email alone would
/// refuse the victim too: the email locked for everyone.)
fn a_known_browser_signs_in_while_an_attacker_keeps_failing_elsewhere(db: Db) {
    let server = server(db);
    seed(&server, "acme", "ann@example.com", false);
    let victim = browser_at("198.51.100.20");
    assert_eq!(attempt(&server, &victim, "ann@example.com", PASSWORD), 303);
    let attacker = browser_at("203.0.113.66");
    let answers = fail(&server, &attacker, "ann@example.com", 15);
    assert_eq!(answers[..5], [401; 5], "{answers:?}");
    assert!(answers[5..].iter().all(|s| *s == 429), "{answers:?}");
    assert_eq!(
        attempt(&server, &attacker, "ann@example.com", PASSWORD),
        429,
        "the attacker's address is locked for the email, right password or not"
    );
    // More failures for the email from more addresses: past the email's threshold.
    for i in 0..10 {
        let elsewhere = browser_at(&format!("192.0.2.{}", 10 + i));
        fail(&server, &elsewhere, "ann@example.com", 1);
    }
    assert_eq!(
        attempt(&server, &victim, "ann@example.com", PASSWORD),
        303,
        "the victim's known browser is not refused"
    );
    assert_eq!(
        attempt(&server, &victim, "ann@example.com", PASSWORD),
        303,
        "again"
    );
    let new_browser = browser_at("198.51.100.20");
    let waits = submit_password(
        &server,
        &new_browser,
        &sign_in_url(&server),
        "ann@example.com",
        PASSWORD,
    );
    assert_eq!(
        waits.status, 429,
        "a browser nobody vouched for waits out the email's delay"
    );
    assert!(waits.headers.get("retry-after").is_some());
}

/// A store behind one address: an attacker there fails for fifty emails and for Bob's. Bob's known
/// browser at the store still signs in; a browser there that signed in as nobody before (Carol's
/// new laptop) waits out the address's lock, and Carol from anywhere else is not affected. (A lock
/// per address alone would refuse Bob like everyone at the store.)
fn an_attacker_behind_a_shared_address_cannot_lock_out_its_known_browsers(db: Db) {
    let server = server(db);
    seed(&server, "acme", "bob@example.com", false);
    seed(&server, "acme", "carol@example.com", false);
    const STORE: &str = "203.0.113.80";
    let bob = browser_at(STORE);
    assert_eq!(attempt(&server, &bob, "bob@example.com", PASSWORD), 303);
    let attacker = browser_at(STORE);
    for i in 0..50 {
        fail(&server, &attacker, &format!("guess{i}@example.com"), 1);
    }
    fail(&server, &attacker, "bob@example.com", 6);
    assert_eq!(
        attempt(&server, &attacker, "carol@example.com", "not the password!"),
        429,
        "the store's address is locked for browsers nobody vouched for"
    );
    assert_eq!(
        attempt(&server, &bob, "bob@example.com", PASSWORD),
        303,
        "Bob's known browser at the store signs in"
    );
    assert_eq!(
        attempt(&server, &browser_at(STORE), "carol@example.com", PASSWORD),
        429,
        "Carol's new browser at the store waits out the address's lock"
    );
    assert_eq!(
        attempt(
            &server,
            &browser_at("198.51.100.44"),
            "carol@example.com",
            PASSWORD
        ),
        303,
        "Carol elsewhere is not affected"
    );
}

/// A forgot-password request from `browser` for `email`.
fn forgot(server: &TestServer, browser: &Browser, email: &str) {
    let form = browser.get(&server.url("/forgot"));
    assert_eq!(form.status, 200, "{}", form.body);
    let sent = browser.post(
        &server.url("/forgot"),
        &[("csrf", &form.csrf()), ("email", email)],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
}

/// A stranger asking for Ann's reset link again and again from their address spends only their own
/// budget there (three links an hour): Ann's own request, from her address, still mails her a link.
/// (A budget per email alone would leave Ann nothing.)
fn a_stranger_cannot_spend_a_users_forgot_password_budget(db: Db) {
    let server = server(db);
    seed(&server, "acme", "ann@example.com", false);
    let stranger = browser_at("203.0.113.66");
    for _ in 0..6 {
        forgot(&server, &stranger, "ann@example.com");
    }
    crate::mail::wait_for_exactly(&server.outbox(), 3);
    forgot(&server, &browser_at("198.51.100.20"), "ann@example.com");
    let mails = crate::mail::wait_for_exactly(&server.outbox(), 4);
    assert!(mails[3].contains("To: ann@example.com"), "{}", mails[3]);
}

/// Parallel wrong passwords for one email from twenty addresses at once get the email's
/// threshold of checks (ten), the rest refused unchecked; and forty at once from a browser known
/// for the user (a stolen known-browser cookie) get that browser's own five.
fn parallel_guesses_get_at_most_the_limit_of_each_key(db: Db) {
    let server = server(db);
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "acme", "bob@example.com", false);
    let guess_all = |browsers: &[(Browser, String)], email: &str| -> Vec<u16> {
        let barrier = Barrier::new(browsers.len());
        std::thread::scope(|scope| {
            let handles: Vec<_> = browsers
                .iter()
                .map(|(b, csrf)| {
                    let (barrier, server) = (&barrier, &server);
                    scope.spawn(move || {
                        barrier.wait();
                        b.post(
                            &server.url("/login/password"),
                            &[
                                ("csrf", csrf),
                                ("email", email),
                                ("password", "a wrong guess!!"),
                            ],
                        )
                        .status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let count = |results: &[u16], status: u16| results.iter().filter(|s| **s == status).count();
    let login_form = |b: &Browser| {
        let page = b.follow(&server.base, b.get(&sign_in_url(&server)));
        assert_eq!(page.status, 200, "{}", page.body);
        page.csrf()
    };
    let spread: Vec<(Browser, String)> = (0..20)
        .map(|i| {
            let b = browser_at(&format!("192.0.2.{}", 100 + i));
            let csrf = login_form(&b);
            (b, csrf)
        })
        .collect();
    let results = guess_all(&spread, "ann@example.com");
    assert_eq!(
        (count(&results, 401), count(&results, 429)),
        (10, 10),
        "{results:?}"
    );
    // Bob's known browser, copied by a thief: forty guesses in one flow.
    let known = browser_at("198.51.100.30");
    assert_eq!(attempt(&server, &known, "bob@example.com", PASSWORD), 303);
    let csrf = login_form(&known);
    let barrier = Barrier::new(40);
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|_| {
                let (barrier, server, known, csrf) = (&barrier, &server, &known, &csrf);
                scope.spawn(move || {
                    barrier.wait();
                    known
                        .post(
                            &server.url("/login/password"),
                            &[
                                ("csrf", csrf),
                                ("email", "bob@example.com"),
                                ("password", "a wrong guess!!"),
                            ],
                        )
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        (count(&results, 401), count(&results, 429)),
        (5, 35),
        "{results:?}"
    );
}

/// A lockout's page says when to come back (`Retry-After`), as the other 429s do.
#[test]
fn a_locked_out_sign_in_says_when_to_come_back() {
    let server = TestServer::start(Db::Sqlite);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    let statuses: Vec<_> = (0..6)
        .map(|_| {
            post_password(
                &server,
                &browser,
                &page,
                "ann@example.com",
                "not the password",
            )
        })
        .collect();
    let locked = statuses.last().unwrap();
    assert_eq!(locked.status, 429, "{}", locked.body);
    let after: i64 = locked
        .headers
        .get("retry-after")
        .expect("a Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&after), "{after}");
}

/// The login page of a fresh sign-in at the demo app in `browser`: its CSRF token.
fn login_form(server: &TestServer, browser: &Browser) -> String {
    let page = browser.follow(&server.base, browser.get(&server.demo_authorize_url()));
    assert_eq!(page.status, 200, "{}", page.body);
    page.csrf()
}

/// 40 wrong passwords for one email at the same moment: exactly five are checked (401), the rest
/// are refused without a check (429): each attempt is reserved before its check.
fn parallel_wrong_passwords_get_five_checks(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    const N: usize = 40;
    let browsers: Vec<(Browser, String)> = (0..N)
        .map(|_| {
            let b = Browser::new();
            let csrf = login_form(&server, &b);
            (b, csrf)
        })
        .collect();
    let barrier = Barrier::new(N);
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = browsers
            .iter()
            .map(|(b, csrf)| {
                let (barrier, server) = (&barrier, &server);
                scope.spawn(move || {
                    barrier.wait();
                    b.post(
                        &server.url("/login/password"),
                        &[
                            ("csrf", csrf),
                            ("email", "ann@example.com"),
                            ("password", "a wrong guess!!"),
                        ],
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses(&results), (5, N - 5), "{results:?}");
}

/// 40 wrong codes at once (40 sign-ins past the password): five checks, the fifth answering
/// locked, the rest refused unchecked.
fn parallel_wrong_codes_get_five_checks(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    const N: usize = 40;
    let code_pages: Vec<(Browser, String)> = (0..N)
        .map(|_| {
            let b = Browser::new();
            let page = submit_password(
                &server,
                &b,
                &server.demo_authorize_url(),
                "ann@example.com",
                PASSWORD,
            );
            let page = b.follow(&server.base, page);
            assert!(page.body.contains("one-time-code"), "{}", page.body);
            let csrf = page.csrf();
            (b, csrf)
        })
        .collect();
    let barrier = Barrier::new(N);
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = code_pages
            .iter()
            .map(|(b, csrf)| {
                let (barrier, server) = (&barrier, &server);
                scope.spawn(move || {
                    barrier.wait();
                    b.post(
                        &server.url("/login/totp"),
                        &[("csrf", csrf), ("code", "000000")],
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses(&results), (4, N - 4), "{results:?}");
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    let checked = server
        .rt
        .idp
        .audit_for_user(&user.id, 200)
        .unwrap()
        .iter()
        .filter(|e| e.action == "mfa.code_failed")
        .count();
    assert_eq!(checked, 5);
}

/// A wrong password from `browser` with these forwarding headers; the address the audit log
/// recorded for it.
fn audited_address(server: &TestServer, headers: &[(&str, &str)]) -> Option<String> {
    let browser = Browser::new();
    let csrf = login_form(server, &browser);
    let mut req = browser.client.post(server.url("/login/password")).form(&[
        ("csrf", csrf.as_str()),
        ("email", "ann@example.com"),
        ("password", "a wrong guess!!"),
    ]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    assert_eq!(req.send().unwrap().status(), 401);
    server
        .rt
        .idp
        .audit_recent(1)
        .unwrap()
        .pop()
        .and_then(|e| e.ip)
}

/// The client address cannot be forged: forwarding headers from a peer that is not a trusted proxy
/// are ignored (anyone can write them); behind trusted proxies the right-most address they did not
/// add themselves counts; `Forwarded` is never read.
fn the_client_address_cannot_be_forged(db: Db) {
    let direct = TestServer::start(db);
    seed(&direct, "acme", "ann@example.com", false);
    assert_eq!(
        audited_address(&direct, &[("X-Forwarded-For", "1.2.3.4")]).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        audited_address(&direct, &[("Forwarded", "for=1.2.3.4")]).as_deref(),
        Some("127.0.0.1")
    );
    let proxied = TestServer::start_with(
        db,
        Options {
            extra_toml: TRUST_LOCALHOST.into(),
            ..Options::default()
        },
    );
    seed(&proxied, "acme", "ann@example.com", false);
    assert_eq!(
        audited_address(
            &proxied,
            &[
                ("X-Forwarded-For", "6.6.6.6, 198.51.100.9"),
                ("Forwarded", "for=5.5.5.5")
            ]
        )
        .as_deref(),
        Some("198.51.100.9"),
        "the hop our proxy appended, not what the client wrote"
    );
    assert_eq!(
        audited_address(&proxied, &[]).as_deref(),
        Some("127.0.0.1"),
        "no header: the proxy itself"
    );
}

on_both_backends!(
    a_known_browser_signs_in_while_an_attacker_keeps_failing_elsewhere,
    an_attacker_behind_a_shared_address_cannot_lock_out_its_known_browsers,
    a_stranger_cannot_spend_a_users_forgot_password_budget,
    parallel_guesses_get_at_most_the_limit_of_each_key,
    parallel_wrong_passwords_get_five_checks,
    parallel_wrong_codes_get_five_checks,
    the_client_address_cannot_be_forged,
);
