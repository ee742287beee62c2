//! Any bytes as an /authorize query: validation never panics, and never accepts an unregistered
//! redirect URI.
#![no_main]
use std::sync::LazyLock;

use idp_server::config::Config;
use idp_server::web::authorize::{validate_request, Refusal};
use libfuzzer_sys::fuzz_target;

static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    Config::parse(
        "fuzz.toml",
        r#"
issuer = "http://127.0.0.1:8080"
[[clients]]
client_id = "app"
name = "App"
redirect_uris = ["http://127.0.0.1:9000/cb"]
public = true
"#,
    )
    .expect("fuzz config")
});

fuzz_target!(|data: &[u8]| {
    match validate_request(&CONFIG, data) {
        Ok(v) => assert_eq!(v.pending.redirect_uri, "http://127.0.0.1:9000/cb"),
        Err(Refusal::Redirect { redirect_uri, .. }) => assert_eq!(redirect_uri, "http://127.0.0.1:9000/cb"),
        Err(Refusal::Page(_)) => {}
    }
});
