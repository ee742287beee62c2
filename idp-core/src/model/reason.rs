//! Why a person acted for someone else: the console requires it of every change, and every way
//! of disconnecting an authenticator requires it (a ticket number, a sentence).

/// A reason as given: trimmed, 1 to 500 characters, no control or invisible formatting
/// characters (it is shown back in the console and in audit exports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

/// Why a reason was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    /// Nothing was given.
    #[error("a reason is required (a ticket number, or a sentence)")]
    Missing,
    /// Over 500 characters.
    #[error("the reason is longer than 500 characters")]
    TooLong,
    /// A control character or one that would disguise the text.
    #[error("the reason contains a control or formatting character")]
    BadCharacter,
}

impl Reason {
    /// The reason in `text`, checked.
    pub fn parse(text: &str) -> Result<Reason, ReasonError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ReasonError::Missing);
        }
        if text.chars().count() > 500 {
            return Err(ReasonError::TooLong);
        }
        if text
            .chars()
            .any(|c| c.is_control() || super::is_invisible_formatting(c) || super::disguises(c))
        {
            return Err(ReasonError::BadCharacter);
        }
        Ok(Reason(text.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_text_and_nothing_else() {
        assert_eq!(
            Reason::parse("  T-1234 lost phone ").unwrap().as_str(),
            "T-1234 lost phone"
        );
        assert_eq!(Reason::parse(" \t "), Err(ReasonError::Missing));
        assert_eq!(Reason::parse(&"x".repeat(501)), Err(ReasonError::TooLong));
        assert!(Reason::parse(&"é".repeat(500)).is_ok());
        for bad in ["a\nb", "a\u{1b}[31m", "a\u{202e}b"] {
            assert_eq!(
                Reason::parse(bad),
                Err(ReasonError::BadCharacter),
                "{bad:?}"
            );
        }
    }
}
