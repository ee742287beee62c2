//! Any bytes as a /token form body: parsing never panics; accepted parameters are unique,
//! NUL-free and bounded.
#![no_main]
use idp_server::web::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Params::parse(data) {
        for key in ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id", "client_secret", "scope"] {
            if let Some(v) = p.get(key) {
                assert!(!v.contains('\0') && v.len() <= 4096);
            }
        }
    }
});
