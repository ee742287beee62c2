//! The enrollment page as an authenticator app meets it: the QR code is decoded from the rendered
//! image (rsvg-convert + zbarimg, as a phone camera would), the otpauth URI is parsed, and codes
//! come from an independent implementation (oathtool). Plus the idle timeout end to end on an MFA
//! account: after it, the password and a code are asked again.

use std::process::Command;

use crate::harness::*;
use crate::on_both_backends;
use crate::rp::seed;

fn password_step(server: &TestServer, browser: &Browser) -> Page {
    let page = submit_password(
        server,
        browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        PASSWORD,
    );
    browser.follow(&server.base, page)
}

/// What a phone camera reads from the QR code on the page.
fn scan_qr(page: &Page, dir: &std::path::Path) -> String {
    let start = page.body.find("<svg").expect("QR svg");
    let end = page.body[start..].find("</svg>").unwrap() + start + "</svg>".len();
    let svg = dir.join("qr.svg");
    let png = dir.join("qr.png");
    std::fs::write(&svg, &page.body[start..end]).unwrap();
    let status = Command::new("rsvg-convert")
        .args(["-w", "400", "-b", "white", "-o"])
        .arg(&png)
        .arg(&svg)
        .status()
        .expect("rsvg-convert must be installed (apt-get install librsvg2-bin)");
    assert!(status.success());
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&png)
        .output()
        .expect("zbarimg must be installed (apt-get install zbar-tools)");
    assert!(
        out.status.success(),
        "zbarimg could not read the QR code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

fn the_qr_code_is_what_an_authenticator_app_needs(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    let page = password_step(&server, &browser);
    let uri = scan_qr(&page, server.dir.path());
    let parsed = url::Url::parse(&uri).unwrap();
    assert_eq!(parsed.scheme(), "otpauth");
    assert_eq!(parsed.host_str(), Some("totp"));
    assert_eq!(
        percent_decode(parsed.path().trim_start_matches('/')),
        "Petrosoft Cloud:ann@example.com"
    );
    let q = |k: &str| {
        parsed
            .query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("issuer").as_deref(), Some("Petrosoft Cloud"));
    assert_eq!(q("algorithm").as_deref(), Some("SHA1"));
    assert_eq!(q("digits").as_deref(), Some("6"));
    assert_eq!(q("period").as_deref(), Some("30"));
    let secret = q("secret").unwrap();
    assert_eq!(secret.len(), 32, "160-bit secret in base32");
    let shown: String = page
        .by_id("activation-code")
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        shown, secret,
        "the activation code under the QR is the same secret"
    );
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
    wait_for_fresh_step(5);
    let code = oathtool(&secret, 0);
    let res = browser.post(
        &server.url("/login/totp"),
        &[
            ("csrf", &page.csrf()),
            ("code", &format!("{} {}", &code[..3], &code[3..])),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(res
        .location
        .unwrap()
        .starts_with("http://127.0.0.1:8081/callback?code="));
}

fn after_the_idle_timeout_an_mfa_user_gives_password_and_code_again(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            idle_timeout: "3s",
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    let page = password_step(&server, &browser);
    let secret = page.by_id("activation-code").unwrap();
    wait_for_fresh_step(8);
    let res = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &page.csrf()), ("code", &oathtool(&secret, 0))],
    );
    assert_eq!(res.status, 303);
    // Within the window the session is reused without any question.
    let again = browser.get(&server.demo_authorize_url());
    assert!(again.location_param("code").is_some());
    std::thread::sleep(std::time::Duration::from_secs(4));
    let page = password_step(&server, &browser);
    assert!(
        page.body.contains("autocomplete=\"one-time-code\""),
        "a code is asked again"
    );
    assert!(
        !page.body.contains("<svg"),
        "but no new QR: the app stays linked"
    );
    let res = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &page.csrf()), ("code", &oathtool(&secret, 30))],
    );
    assert_eq!(res.status, 303, "{}", res.body);
}

on_both_backends!(
    the_qr_code_is_what_an_authenticator_app_needs,
    after_the_idle_timeout_an_mfa_user_gives_password_and_code_again
);
