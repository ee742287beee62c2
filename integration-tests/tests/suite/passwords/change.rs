//! A signed-in user's password change: the current password is asked (and throttled like a
//! sign-in), and the change renews the session cookie it was made with.

use std::sync::Barrier;

use super::NEW_PASSWORD;
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{exchange, refresh, seed, sign_in, SecondFactor};

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
    change_password_asks_the_current_one,
    parallel_guesses_of_the_current_password_get_five_checks,
    a_password_change_renews_the_cookie_it_was_made_with,
);
