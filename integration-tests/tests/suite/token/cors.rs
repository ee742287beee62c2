//! CORS: a browser-based app's script may call `/token` and `/userinfo` (never with cookies);
//! the pages keep none.

use crate::harness::*;
use crate::rp::*;

const SPA_ORIGIN: &str = "http://127.0.0.1:8082";

/// A browser-based app's script may call the token endpoint and /userinfo (Fetch standard CORS;
/// OAuth 2.0 for Browser-Based Apps): the preflight is answered for the headers those calls
/// send, and the answers, errors included, may be read by the page. Cookies are never part of
/// it: no `Access-Control-Allow-Credentials`.
#[test]
fn a_browser_app_may_call_the_token_endpoint_and_userinfo_from_script() {
    let server = TestServer::start(Db::Sqlite);
    seed(&server, "acme", "ann@example.com", false);
    for (path, method, asked) in [
        ("/token", "POST", "content-type"),
        ("/userinfo", "GET", "authorization"),
        ("/userinfo", "POST", "authorization, content-type"),
    ] {
        let res = http()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("Origin", SPA_ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", asked)
            .send()
            .unwrap();
        assert!(
            res.status().is_success(),
            "preflight of {method} {path}: {}",
            res.status()
        );
        let origin = header(&res, "access-control-allow-origin");
        assert!(
            origin.as_deref() == Some("*") || origin.as_deref() == Some(SPA_ORIGIN),
            "{path}: {origin:?}"
        );
        let methods = header(&res, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains(method), "{path}: {methods}");
        let headers = header(&res, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for h in asked.split(", ") {
            assert!(headers.contains(h), "{path} allows {h}: {headers}");
        }
        assert_eq!(header(&res, "access-control-allow-credentials"), None);
    }

    // The answers themselves: a token error the app must be able to read, and userinfo.
    let res = http()
        .post(server.url("/token"))
        .header("Origin", SPA_ORIGIN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", "nope"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(header(&res, "access-control-allow-origin").is_some());
    let code = signed_in_code(&server, &Browser::new());
    let (status, tokens) = exchange(&server, &code);
    assert_eq!(status, 200, "{tokens}");
    let res = http()
        .get(server.url("/userinfo"))
        .header("Origin", SPA_ORIGIN)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "access-control-allow-origin").is_some());
    assert_eq!(header(&res, "access-control-allow-credentials"), None);

    // The pages keep no CORS: a script elsewhere may not read them.
    let res = http()
        .get(server.url("/login"))
        .header("Origin", SPA_ORIGIN)
        .send()
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}
