//! Accounts: the customer companies. Each carries the MFA policy that applies to all its users.

use serde::Serialize;

/// Whether the users of an account must present a TOTP code after their password.
/// There is no per-user switch: the account's policy decides for all of its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    /// No second factor.
    Off,
    /// Every user of the account needs a TOTP code after the password.
    Required,
}

impl MfaPolicy {
    /// As stored and shown: `off` or `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Off => "off",
            MfaPolicy::Required => "required",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(MfaPolicy::Off),
            "required" => Some(MfaPolicy::Required),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
/// A customer company, whose users sign in under one MFA policy.
pub struct Account {
    /// Random id.
    pub id: String,
    /// Unique, chosen by the operator (`acme`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// MFA for every user of the account, or for none.
    pub mfa_policy: MfaPolicy,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The outcome of an idempotent change: whether anything changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The change was made now.
    Changed,
    /// Nothing to do: it was so already.
    Already,
}

impl Change {
    /// `Changed` when something changed.
    pub fn of(changed: bool) -> Self {
        if changed {
            Change::Changed
        } else {
            Change::Already
        }
    }
}

/// An account slug: 2-63 lowercase letters, digits and dashes, not starting or ending with one.
pub fn validate_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// A display name (of an account or a user): trimmed, at most 200 characters, no control
/// characters.
pub fn validate_display_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.chars().count() > 200 {
        return Err("at most 200 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("control characters are not allowed");
    }
    if name.chars().any(is_invisible_formatting) {
        return Err("bidirectional controls, line separators and invisible spaces are not allowed");
    }
    Ok(name.to_string())
}

/// Characters that change how the text around them reads without showing themselves: Unicode's
/// Bidi_Control set (embeddings, overrides, isolates and the directional marks: a name with
/// U+202E reads backwards in a help desk's list, Trojan Source style), the line and paragraph
/// separators, and the invisible spaces (zero width space, word joiner, the byte order mark,
/// the Hangul filler) that make two names look the same. The zero-width joiner and non-joiner
/// stay allowed: Persian and Indic names need them.
pub fn is_invisible_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{200b}'
            | '\u{2060}'
            | '\u{feff}'
            | '\u{3164}'
    )
}

/// A character a shown name must not hold: a control character or [`is_invisible_formatting`].
pub fn disguises(c: char) -> bool {
    c.is_control() || is_invisible_formatting(c)
}

/// `text` with every character that [`disguises`] written as a Rust escape (`\u{1b}`), for text
/// quoted from input into what an operator reads on a terminal or in a log: a crafted value
/// cannot then send escape sequences (retitle or clear the terminal, hide what follows) or start
/// a line of its own that reads like the tool's.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(disguises) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if disguises(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_what_would_disguise_the_text_around_them() {
        assert_eq!(
            validate_display_name("  Jos\u{e9} Lee ").unwrap(),
            "Jos\u{e9} Lee"
        );
        for bad in [
            "Ann\u{202e}eeL",
            "a\u{2066}b",
            "one\u{2028}two",
            "tab\there",
            "Ann\u{200f}",
            "\u{061c}Lee",
            "An\u{200b}n",
            "\u{feff}Ann",
            "An\u{2060}n",
            "\u{3164}",
        ] {
            assert!(validate_display_name(bad).is_err(), "{bad:?}");
        }
        // The zero-width non-joiner and joiner belong to Persian and Indic names.
        for good in ["Mehr\u{200c}dad", "\u{0915}\u{094d}\u{200d}\u{0937}"] {
            assert!(validate_display_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn printable_text_escapes_what_disguises_and_keeps_the_rest() {
        assert_eq!(
            printable("\u{1b}[2Jline 9: done\r\n\u{202e}\u{9b}"),
            r"\u{1b}[2Jline 9: done\u{d}\u{a}\u{202e}\u{9b}"
        );
        let plain = "Jos\u{e9} \\ \"Lee\" \u{200d}";
        assert!(matches!(printable(plain), std::borrow::Cow::Borrowed(p) if p == plain));
    }
}
