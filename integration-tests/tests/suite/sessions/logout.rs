//! Logout: `/end_session` trusts no `id_token_hint` issued to another client, and the logout
//! token is signed in the algorithm the client registered for its ID tokens.

use std::time::Duration;

use crate::apps::{client_toml, redeem, sid_of, verified_logout};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

/// RP-Initiated Logout 1.0 section 2: with both `client_id` and `id_token_hint`, the OP must
/// verify the hint was issued to that client. A hint that was not is not trusted: the browser is
/// asked to confirm, and its session lives until it does.
fn end_session_trusts_no_hint_issued_to_another_client(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let tokens = sign_in_tokens(&server, &browser, "ann@example.com");
    let page = browser.get(&format!(
        "{}?id_token_hint={}&client_id=spa&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8082%2F",
        server.url("/end_session"),
        tokens["id_token"].as_str().unwrap()
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.input("csrf").is_some(),
        "a confirmation form: {}",
        page.body
    );
    let (status, r) = refresh(&server, tokens["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200, "the session lives: {r}");
}

/// A logout token is signed with the algorithm the client registered for its ID tokens (the one
/// it verifies), not always RS256.
fn logout_tokens_use_the_clients_id_token_algorithm(db: Db) {
    let app = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: client_toml(
                "es-app",
                8085,
                &format!(
                    "id_token_signed_response_alg = \"ES256\"\nbackchannel_logout_uri = \"{}\"",
                    app.url
                ),
            ),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let url = crate::apps::authorize_url(&server, "es-app", 8085);
    let signed = sign_in(
        &server,
        &browser,
        &url,
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let tokens = redeem(
        &server,
        "es-app",
        8085,
        &signed.callback.location_param("code").unwrap(),
    );
    let confirm = browser.get(&server.url("/end_session"));
    browser.post(&server.url("/end_session"), &[("csrf", &confirm.csrf())]);
    let told = app.logout_tokens(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(told.len(), 1);
    let header = jsonwebtoken::decode_header(&told[0]).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(
        verified_logout(&server, &told[0], "es-app")["sid"],
        sid_of(&tokens)
    );
}

on_both_backends!(
    end_session_trusts_no_hint_issued_to_another_client,
    logout_tokens_use_the_clients_id_token_algorithm,
);
