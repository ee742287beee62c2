//! What someone who holds only a password (or only a stolen cookie, or only an address) can no
//! longer do: keep a copied enrollment secret, out-guess the throttles with parallel requests,
//! choose their own client address, or lock an app out of its code exchanges.

use std::sync::Barrier;

use serde_json::Value;

use crate::apps::redeem;
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{exchange, http, refresh, seed, sign_in, SecondFactor};

fn statuses(results: &[u16]) -> (usize, usize) {
    (
        results.iter().filter(|s| **s == 401).count(),
        results.iter().filter(|s| **s == 429).count(),
    )
}

/// The login page of a fresh sign-in at the demo app in `browser`: its CSRF token.
fn login_form(server: &TestServer, browser: &Browser) -> String {
    let page = browser.follow(&server.base, browser.get(&server.demo_authorize_url()));
    assert_eq!(page.status, 200, "{}", page.body);
    page.csrf()
}

/// Someone with a phished password opens enrollment and copies the secret. The real user's
/// sign-in shows a secret of its own; codes of the copied one are refused there and, once the
/// real app is linked, everywhere. The user is mailed when an app is linked (from where, with
/// what) and when it is disconnected.
fn an_enrollment_secret_belongs_to_the_sign_in_that_showed_it(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let enrollment = |browser: &Browser| {
        let page = submit_password(
            &server,
            browser,
            &server.demo_authorize_url(),
            "ann@example.com",
            PASSWORD,
        );
        let page = browser.follow(&server.base, page);
        assert!(page.body.contains("<svg"), "{}", page.body);
        (page.by_id("activation-code").unwrap(), page.csrf())
    };
    let attacker = Browser::new();
    let (copied, attacker_csrf) = enrollment(&attacker);
    let user = Browser::new();
    let (shown, user_csrf) = enrollment(&user);
    assert_ne!(copied, shown, "each sign-in gets its own secret");
    wait_for_fresh_step(8);
    let refused = user.post(
        &server.url("/login/totp"),
        &[("csrf", &user_csrf), ("code", &oathtool(&copied, 0))],
    );
    assert_eq!(refused.status, 401, "{}", refused.body);
    let linked = user.post(
        &server.url("/login/totp"),
        &[("csrf", &user_csrf), ("code", &oathtool(&shown, 0))],
    );
    assert_eq!(linked.status, 303, "{}", linked.body);
    // The attacker's flow finds an app linked, and is asked for its code, which they lack.
    let moved = attacker.post(
        &server.url("/login/totp"),
        &[("csrf", &attacker_csrf), ("code", &oathtool(&copied, 30))],
    );
    assert_eq!(moved.status, 303);
    let code_page = attacker.follow(&server.base, moved);
    assert!(!code_page.body.contains("<svg"));
    let refused = attacker.post(
        &server.url("/login/totp"),
        &[
            ("csrf", &code_page.csrf()),
            ("code", &oathtool(&copied, 30)),
        ],
    );
    assert_eq!(refused.status, 401, "{}", refused.body);
    // The notices, to the authentication email.
    let readable = |mail: &String| mail.replace("=\r\n", "").replace("\r\n ", " ");
    // One app linked, one notice.
    let mails: Vec<String> = crate::mail::wait_for_exactly(&server.outbox(), 1)
        .iter()
        .map(readable)
        .collect();
    let linked_mail = &mails[0];
    assert!(
        linked_mail.contains("authenticator app was linked"),
        "{linked_mail}"
    );
    assert!(linked_mail.contains("To: ann@example.com"), "{linked_mail}");
    assert!(
        linked_mail.contains("127.0.0.1"),
        "from where: {linked_mail}"
    );
    // With what, in the mail's own words: the test browser's User-Agent names no browser it
    // knows, and the header's text (whoever signs in writes it) never reaches the mail.
    assert!(
        linked_mail.contains("using an unknown browser") && !linked_mail.contains(BROWSER_UA),
        "with what: {linked_mail}"
    );
    assert!(linked_mail.contains("If this was not you"), "{linked_mail}");
    let out = server.cli(
        &[
            "mfa",
            "disconnect",
            "--email",
            "ann@example.com",
            "--reason",
            "T-1 lost phone",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mails: Vec<String> = crate::mail::wait_for_exactly(&server.outbox(), 2)
        .iter()
        .map(readable)
        .collect();
    assert!(mails[1].contains("was disconnected"), "{mails:?}");
    let audit = server
        .rt
        .idp
        .audit_for_user(
            &server.rt.idp.user_by_email("ann@example.com").unwrap().id,
            30,
        )
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "mfa.enrolled" && e.ip.is_some()));
    assert!(audit.iter().any(|e| e.action == "mfa.disconnected"));
}

/// 40 wrong passwords for one email at the same moment: exactly five are checked (401), the
/// rest are refused without a check (429). Before, all 40 were checked.
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

/// The current password at /password/change is throttled like sign-in (a stolen cookie is no
/// faster way to guess it): 20 wrong guesses at once get five checks.
fn parallel_guesses_of_the_current_password_get_five_checks(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let form = browser.get(&server.url("/password/change"));
    let csrf = form.csrf();
    const N: usize = 20;
    let barrier = Barrier::new(N);
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let (barrier, server, browser, csrf) = (&barrier, &server, &browser, &csrf);
                scope.spawn(move || {
                    barrier.wait();
                    browser
                        .post(
                            &server.url("/password/change"),
                            &[
                                ("csrf", csrf),
                                ("current_password", "a wrong guess!!"),
                                ("new_password", "a brand new passphrase"),
                                ("confirm_password", "a brand new passphrase"),
                            ],
                        )
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wrong = results.iter().filter(|s| **s == 400).count();
    let locked = results.iter().filter(|s| **s == 429).count();
    assert_eq!((wrong, locked), (5, N - 5), "{results:?}");
}

/// 40 wrong client secrets at once: 20 answered 401, the rest 429 unchecked.
fn parallel_wrong_client_secrets_get_the_limit(db: Db) {
    let server = TestServer::start(db);
    const N: usize = 40;
    let barrier = Barrier::new(N);
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (barrier, server) = (&barrier, &server);
                scope.spawn(move || {
                    let client = http();
                    barrier.wait();
                    client
                        .post(server.url("/token"))
                        .basic_auth("demo", Some(format!("guess-{i}")))
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses(&results), (20, N - 20), "{results:?}");
}

const TRUST_LOCALHOST: &str = "\n[server]\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\"]\n";

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

/// The client address cannot be forged: forwarding headers from a peer that is not a trusted
/// proxy are ignored (before, `realip_remote_addr()` believed anyone's); behind trusted proxies
/// the right-most address they did not add themselves counts; `Forwarded` is never read.
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

/// A stranger sending wrong client secrets locks the client at their own address only: the
/// app's code exchanges from its address go on.
fn a_stranger_cannot_stop_an_apps_code_exchanges(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: TRUST_LOCALHOST.into(),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let from = |addr: &str, secret: &str| {
        http()
            .post(server.url("/token"))
            .header("X-Forwarded-For", addr)
            .basic_auth("demo", Some(secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let stranger: Vec<u16> = (0..25)
        .map(|i| from("203.0.113.66", &format!("g{i}")))
        .collect();
    assert_eq!(statuses(&stranger), (20, 5));
    assert_eq!(from("203.0.113.66", DEMO_SECRET), 429);
    // The app itself, from its own address: a full code exchange.
    let code = sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    )
    .callback
    .location_param("code")
    .unwrap();
    let res = http()
        .post(server.url("/token"))
        .header("X-Forwarded-For", "198.51.100.10")
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().unwrap();
    assert!(tokens["access_token"].is_string());
    // (The other helpers send no forwarding header: the proxy's own address, not locked.)
    let again = sign_in(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    )
    .callback
    .location_param("code")
    .unwrap();
    redeem(&server, "demo", 8081, &again);
}

/// A user disabled by an operator after the password step (the sign-in page stays open for
/// minutes) cannot finish with the code: no app is linked, no session cookie is set, no code
/// goes to the app.
fn a_user_disabled_after_the_password_gets_no_session_from_the_code(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    let page = submit_password(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        PASSWORD,
    );
    let page = browser.follow(&server.base, page);
    let activation = page.by_id("activation-code").expect("the enrollment page");
    let out = server.cli(&["user", "disable", "--email", "ann@example.com"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for_fresh_step(5);
    let refused = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &page.csrf()), ("code", &oathtool(&activation, 0))],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    assert!(refused.location.is_none());
    assert!(refused
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("idp_session=")));
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert!(server.rt.idp.live_sessions(&user.id).unwrap().is_empty());
    assert_ne!(
        server.rt.idp.enrollment_state(&user.id).unwrap(),
        idp_core::mfa::EnrollmentState::Linked,
        "no app linked for a disabled user"
    );
}

/// A user who suspects a stolen cookie changes their password in the same browser: the copy the
/// thief holds is worth nothing afterwards, nor are the app sessions opened through it (OWASP
/// session management: a new session on a password change), while the user's browser goes on
/// signed in under a new session.
fn a_password_change_renews_the_cookie_it_was_made_with(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let signed = sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let stolen = session_cookie_of(&signed.callback).expect("the sign-in sets the cookie");
    let thief = Browser::new();
    let header = [("cookie", stolen.as_str())];
    assert_eq!(
        thief.get_with(&server.url("/account"), &header).status,
        200,
        "the copy works"
    );
    // The thief signs in to an app through the copy.
    let code = thief
        .get_with(
            &format!("{}&prompt=none", server.demo_authorize_url()),
            &header,
        )
        .location_param("code")
        .expect("a code for the copy");
    let (status, thiefs) = exchange(&server, &code);
    assert_eq!(status, 200, "{thiefs}");
    let form = browser.get(&server.url("/password/change"));
    let done = browser.post(
        &server.url("/password/change"),
        &[
            ("csrf", &form.csrf()),
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
            ("confirm_password", "a brand new passphrase"),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let renewed = session_cookie_of(&done).expect("a new session cookie");
    assert_ne!(renewed, stolen);
    let home = thief.get_with(&server.url("/account"), &header);
    assert_ne!(
        home.status, 200,
        "the stolen copy is signed out: {}",
        home.body
    );
    let silent = thief.get_with(
        &format!("{}&prompt=none", server.demo_authorize_url()),
        &header,
    );
    assert_eq!(
        silent.location_param("error").as_deref(),
        Some("login_required"),
        "no code for the stolen copy"
    );
    assert_eq!(
        browser.get(&server.url("/account")).status,
        200,
        "the user stays signed in"
    );
    let (status, _) = refresh(&server, thiefs["refresh_token"].as_str().unwrap());
    assert_eq!(
        status, 400,
        "the app session it opened ends with the old session"
    );
    let again = browser.get(&format!("{}&prompt=none", server.demo_authorize_url()));
    assert!(
        again.location_param("code").is_some(),
        "and signs in to apps silently"
    );
}

/// The `name=value` of the session cookie a response sets.
fn session_cookie_of(page: &Page) -> Option<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("idp_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

on_both_backends!(
    a_user_disabled_after_the_password_gets_no_session_from_the_code,
    an_enrollment_secret_belongs_to_the_sign_in_that_showed_it,
    parallel_wrong_passwords_get_five_checks,
    parallel_wrong_codes_get_five_checks,
    parallel_guesses_of_the_current_password_get_five_checks,
    parallel_wrong_client_secrets_get_the_limit,
    the_client_address_cannot_be_forged,
    a_stranger_cannot_stop_an_apps_code_exchanges,
    a_password_change_renews_the_cookie_it_was_made_with,
);
