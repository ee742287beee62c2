//! The password step of the hosted sign-in: its form's CSRF token, one answer for an unknown
//! email and a wrong password, a page that needs no round trip to itself, and one user for every
//! spelling of an address.

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn forms_require_their_csrf_token(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", "forged"),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 403);
    assert!(res
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("idp_session=")));
    let res = browser.post(
        &server.url("/login/password"),
        &[("email", "ann@example.com"), ("password", PASSWORD)],
    );
    assert_eq!(res.status, 403, "missing token");
    // Another browser (no flow cookie) cannot use this page's token.
    let other = Browser::new();
    let res = other.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 400);
    // The right token works.
    let res = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &page.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(res.status, 303);
}

fn sign_in_answers_alike_for_unknown_email_and_wrong_password(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let mut answers = Vec::new();
    for (email, password) in [
        ("ann@example.com", "not the right password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let browser = Browser::new();
        let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
        let res = browser.post(
            &server.url("/login/password"),
            &[
                ("csrf", &page.csrf()),
                ("email", email),
                ("password", password),
            ],
        );
        let error = res.by_id("form-error").unwrap();
        answers.push((res.status, error));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 401);
}

/// A browser that keeps no cookies gets the sign-in page, not a redirect to itself for ever
/// (each round of which started a sign-in), and its form then says the sign-in expired.
#[test]
fn the_sign_in_page_needs_no_round_trip_to_itself() {
    let server = TestServer::start(Db::Sqlite);
    let cookieless = http();
    let res = cookieless.get(server.url("/login")).send().unwrap();
    assert_eq!(res.status(), 200, "the page at once");
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("idp_flow=")));
    let body = res.text().unwrap();
    assert!(body.contains("autocomplete=\"current-password\""), "{body}");
    let csrf = Page {
        status: 200,
        location: None,
        headers: Default::default(),
        body,
    }
    .csrf();
    let res = cookieless
        .post(server.url("/login/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "a@example.com"),
            ("password", "x"),
        ])
        .send()
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(res.text().unwrap().contains("expired"));
}

/// Two spellings of one address (composed or decomposed accents, any case) are one user.
fn two_spellings_of_an_address_sign_in_as_one_user(db: Db) {
    let server = TestServer::start(db);
    assert_eq!(
        server
            .cli(&["account", "create", "acme", "--name", "Acme"], None)
            .code,
        0
    );
    let out = server.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "Jos\u{e9}@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dup = server.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "JOSE\u{301}@EXAMPLE.COM",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_ne!(dup.code, 0, "the second spelling is the same user");
    let page = submit_password(
        &server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "jose\u{301}@Example.com",
        PASSWORD,
    );
    assert_eq!(page.status, 303, "{}", page.body);
}

on_both_backends!(
    forms_require_their_csrf_token,
    sign_in_answers_alike_for_unknown_email_and_wrong_password,
    two_spellings_of_an_address_sign_in_as_one_user,
);
