//! The security headers every page carries (CSP without inline script or style, no framing, no
//! sniffing, no referrer, no caching), and the health probes beside them.

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

fn pages_carry_security_headers(db: Db) {
    let server = TestServer::start(db);
    let browser = Browser::new();
    let page = browser.follow(
        &server.base,
        browser.get(&authorize_url(&server, "&login_hint=ann%40example.com")),
    );
    assert_eq!(
        page.input("email").as_deref(),
        Some("ann@example.com"),
        "login_hint prefills the email"
    );
    let h = |name: &str| {
        page.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(!h("content-security-policy").contains("unsafe-inline"));
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("cache-control"), "no-store");
    assert!(page.body.contains("autocomplete=\"username\""));
    let health = http().get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    let ready = http().get(server.url("/readyz")).send().unwrap();
    assert_eq!(ready.status(), 200);
}

on_both_backends!(pages_carry_security_headers);
