//! Lockouts a stranger cannot turn against a user or a whole store: the hard lock is per email
//! *and* address, a browser that signed in as the user before is not refused for failures made
//! elsewhere (or at its own address, by someone else), and the forgot-password budget is counted
//! per email and address.

use std::sync::Barrier;
use std::time::Duration;

use openidconnect::reqwest;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::seed;

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

/// The victim signs in from the browser they used before while an attacker keeps failing for
/// their email from another address (past the lock there, past the growing delay for the email):
/// the attacker is refused even the right password at theirs, a browser nobody vouched for waits
/// out the delay, and the victim's known browser is never refused. (Before: 429 for the victim,
/// the email locked for everyone.)
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

/// A store behind one address: an attacker there fails for fifty emails and for Bob's. Bob's
/// known browser at the store still signs in; a browser there that signed in as nobody before
/// (Carol's new laptop) waits out the address's lock, and Carol from anywhere else is not
/// affected. (Before: Bob got 429 like everyone at the store.)
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

/// A stranger asking for Ann's reset link again and again from their address spends only their
/// own budget there (three links an hour): Ann's own request, from her address, still mails her
/// a link. (Before: the budget was per email, and Ann got nothing.)
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

on_both_backends!(
    a_known_browser_signs_in_while_an_attacker_keeps_failing_elsewhere,
    an_attacker_behind_a_shared_address_cannot_lock_out_its_known_browsers,
    a_stranger_cannot_spend_a_users_forgot_password_budget,
    parallel_guesses_get_at_most_the_limit_of_each_key,
);
