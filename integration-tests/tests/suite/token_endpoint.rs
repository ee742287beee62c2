//! A negative test for every protection of the token endpoint: single-use codes, PKCE, refresh
//! rotation with reuse detection, client authentication and its lock, and the ES256 option.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn code_is_single_use_and_replay_revokes_tokens(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let code = signed_in_code(&server, &browser);
    let (status, first) = exchange(&server, &code);
    assert_eq!(status, 200, "{first}");
    let (status, again) = exchange(&server, &code);
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_grant");
    let (status, r) = refresh(&server, first["refresh_token"].as_str().unwrap());
    assert_eq!(
        status, 400,
        "the replay revoked the first redemption's tokens: {r}"
    );
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status(), 401, "and its access token");
}

fn pkce_verifier_is_checked(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let code = signed_in_code(&server, &Browser::new());
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "missing verifier"
    );
    let code = signed_in_code(&server, &Browser::new());
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback"),
            ("code_verifier", &"a".repeat(43)),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let code = signed_in_code(&server, &Browser::new());
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8081/callback/"),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "other redirect_uri"
    );
}

fn refresh_reuse_revokes_the_chain(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let browser = Browser::new();
    let (_, tokens) = exchange(&server, &signed_in_code(&server, &browser));
    let r0 = tokens["refresh_token"].as_str().unwrap();
    // RFC 6749 section 6: a scope beyond the grant is refused and does not spend the token...
    let widen = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r0),
        ("scope", "openid email profile"),
    ];
    let (s, v, _) = token_call(&server, &widen);
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_scope")),
        "{v}"
    );
    // ...and a narrower one applies to the tokens of that response.
    let narrow = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r0),
        ("scope", "openid"),
    ];
    let (s, v, _) = token_call(&server, &narrow);
    assert_eq!(s, 200, "the refused request left the token usable: {v}");
    assert_eq!(v["scope"], "openid");
    assert_eq!(
        jwt_claims(v["access_token"].as_str().unwrap())["scope"],
        "openid"
    );
    assert!(jwt_claims(v["id_token"].as_str().unwrap())["email"].is_null());
    let r1 = v["refresh_token"].as_str().unwrap().to_string();
    let (s, t2) = refresh(&server, &r1);
    assert_eq!(s, 200, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    let (s, v) = refresh(&server, &r1);
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = refresh(&server, &r2);
    assert_eq!(s, 400, "reuse of an old token revoked the newest one too");
}

/// Guessing a client secret: 20 failures for a client from one address are answered 401; then
/// that client is locked at that address: 429 with `Retry-After`, even for the right secret,
/// and the lock is in the database (shared by replicas).
fn client_secret_guessing_locks_the_address(db: Db) {
    let server = TestServer::start(db);
    let attempt = |secret: &str| {
        let res = http()
            .post(server.url("/token"))
            .basic_auth("demo", Some(secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .unwrap();
        let retry_after = res.headers().get("retry-after").is_some();
        (
            res.status().as_u16(),
            retry_after,
            res.json::<Value>().unwrap(),
        )
    };
    for i in 0..20 {
        let (status, _, body) = attempt(&format!("guess-{i}"));
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "guess {i}"
        );
    }
    for secret in ["guess-21", DEMO_SECRET] {
        let (status, retry_after, body) = attempt(secret);
        assert_eq!(status, 429, "locked: even the right secret is refused");
        assert!(retry_after);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("too many failed client authentications"),
            "{body}"
        );
    }
    let lock = server.rt.idp.client_auth_lock("demo", "127.0.0.1").unwrap();
    assert!(lock.is_some(), "the lock is shared state in the database");
}

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

fn client_authentication_is_enforced(db: Db) {
    let server = TestServer::start(db);
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some("wrong-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_some());
    assert_eq!(res.json::<Value>().unwrap()["error"], "invalid_client");
    let res = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "demo"),
        ])
        .send()
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "a confidential client without its secret"
    );
    let res = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "demo"),
            ("client_secret", DEMO_SECRET),
        ])
        .send()
        .unwrap();
    assert_eq!(
        res.json::<Value>().unwrap()["error"],
        "invalid_grant",
        "client_secret_post works"
    );
    let (s, v, _) = token_call(
        &server,
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&grant_type=refresh_token")
        .send()
        .unwrap();
    assert_eq!(res.json::<Value>().unwrap()["error"], "invalid_request");
    let res = http()
        .get(server.url("/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// RFC 6749 5.2 and RFC 7235: a request with no client authentication at all is `invalid_client`
/// too, and every 401 says how to authenticate; the scheme and the media type are compared
/// case-insensitively (RFC 7235 2.1, RFC 9110 8.3.1); parameters the provider does not read are
/// ignored however often they come (RFC 6749 3.1); a body too large is refused in JSON.
#[test]
fn the_token_endpoint_answers_as_rfc_6749_and_7235_say() {
    let server = TestServer::start(Db::Sqlite);
    seed(&server, "acme", "ann@example.com", false);
    let challenged = |res: reqwest::blocking::Response, what: &str| {
        assert_eq!(res.status(), 401, "{what}");
        assert!(
            res.headers()
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap().starts_with("Basic")),
            "{what}: a challenge"
        );
        assert_eq!(
            res.json::<Value>().unwrap()["error"],
            "invalid_client",
            "{what}"
        );
    };
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    challenged(
        http()
            .post(server.url("/token"))
            .form(&form)
            .send()
            .unwrap(),
        "no client authentication",
    );
    let posted = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_id", "demo"),
        ("client_secret", "wrong"),
    ];
    challenged(
        http()
            .post(server.url("/token"))
            .form(&posted)
            .send()
            .unwrap(),
        "a wrong client_secret_post",
    );
    // A lower-case scheme and an upper-case media type, with a parameter nobody reads sent twice.
    let code = signed_in_code(&server, &Browser::new());
    let credentials = STANDARD.encode(format!("demo:{DEMO_SECRET}"));
    let res = http()
        .post(server.url("/token"))
        .header("authorization", format!("basic {credentials}"))
        .header("content-type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
        .body(format!(
            "grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&code_verifier={VERIFIER}&foo=1&foo=2"
        ))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().unwrap();
    let res = http()
        .get(server.url("/userinfo"))
        .header(
            "authorization",
            format!("BEARER {}", tokens["access_token"].as_str().unwrap()),
        )
        .send()
        .unwrap();
    assert_eq!(res.status(), 200, "the bearer scheme in capitals");
    // RFC 6750 2.2: the token in a form body, but never two ways at once (3.1).
    let access = tokens["access_token"].as_str().unwrap();
    let res = http()
        .post(server.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200, "in the form body");
    let res = http()
        .post(server.url("/userinfo"))
        .bearer_auth(access)
        .form(&[("access_token", access)])
        .send()
        .unwrap();
    assert_eq!(res.status(), 400, "in the header and the body");
    // Another method: 405, and still JSON.
    for (path, method, allow) in [("/token", "GET", "POST"), ("/userinfo", "PUT", "GET, POST")] {
        let res = http()
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.json::<Value>().unwrap()["error"], "invalid_request");
    }
    // An app's OAuth library reads a refusal of a body too large as it reads every other one.
    let big = "x".repeat(70 * 1024);
    let res = http()
        .post(server.url("/token"))
        .basic_auth("demo", Some(DEMO_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", big.as_str())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.json::<Value>().unwrap()["error"], "invalid_request");
}

on_both_backends!(
    code_is_single_use_and_replay_revokes_tokens,
    pkce_verifier_is_checked,
    refresh_reuse_revokes_the_chain,
    client_authentication_is_enforced,
    client_secret_guessing_locks_the_address,
    es256_access_tokens_verify_against_the_jwks,
);
