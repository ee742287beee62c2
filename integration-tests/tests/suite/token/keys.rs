//! The keys tokens are signed with: ES256 access tokens verify against the JWKS, and the tokens
//! of a retired key verify until they expire.

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge};
use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

/// The faster algorithm for access tokens (`tokens.access_token_alg = "ES256"`): the token names
/// a published P-256 key, userinfo accepts it, and a changed signature is refused.
fn es256_access_tokens_verify_against_the_jwks(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: "\n[tokens]\naccess_token_alg = \"ES256\"\n".into(),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let (status, tokens) = exchange(&server, &signed_in_code(&server, &browser));
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            access.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    let jwks: Value = http()
        .get(server.url("/jwks"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"] && k["crv"] == "P-256"));
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    // A changed signature is refused.
    let (signed, signature) = access.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = signature.chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    let forged = format!("{signed}.{}", sig.into_iter().collect::<String>());
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth(&forged)
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
}

fn tokens_of_a_retired_key_verify_until_they_expire(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let client = demo_client(&server);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let signed = sign_in(
        &server,
        &Browser::new(),
        url.as_str(),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let token = client
        .exchange_code(AuthorizationCode::new(
            signed.callback.location_param("code").unwrap(),
        ))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request(&http())
        .unwrap();
    let old_kid = jsonwebtoken::decode_header(token.access_token().secret())
        .unwrap()
        .kid
        .unwrap();
    let new_kids = idp_server::keys::rotate(&server.rt.idp, &op()).unwrap();
    // A replica started after the rotation signs with the new key and still publishes the old.
    let replica = TestServer::start_on(
        tempfile::tempdir().unwrap(),
        &server.db_url,
        Options {
            key_dir: Some(server.dir.path().join("keys")),
            issuer: Some(server.base.clone()),
            ..Options::default()
        },
    );
    let jwks: Value = http()
        .get(replica.url("/jwks"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()),
        "retired key still published: {kids:?}"
    );
    for k in &new_kids {
        assert!(kids.contains(&k.as_str()));
    }
    let res = http()
        .get(replica.url("/userinfo"))
        .bearer_auth(token.access_token().secret())
        .send()
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a token signed by the retired key still verifies"
    );
    let refreshed: Value = http()
        .post(replica.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token.refresh_token().unwrap().secret()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kid = jsonwebtoken::decode_header(refreshed["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert!(
        new_kids.contains(&kid),
        "new tokens are signed with the new key"
    );
}

on_both_backends!(
    es256_access_tokens_verify_against_the_jwks,
    tokens_of_a_retired_key_verify_until_they_expire,
);
