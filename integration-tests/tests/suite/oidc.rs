//! The whole OpenID Connect flow with the `openidconnect` crate as the relying party: discovery,
//! code + PKCE, ID token validation (signature, nonce, amr, idle_exp), userinfo, refresh (sliding
//! idle_exp), and RP-initiated logout with back-channel logout to a listening app.

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, Scope,
    TokenResponse,
};
use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn full_flow(db: Db, mfa: bool) {
    let recorder = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(recorder.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", mfa);
    let client = demo_client(&server);
    let http = http();

    // First sign-in.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::new();
    let factor = if mfa {
        SecondFactor::Enroll
    } else {
        SecondFactor::None
    };
    let signed = sign_in(
        &server,
        &browser,
        url.as_str(),
        "Ann@Example.com",
        factor,
        None,
    );
    let cb = &signed.callback;
    assert!(cb
        .location
        .as_ref()
        .unwrap()
        .starts_with("http://127.0.0.1:8081/callback?"));
    assert_eq!(
        cb.location_param("state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        cb.location_param("iss").as_deref(),
        Some(server.base.as_str()),
        "RFC 9207 iss"
    );
    let set_cookie = cb
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let session_cookie = set_cookie
        .iter()
        .find(|c| c.starts_with("idp_session="))
        .expect("session cookie");
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );

    let token = client
        .exchange_code(AuthorizationCode::new(cb.location_param("code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request(&http)
        .unwrap();
    let id_token = token.id_token().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    if mfa {
        assert_eq!(amr, ["pwd", "otp", "mfa"]);
    } else {
        assert_eq!(amr, ["pwd"]);
    }
    assert_eq!(claims.email().unwrap().as_str(), "ann@example.com");
    let raw = jwt_claims(&id_token.to_string());
    let sub = raw["sub"].as_str().unwrap().to_string();
    assert_ne!(sub, "ann@example.com", "sub is stable and not the email");
    assert_eq!(raw["account"], "acme");
    let idle_exp = raw["idle_exp"].as_i64().unwrap();
    assert!(
        (idle_exp - (now() + 1800)).abs() <= 5,
        "idle_exp is 30 minutes ahead: {idle_exp}"
    );
    assert!(raw["sid"].as_str().is_some());
    let access = jwt_claims(token.access_token().secret());
    assert_eq!(access["idle_exp"], raw["idle_exp"]);
    assert_eq!(access["sid"], raw["sid"]);

    // Userinfo.
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), None)
        .unwrap()
        .request(&http)
        .unwrap();
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().unwrap().as_str(), "ann@example.com");
    assert_eq!(info.email_verified(), Some(true));

    // Refresh slides idle_exp and rotates the refresh token.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .unwrap()
        .request(&http)
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        token.refresh_token().unwrap().secret()
    );
    let new_idle = jwt_claims(refreshed.access_token().secret())["idle_exp"]
        .as_i64()
        .unwrap();
    assert!(
        new_idle >= idle_exp + 2,
        "refresh slides idle_exp: {idle_exp} -> {new_idle}"
    );
    let refreshed_id = jwt_claims(&refreshed.id_token().unwrap().to_string());
    assert_eq!(refreshed_id["sub"], sub.as_str());
    assert_eq!(refreshed_id["idle_exp"].as_i64().unwrap(), new_idle);

    // A second app visit reuses the session without a password (SSO).
    let (url2, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0)
        .url();
    let again = browser.get(url2.as_str());
    assert_eq!(again.status, 302);
    assert!(
        again.location_param("code").is_some(),
        "SSO: {:?}",
        again.location
    );

    // Second sign-in in a new browser: MFA users now type a code, no QR.
    if mfa {
        let (challenge3, verifier3) = PkceCodeChallenge::new_random_sha256();
        let (url3, _, nonce3) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge3)
            .url();
        let other = Browser::new();
        let second = sign_in(
            &server,
            &other,
            url3.as_str(),
            "ann@example.com",
            SecondFactor::Code,
            signed.activation_code.as_deref(),
        );
        let t = client
            .exchange_code(AuthorizationCode::new(
                second.callback.location_param("code").unwrap(),
            ))
            .unwrap()
            .set_pkce_verifier(verifier3)
            .request(&http)
            .unwrap();
        let c = t
            .id_token()
            .unwrap()
            .claims(&client.id_token_verifier(), &nonce3)
            .unwrap();
        assert_eq!(c.auth_method_refs().unwrap().len(), 3);
    }

    // RP-initiated logout with the ID token as hint: back to the app, session gone, apps told.
    let logout_url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
        server.url("/end_session"),
        id_token,
        "http%3A%2F%2F127.0.0.1%3A8081%2F"
    );
    let out = browser.get(&logout_url);
    assert_eq!(out.status, 302, "{}", out.body);
    assert_eq!(
        out.location.as_deref(),
        Some("http://127.0.0.1:8081/?state=bye")
    );
    let body = recorder
        .rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("back-channel logout received");
    let logout_token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .unwrap()
        .1
        .into_owned();
    verify_logout_token(&server, &logout_token, &raw["sid"], &sub);
    // The refresh token is dead and the next authorize asks for the password again.
    assert!(client
        .exchange_refresh_token(refreshed.refresh_token().unwrap())
        .unwrap()
        .request(&http)
        .is_err());
    let page = browser.follow(&server.base, browser.get(url2.as_str()));
    assert!(page.body.contains("autocomplete=\"current-password\""));
    // Userinfo with the old access token is refused: its session ended.
    let res = http
        .get(server.url("/userinfo"))
        .bearer_auth(refreshed.access_token().secret())
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
}

fn verify_logout_token(server: &TestServer, token: &str, sid: &Value, sub: &str) {
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
    v.set_audience(&["demo"]);
    v.set_issuer(&[server.base.as_str()]);
    let data = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &v,
    )
    .unwrap();
    assert_eq!(&data.claims["sid"], sid);
    assert_eq!(data.claims["sub"], sub);
    assert!(
        data.claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object()
    );
    assert!(data.claims.get("nonce").is_none());
}

fn flow_without_mfa(db: Db) {
    full_flow(db, false);
}

fn flow_with_mfa(db: Db) {
    full_flow(db, true);
}

fn public_client_with_pkce(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let url = format!(
        "{}?client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A8082%2Fcallback&response_type=code&scope=openid&state=s1&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256",
        server.url("/authorize")
    );
    let signed = sign_in(
        &server,
        &browser,
        &url,
        "ann@example.com",
        SecondFactor::None,
        None,
    );
    let code = signed.callback.location_param("code").unwrap();
    let res = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8082/callback"),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() <= 300);
    let left = body["refresh_expires_in"].as_i64().unwrap();
    assert!(
        (1795..=1800).contains(&left),
        "refresh_expires_in is the idle window left: {left}"
    );
    assert_eq!(
        jwt_claims(body["id_token"].as_str().unwrap())["nonce"],
        "n1"
    );
}

on_both_backends!(flow_without_mfa, flow_with_mfa, public_client_with_pkce,);
