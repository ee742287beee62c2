//! The relying party's side of the suite, shared by every test file: an HTTP client that follows
//! nothing, seeding, the hosted sign-in steps a browser takes, and the demo client's calls to
//! /authorize and /token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use idp_core::users::NewUser;
use idp_core::{Actor, MfaPolicy};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{reqwest, ClientId, ClientSecret, IssuerUrl, RedirectUrl};
use serde_json::Value;

use crate::harness::*;

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn op() -> Actor {
    Actor::Operator("test".into())
}

/// An account with one active user; MFA as asked.
pub fn seed(server: &TestServer, slug: &str, email: &str, mfa: bool) {
    let idp = &server.rt.idp;
    if idp.account_by_slug(slug).is_err() {
        idp.create_account(slug, "Acme Fuel", &op()).unwrap();
    }
    idp.create_user(
        slug,
        NewUser {
            email,
            display_name: "Ann Lee",
            work_email: Some("ann.work@example.com"),
            password: Some(PASSWORD),
        },
        &op(),
    )
    .unwrap();
    if mfa {
        idp.set_mfa_policy(slug, MfaPolicy::Required, &op())
            .unwrap();
    }
}

/// The claims of a JWT we already verified (or only want to read).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What the browser does between the app's authorize URL and the app's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    None,
    /// Expect the QR page, link the app; returns the activation code.
    Enroll,
    /// Expect the code page (no QR), type a code for the given activation code.
    Code,
}

pub struct SignedIn {
    pub callback: Page,
    pub activation_code: Option<String>,
}

/// Drives the hosted pages; returns the redirect to the app's callback.
pub fn sign_in(
    server: &TestServer,
    browser: &Browser,
    authorize_url: &str,
    email: &str,
    factor: SecondFactor,
    activation: Option<&str>,
) -> SignedIn {
    sign_in_with_password(
        server,
        browser,
        authorize_url,
        email,
        PASSWORD,
        factor,
        activation,
    )
}

/// `sign_in` with another password than the seeded one.
pub fn sign_in_with_password(
    server: &TestServer,
    browser: &Browser,
    authorize_url: &str,
    email: &str,
    password: &str,
    factor: SecondFactor,
    activation: Option<&str>,
) -> SignedIn {
    let page = submit_password(server, browser, authorize_url, email, password);
    assert_eq!(page.status, 303, "{}", page.body);
    let mut activation_code = None;
    let callback = match factor {
        SecondFactor::None => page,
        SecondFactor::Enroll => {
            let page = browser.follow(&server.base, page);
            assert!(
                page.body.contains("<svg"),
                "QR code expected: {}",
                page.body
            );
            let code = page
                .by_id("activation-code")
                .expect("activation code under the QR");
            assert_eq!(
                code.split(' ').count(),
                8,
                "32 base32 characters in groups of 4: {code}"
            );
            wait_for_fresh_step(5);
            let otp = oathtool(&code, 0);
            // Typed with a space in the middle, as apps display it.
            let typed = format!("{} {}", &otp[..3], &otp[3..]);
            let next = browser.post(
                &server.url("/login/totp"),
                &[("csrf", &page.csrf()), ("code", &typed)],
            );
            activation_code = Some(code);
            next
        }
        SecondFactor::Code => {
            let page = browser.follow(&server.base, page);
            assert!(
                page.body.contains("autocomplete=\"one-time-code\""),
                "{}",
                page.body
            );
            assert!(
                !page.body.contains("<svg"),
                "the QR code is never shown again once linked"
            );
            assert!(!page.body.contains("activation-code"));
            // The code of the next step (a phone 30 s ahead): the current one was used already.
            let otp = oathtool(activation.unwrap(), 30);
            browser.post(
                &server.url("/login/totp"),
                &[("csrf", &page.csrf()), ("code", &otp)],
            )
        }
    };
    assert_eq!(callback.status, 303, "{}", callback.body);
    SignedIn {
        callback,
        activation_code,
    }
}

pub fn demo_client(
    server: &TestServer,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let metadata =
        CoreProviderMetadata::discover(&IssuerUrl::new(server.base.clone()).unwrap(), &http())
            .unwrap();
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("demo".into()),
        Some(ClientSecret::new(DEMO_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:8081/callback".into()).unwrap())
}

pub const CB: &str = "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback";

pub fn authorize_url(server: &TestServer, extra: &str) -> String {
    format!("{}?client_id=demo&redirect_uri={CB}&response_type=code&scope=openid%20email&state=st&nonce=nn&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}", server.url("/authorize"))
}

pub fn token_call(
    server: &TestServer,
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(form)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().unwrap_or(Value::Null), headers)
}

pub fn exchange(server: &TestServer, code: &str) -> (u16, Value) {
    let (s, v, h) = token_call(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(
        h.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    (s, v)
}

pub fn refresh(server: &TestServer, token: &str) -> (u16, Value) {
    let (s, v, _) = token_call(
        server,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    );
    (s, v)
}

pub fn signed_in_code(server: &TestServer, browser: &Browser) -> String {
    let signed = sign_in(
        server,
        browser,
        &authorize_url(server, ""),
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    signed.callback.location_param("code").unwrap()
}

/// A response header as text.
pub fn header(res: &reqwest::blocking::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Signs `email` in at the demo app (no second factor) and redeems the code: the tokens.
pub fn sign_in_tokens(server: &TestServer, browser: &Browser, email: &str) -> Value {
    let signed = sign_in(
        server,
        browser,
        &authorize_url(server, ""),
        email,
        SecondFactor::None,
        None,
    );
    let (status, tokens) = exchange(server, &signed.callback.location_param("code").unwrap());
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// How many of these answers were checked and refused (401) and refused unchecked (429).
pub fn statuses(results: &[u16]) -> (usize, usize) {
    (
        results.iter().filter(|s| **s == 401).count(),
        results.iter().filter(|s| **s == 429).count(),
    )
}

/// `[server] trusted_proxies` naming this machine, so a test may speak from any address with
/// `X-Forwarded-For`.
pub const TRUST_LOCALHOST: &str = "\n[server]\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\"]\n";
