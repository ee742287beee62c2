//! Branding through the real server: an app's logo and accent stylesheet are served under their
//! digest with a year's cache, an SVG cannot run script when opened directly, the app's sign-in
//! page links both while the provider's own pages keep the provider's brand, and the pages'
//! policy still allows no inline style.

use crate::harness::*;
use crate::independent_clients::DEMO_LOGO;
use crate::rp::{authorize_url, http, seed};

fn branded() -> TestServer {
    TestServer::start_with(
        Db::Sqlite,
        Options {
            extra_toml: "\n[ui]\nlogo = \"branding/provider.svg\"\n".into(),
            files: vec![(
                "branding/provider.svg",
                DEMO_LOGO.replace("Demo App", "Provider").into_bytes(),
            )],
            ..Options::default()
        },
    )
}

/// The attribute `attr` of the tag that contains `marker`.
fn attr_after(body: &str, marker: &str, attr: &str) -> Option<String> {
    let at = body.find(marker)?;
    let tag_start = body[..at].rfind('<')?;
    let tag = &body[tag_start..tag_start + body[tag_start..].find('>')?];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

#[test]
fn logos_and_accent_stylesheets_are_served_under_their_digest() {
    let server = branded();
    let browser = Browser::new();
    let page = browser.follow(&server.base, browser.get(&authorize_url(&server, "")));
    assert_eq!(page.status, 200);
    let logo = attr_after(&page.body, "class=\"logo\"", "src").expect("the logo on the page");
    assert!(
        logo.starts_with("/branding/") && logo.ends_with(".svg"),
        "{logo}"
    );
    let res = http().get(server.url(&logo)).send().unwrap();
    assert_eq!(res.status(), 200);
    let h = |k: &str| {
        res.headers()
            .get(k)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(h("content-type").as_deref(), Some("image/svg+xml"));
    assert_eq!(
        h("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let csp = h("content-security-policy").unwrap();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
    assert!(res.text().unwrap().contains(">Provider</text>"));
    // Any other name under /branding/ is nothing.
    for path in [
        "/branding/0123456789abcdef01234567.svg",
        "/branding/..%2Fidp.toml",
    ] {
        assert_eq!(
            http().get(server.url(path)).send().unwrap().status(),
            404,
            "{path}"
        );
    }
    // No theme without an accent colour, and still no inline style anywhere.
    assert!(attr_after(&page.body, "rel=\"stylesheet\" href=\"/branding/", "href").is_none());
    assert!(!page.body.contains("style="));
}

#[test]
fn an_apps_brand_is_on_its_sign_in_page_and_the_providers_elsewhere() {
    let server = TestServer::start_with(
        Db::Sqlite,
        Options {
            extra_toml: concat!(
                "\n[[clients]]\nclient_id = \"cso\"\nname = \"CStoreOffice\"\n",
                "redirect_uris = [\"http://127.0.0.1:8089/callback\"]\npublic = true\n",
                "ui = { product_name = \"CStoreOffice\", accent_color = \"#8a2b0e\" }\n",
                "\n[ui]\naccent_color = \"#1f5fbf\"\n",
            )
            .into(),
            ..Options::default()
        },
    );
    let theme_of = |body: &str| attr_after(body, "rel=\"stylesheet\" href=\"/branding/", "href");
    let browser = Browser::new();
    let url = format!(
        "{}?client_id=cso&redirect_uri=http%3A%2F%2F127.0.0.1%3A8089%2Fcallback&response_type=code&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        server.url("/authorize")
    );
    seed(&server, "acme", "ann@example.com", true);
    let page = browser.follow(&server.base, browser.get(&url));
    assert!(
        page.body.contains("to continue to CStoreOffice"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<title>Sign in · CStoreOffice</title>"),
        "{}",
        page.body
    );
    let app_theme = theme_of(&page.body).expect("the app's stylesheet");
    let css = http().get(server.url(&app_theme)).send().unwrap();
    assert_eq!(
        css.headers().get("content-type").unwrap(),
        "text/css; charset=utf-8"
    );
    assert!(css.text().unwrap().contains("--accent: #8a2b0e;"));
    // The next step of the same sign-in (MFA is required: the enrollment page) keeps the brand.
    let enroll = browser.follow(
        &server.base,
        post_password(&server, &browser, &page, "ann@example.com", PASSWORD),
    );
    assert!(enroll.body.contains("activation-code"), "{}", enroll.body);
    assert_eq!(theme_of(&enroll.body).as_deref(), Some(app_theme.as_str()));
    assert!(enroll.body.contains("· CStoreOffice</title>"));
    // The provider's own pages (no app known) carry the provider's brand.
    let forgot = browser.get(&server.url("/forgot"));
    let own = theme_of(&forgot.body).expect("the provider's stylesheet");
    assert_ne!(own, app_theme);
    let css = http().get(server.url(&own)).send().unwrap().text().unwrap();
    assert!(css.contains("--accent: #1f5fbf;"));
    assert!(!forgot.body.contains("CStoreOffice"));
}
