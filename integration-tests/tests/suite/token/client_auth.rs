//! Client authentication at `/token`: enforced for confidential clients, answered as RFC 6749 and
//! 7235 say, and locked per client *and* address after guesses (parallel ones included), so a
//! stranger cannot stop an app's code exchanges.

use std::sync::Barrier;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::apps::redeem;
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

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

on_both_backends!(
    client_secret_guessing_locks_the_address,
    client_authentication_is_enforced,
    parallel_wrong_client_secrets_get_the_limit,
    a_stranger_cannot_stop_an_apps_code_exchanges,
);
