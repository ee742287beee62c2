//! The browser and system a `User-Agent` header names, in words from a fixed list ("Firefox on
//! Linux"): for the mail that tells of a linked app and for the sessions listed on `/account`.
//! Never the header's own text: whoever signs in writes it, and both places show it to the user
//! as a fact about who was there.

use crate::i18n::{msg, Tr};

/// The browser and system `user_agent` names, in `t`'s words; `None` when it names no browser
/// we know.
pub fn browser_of(t: &Tr, user_agent: &str) -> Option<String> {
    let found = woothee::parser::Parser::new().parse(user_agent)?;
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match (known(found.name), known(found.os)) {
        (true, true) => Some(
            t.show(
                &msg("browser-on-system")
                    .with("browser", found.name)
                    .with("system", found.os),
            ),
        ),
        (true, false) => Some(found.name.to_string()),
        _ => None,
    }
}
