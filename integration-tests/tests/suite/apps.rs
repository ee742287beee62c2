//! The apps beside the demo app's own calls (`rp`): a second confidential app (`crm`), any
//! registered app's `/authorize` link, `/token` calls, refresh and `/userinfo`, the demo app's
//! tokens in one call, and a back-channel logout token checked as an app checks it.

use serde_json::Value;

use crate::harness::*;
use crate::rp::{http, jwt_claims, sign_in, SecondFactor};

/// `[[clients]]` "crm": a second confidential app with its own back-channel endpoint.
pub fn crm_client(backchannel: &str) -> String {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        DEMO_SECRET.as_bytes(),
    ));
    format!(
        "\n[[clients]]\nclient_id = \"crm\"\nname = \"CRM\"\nredirect_uris = [\"http://127.0.0.1:8083/callback\"]\nsecret_sha256 = \"{hash}\"\nbackchannel_logout_uri = \"{backchannel}\"\n"
    )
}

pub fn authorize_url(server: &TestServer, client: &str, port: u16) -> String {
    format!(
        "{}?client_id={client}&redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback&response_type=code&scope=openid%20email&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        server.url("/authorize")
    )
}

pub fn token(server: &TestServer, client: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = http()
        .post(server.url("/token"))
        .basic_auth(client, Some(DEMO_SECRET))
        .form(form)
        .send()
        .unwrap();
    (res.status().as_u16(), res.json().unwrap_or(Value::Null))
}

pub fn redeem(server: &TestServer, client: &str, port: u16, code: &str) -> Value {
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (status, tokens) = token(
        server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(status, 200, "{tokens}");
    tokens
}

pub fn refresh(server: &TestServer, client: &str, tokens: &Value) -> (u16, Value) {
    token(
        server,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
}

pub fn userinfo(server: &TestServer, tokens: &Value) -> u16 {
    http()
        .get(server.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Signs in at the demo app; returns its tokens (the session's `sid` is in the ID token).
pub fn demo_tokens(server: &TestServer, browser: &Browser, factor: SecondFactor) -> Value {
    let signed = sign_in(
        server,
        browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        factor,
        None,
    );
    redeem(
        server,
        "demo",
        8081,
        &signed.callback.location_param("code").unwrap(),
    )
}

pub fn sid_of(tokens: &Value) -> Value {
    jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].clone()
}

/// A logout token checked against the JWKS (signature, issuer, audience, type, event): its
/// claims.
pub fn verified_logout(server: &TestServer, token: &str, client: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(server.url("/jwks"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[client]);
    v.set_issuer(&[server.base.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    claims
}

/// `[[clients]]` `id`: a confidential app (the demo secret) at `127.0.0.1:port`, with `extra` keys.
pub fn client_toml(id: &str, port: u16, extra: &str) -> String {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        DEMO_SECRET.as_bytes(),
    ));
    format!(
        "\n[[clients]]\nclient_id = \"{id}\"\nname = \"{id}\"\nredirect_uris = [\"http://127.0.0.1:{port}/callback\"]\nsecret_sha256 = \"{hash}\"\n{extra}\n"
    )
}
