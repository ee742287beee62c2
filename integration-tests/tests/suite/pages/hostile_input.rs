//! Hostile input on every endpoint and form field: oversized values, NUL, CRLF, look-alike and
//! mixed-case emails, SQL and HTML metacharacters, malformed UTF-8, duplicates, open-redirect
//! attempts. Each gets a clear refusal (never a 5xx, never a redirect to an unregistered place),
//! markup is escaped, and nothing is stored.

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::{http, seed};

/// Percent-encoded hostile values.
const VALUES: &[&str] = &[
    "",
    "%00",
    "a%00b",
    "%0d%0aSet-Cookie:%20x=1",
    "%0d%0aLocation:%20https://evil.example",
    "%ff%fe%fd",
    "%c0%af",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "'%20OR%201=1--",
    "%27;DROP%20TABLE%20users;--",
    "ANN@EXAMPLE.COM",
    "ann@ex%D0%B0mple.com",
    "%E2%80%AEmoc.elpmaxe@nna",
    "..%2F..%2Fetc%2Fpasswd",
    "%25%32%65",
    "javascript:alert(1)",
];

fn long() -> String {
    "A".repeat(5000)
}

const REDIRECTS: &[&str] = &[
    "http%3A%2F%2F127.0.0.1%3A8081%2Fextra",
    "http%3A%2F%2F127.0.0.1%3A8081%2F%3Fx%3D1",
    "http%3A%2F%2F127.0.0.1%3A8081%2F%23f",
    "http%3A%2F%2Fuser%40127.0.0.1%3A8081%2F",
    "https%3A%2F%2F127.0.0.1%3A8081%2F",
    "javascript%3Aalert(1)%2F%2F",
    "http%3A%2F%2F127.0.0.1.%3A8081%2F",
    "http%3A%2F%2F127.0.0.1%3A8081%252F",
    "%2F%2Fevil.example%2F",
    "https%3A%2F%2Fevil.example%2F",
];

fn assert_safe(what: &str, page: &Page, allowed_prefixes: &[&str]) {
    assert!(page.status < 500, "{what}: {} {}", page.status, page.body);
    if let Some(loc) = &page.location {
        assert!(
            !loc.contains('\r') && !loc.contains('\n'),
            "{what}: header injection {loc:?}"
        );
        assert!(
            allowed_prefixes.iter().any(|p| loc.starts_with(p)),
            "{what}: redirect to {loc}"
        );
    }
    assert!(
        !page.body.contains("<script>alert"),
        "{what}: markup reflected unescaped"
    );
    assert!(
        !page.body.contains("<img src=x"),
        "{what}: markup reflected unescaped"
    );
    for c in page.headers.get_all("set-cookie") {
        assert!(
            !c.to_str().unwrap().starts_with("x="),
            "{what}: cookie injection"
        );
    }
}

fn every_endpoint_refuses_hostile_input_cleanly(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let cb = "http://127.0.0.1:8081/callback";
    let allowed = [cb, "/login"];
    let browser = Browser::new();
    let mut values: Vec<String> = VALUES.iter().map(|v| v.to_string()).collect();
    values.push(long());

    // /authorize: every parameter.
    let params = [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "login_hint",
        "response_mode",
    ];
    for p in params {
        for v in &values {
            let mut q = vec![
                ("client_id", "demo".to_string()),
                (
                    "redirect_uri",
                    "http%3A%2F%2F127.0.0.1%3A8081%2Fcallback".to_string(),
                ),
                ("response_type", "code".to_string()),
                ("scope", "openid".to_string()),
                ("state", "s".to_string()),
                ("code_challenge", CHALLENGE.to_string()),
                ("code_challenge_method", "S256".to_string()),
            ];
            q.retain(|(k, _)| *k != p);
            q.push((p, v.clone()));
            let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let page = browser.get(&format!("{}?{}", server.url("/authorize"), query.join("&")));
            assert_safe(&format!("authorize {p}={v:.40}"), &page, &allowed);
        }
    }
    // Duplicated parameters.
    let page = browser.get(&format!(
        "{}?client_id=demo&redirect_uri=x&redirect_uri=y",
        server.url("/authorize")
    ));
    assert_eq!(page.status, 400);

    // The sign-in form.
    for v in &values {
        let b = Browser::new();
        let page = b.follow(&server.base, b.get(&format!("{}?client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256", server.url("/authorize"))));
        let csrf = page.csrf();
        for (field, other) in [("email", "password"), ("password", "email")] {
            let body = format!("csrf={csrf}&{field}={v}&{other}=x");
            let res = b
                .client
                .post(server.url("/login/password"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .unwrap();
            let status = res.status().as_u16();
            let cookies: Vec<String> = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|c| c.to_str().unwrap().to_string())
                .collect();
            let text = res.text().unwrap();
            assert!(
                status < 500 && status != 303,
                "login {field}={v:.40}: {status}"
            );
            assert!(cookies.iter().all(|c| !c.starts_with("idp_session=")));
            assert!(!text.contains("<script>alert"), "escaped");
        }
    }

    // The token endpoint.
    for field in [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_id",
        "scope",
    ] {
        for v in &values {
            let body = format!("grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&{field}={v}");
            let res = http()
                .post(server.url("/token"))
                .basic_auth("demo", Some(DEMO_SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .unwrap();
            let status = res.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "token {field}={v:.40}: {status}"
            );
            let json: serde_json::Value = res.json().unwrap();
            assert!(json["error"].is_string());
        }
    }
    for header in [
        "Basic %%%",
        "Basic ",
        "Bearer x",
        "Basic ZGVtbzo=",
        &format!("Basic {}", "A".repeat(5000)),
    ] {
        let res = http()
            .post(server.url("/token"))
            .header("authorization", header)
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .unwrap();
        assert!((400..500).contains(&res.status().as_u16()), "{header:.30}");
    }

    // Userinfo.
    for header in [
        "Bearer ",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Basic x",
        &format!("Bearer {}", "A".repeat(5000)),
    ] {
        let res = http()
            .get(server.url("/userinfo"))
            .header("authorization", header)
            .send()
            .unwrap();
        assert_eq!(res.status(), 401, "{header:.30}");
    }

    // Logout: hostile post-logout redirects are never followed.
    for target in REDIRECTS
        .iter()
        .map(|s| s.to_string())
        .chain(values.iter().cloned())
    {
        for client in ["demo", "spa", "nobody"] {
            let page = Browser::new().get(&format!(
                "{}?client_id={client}&post_logout_redirect_uri={target}&state=%0d%0ax",
                server.url("/end_session")
            ));
            assert_safe(&format!("end_session {target:.40}"), &page, &[]);
            assert_eq!(page.status, 200, "signed-out page, no redirect");
        }
    }

    // Lifecycle pages.
    for v in &values {
        let page = browser.get(&format!("{}?token={v}", server.url("/register")));
        assert_safe("register", &page, &[]);
        let page = browser.get(&format!("{}?token={v}", server.url("/reset")));
        assert_safe("reset", &page, &[]);
    }
    let forgot = browser.get(&server.url("/forgot"));
    for v in &values {
        let body = format!("csrf={}&email={v}", forgot.csrf());
        let res = browser
            .client
            .post(server.url("/forgot"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        assert!(res.status().as_u16() < 500);
    }

    // Nothing was stored: still one user, no session, no sign-in recorded as a success.
    let idp = &server.rt.idp;
    assert_eq!(idp.list_users("acme").unwrap().len(), 1);
    let ann = idp.user_by_email("ann@example.com").unwrap();
    assert!(idp.live_sessions(&ann.id).unwrap().is_empty());
    assert!(!idp
        .audit_recent(10_000)
        .unwrap()
        .iter()
        .any(|e| e.action == "signin.succeeded"));
}

/// A parameter's name comes from whoever wrote the link: parameters the provider does not read
/// are ignored and an error page names only those it does, so a link cannot put "your account
/// is suspended, call ..." on our page. The
/// refusal still speaks the language the request asked for.
#[test]
fn error_pages_never_show_a_strangers_words() {
    let server = TestServer::start(Db::Sqlite);
    let browser = Browser::new();
    let spoof = "client_id.%20Your%20account%20is%20suspended!%20Call%20%2B1-555-0100";
    let typed = "client_id. Your account is suspended! Call +1-555-0100";
    for (url, form) in [
        (format!("/authorize?{spoof}=1&{spoof}=1"), false),
        (format!("/authorize?{spoof}=%00"), false),
        ("/login/password".to_string(), true),
    ] {
        let page = if form {
            browser.post(&server.url(&url), &[(typed, "1"), (typed, "2")])
        } else {
            browser.get(&server.url(&url))
        };
        // Ignored (RFC 6749 3.1): the request is refused for what it lacks, in our words.
        assert_eq!(page.status, 400, "{url}: {}", page.body);
        assert!(
            !page.body.contains("suspended") && !page.body.contains("555"),
            "{url}: {}",
            page.body
        );
    }
    // A parameter the provider reads is still named.
    let page = browser.get(&server.url("/authorize?client_id=demo&client_id=demo"));
    assert!(page.body.contains("client_id"), "{}", page.body);
    // And a request that cannot be read is refused in its ui_locales.
    let page = browser.get(&server.url("/authorize?client_id=demo&client_id=demo&ui_locales=es"));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("<html lang=\"es\""), "{}", page.body);
    // A form too large to read is a page too, in the browser's language.
    let big = "x".repeat(70 * 1024);
    let res = browser
        .client
        .post(server.url("/login/password"))
        .header("accept-language", "es")
        .form(&[("email", big.as_str())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    for h in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
    ] {
        assert!(res.headers().contains_key(h), "{h} on the 413 page");
    }
    assert!(res.text().unwrap().contains("<html lang=\"es\""));
}

on_both_backends!(every_endpoint_refuses_hostile_input_cleanly);
