//! Any text as the TOML configuration: parsing and validation never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let _ = idp_server::config::Config::parse("fuzz.toml", data);
});
