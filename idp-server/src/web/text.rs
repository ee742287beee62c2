//! What each refusal of the domain says to the person in front of the page, as a message of the
//! catalogues (`crate::i18n`; the words themselves live in `locales/`). The domain's errors
//! describe what happened for logs and operators; this module picks what a person is told.

use idp_core::signin::SignInError;
use idp_core::PasswordRejection;

use super::params::ParamError;
use crate::i18n::{msg, Msg};

/// A form that could not be read (a field repeated, or not text).
pub fn form_refusal(e: &ParamError) -> Msg {
    match e {
        ParamError::Duplicate(name) => msg("invalid-form-repeated").with("name", *name),
        ParamError::Invalid(name) => msg("invalid-form-invalid").with("name", *name),
    }
}

/// An authorization request that could not be read.
pub fn request_refusal(e: &ParamError) -> Msg {
    match e {
        ParamError::Duplicate(name) => msg("request-repeated").with("name", *name),
        ParamError::Invalid(name) => msg("request-invalid").with("name", *name),
    }
}

/// Whole minutes until `until` (at least 1): "try again in N minutes".
pub fn minutes_until(until: i64, now: i64) -> i64 {
    ((until - now) as f64 / 60.0).ceil().max(1.0) as i64
}

/// A refused password, in words a person can act on.
pub fn password_rejection(r: &PasswordRejection) -> Msg {
    match r {
        PasswordRejection::TooShort { min } => msg("password-too-short").with("min", *min),
        PasswordRejection::TooLong { max } => msg("password-too-long").with("max", *max),
        PasswordRejection::Common => msg("password-common"),
        PasswordRejection::ContainsEmail => msg("password-contains-email"),
        PasswordRejection::ControlCharacters => msg("password-control-characters"),
    }
}

/// What the code page says when a code is refused.
pub fn code_refusal(e: &SignInError, now: i64) -> Msg {
    match e {
        SignInError::InvalidFormat => msg("code-invalid-format"),
        SignInError::CodeReplayed => msg("code-replayed"),
        SignInError::Locked(l) => {
            msg("too-many-wrong-codes").with("minutes", minutes_until(l.until, now))
        }
        SignInError::Disabled => msg("user-disabled"),
        _ => msg("code-not-correct"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, Tr};

    #[test]
    fn every_password_refusal_reads_as_a_sentence_a_person_can_act_on() {
        for r in [
            PasswordRejection::TooShort { min: 12 },
            PasswordRejection::TooLong { max: 128 },
            PasswordRejection::Common,
            PasswordRejection::ContainsEmail,
            PasswordRejection::ControlCharacters,
        ] {
            let m = password_rejection(&r);
            let en = Tr::new(Lang::En).show(&m);
            let es = Tr::new(Lang::Es).show(&m);
            assert!(
                (en.starts_with("The password") || en.starts_with("This password"))
                    && en.ends_with('.'),
                "{en}"
            );
            assert!(
                (es.starts_with("La contraseña") || es.starts_with("Esta contraseña"))
                    && es.ends_with('.'),
                "{es}"
            );
        }
        let short = password_rejection(&PasswordRejection::TooShort { min: 12 });
        assert!(Tr::new(Lang::Es).show(&short).contains("12"));
    }

    #[test]
    fn locks_say_how_long() {
        assert_eq!(minutes_until(1030, 1000), 1);
        assert_eq!(minutes_until(1121, 1000), 3);
        assert_eq!(minutes_until(900, 1000), 1);
        let locked = SignInError::Locked(idp_core::model::Locked { until: 1121 });
        assert_eq!(
            Tr::new(Lang::En).show(&code_refusal(&locked, 1000)),
            "Too many wrong codes. Try again in 3 minutes."
        );
    }
}
