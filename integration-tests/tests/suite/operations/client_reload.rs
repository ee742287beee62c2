//! A reload (SIGHUP) takes effect for sign-ins already under way: a client removed, or a
//! redirect URI dropped, no longer receives a code from a sign-in that began before the reload,
//! nor redeems one issued before it.

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{exchange, seed};

/// The server's configuration file rewritten by `edit` and its clients swapped in, as SIGHUP
/// does (`reload_config`: the clients of the fresh file replace the running ones).
fn reload(server: &TestServer, edit: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(&server.config_path).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed the file");
    std::fs::write(&server.config_path, edited).unwrap();
    let fresh = idp_server::config::Config::load(server.config_path.to_str().unwrap()).unwrap();
    server.rt.config.clients.replace_with(&fresh.clients);
}

fn drop_demo_redirect(text: &str) -> String {
    text.replace(
        "redirect_uris = [\"http://127.0.0.1:8081/callback\"]",
        "redirect_uris = [\"http://127.0.0.1:8081/new-callback\"]",
    )
}

fn remove_demo(text: &str) -> String {
    let start = text.find("[[clients]]\nclient_id = \"demo\"").unwrap();
    let end = start + text[start..].find("\n[[clients]]").unwrap();
    format!("{}{}", &text[..start], &text[end + 1..])
}

/// Begins a sign-in at the demo app, reloads with `edit`, then completes it: the browser is
/// signed in, but the app's old redirect URI gets nothing.
fn completes_after(server: &TestServer, edit: fn(&str) -> String) {
    let browser = Browser::new();
    let page = browser.get(&server.demo_authorize_url());
    assert_eq!(page.status, 303);
    let form = browser.follow(&server.base, page);
    reload(server, edit);
    let done = browser.post(
        &server.url("/login/password"),
        &[
            ("csrf", &form.csrf()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let location = done.location.clone().unwrap_or_default();
    assert!(
        !location.contains("127.0.0.1:8081") && !location.contains("code="),
        "no code for what the configuration no longer has: {location}"
    );
    assert_eq!(
        browser.get(&server.url("/account")).status,
        200,
        "signed in"
    );
}

fn a_sign_in_under_way_gets_no_code_for_a_client_the_reload_removed(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    completes_after(&server, remove_demo);
}

fn a_sign_in_under_way_gets_no_code_for_a_redirect_uri_the_reload_dropped(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    completes_after(&server, drop_demo_redirect);
}

/// A code issued before the reload is refused at /token once its redirect URI is gone.
fn a_code_issued_before_the_reload_is_not_redeemed_for_a_dropped_redirect_uri(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let signed = crate::rp::sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        crate::rp::SecondFactor::None,
        None,
    );
    let code = signed.callback.location_param("code").unwrap();
    reload(&server, drop_demo_redirect);
    let (status, body) = exchange(&server, &code);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

on_both_backends!(
    a_sign_in_under_way_gets_no_code_for_a_client_the_reload_removed,
    a_sign_in_under_way_gets_no_code_for_a_redirect_uri_the_reload_dropped,
    a_code_issued_before_the_reload_is_not_redeemed_for_a_dropped_redirect_uri,
);
