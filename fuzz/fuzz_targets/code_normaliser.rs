//! Any text as a typed TOTP code: an accepted code is always exactly 6 ASCII digits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Ok(code) = idp_core::mfa::normalise_code(data) {
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
});
