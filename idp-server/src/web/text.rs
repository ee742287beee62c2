//! The words people read on the hosted pages, in one place: page titles and messages, and what
//! each refusal of the domain says. (The domain's errors describe what happened for logs and
//! operators; this module says it to the person in front of the page.)

use idp_core::signin::SignInError;
use idp_core::PasswordRejection;

pub const FORM_EXPIRED_TITLE: &str = "This form has expired";
pub const FORM_STALE: &str =
    "The form could not be verified (it may be stale or sent from another site). Please start again.";
pub const OPEN_AGAIN: &str = "Please open the page again.";
pub const OPEN_LINK_AGAIN: &str = "Open the link from your email again.";
pub const SIGN_IN_EXPIRED_TITLE: &str = "Your sign-in has expired";
pub const SIGN_IN_EXPIRED: &str = "For your security, sign-in pages expire after a few minutes or when a form is sent twice. Please start again.";
pub const ENTER_EMAIL_AND_PASSWORD: &str = "Enter your email and password.";
pub const INVALID_CREDENTIALS: &str = "The email or password is not correct.";
pub const USER_DISABLED: &str = "This user is disabled. Contact your administrator.";
pub const USER_DISABLED_TITLE: &str = "This user is disabled";
pub const TOO_MANY_SIGN_INS_TITLE: &str = "Too many sign-ins";
pub const WRONG_CURRENT_PASSWORD: &str = "The current password is not correct.";
pub const PASSWORDS_DIFFER: &str = "The two passwords do not match.";
pub const NEW_PASSWORDS_DIFFER: &str = "The two new passwords do not match.";
pub const PASSWORD_CHANGED_TITLE: &str = "Your password was changed";
pub const PASSWORD_RESET_DONE: &str = "You can now sign in with your new password. If your organisation requires a code from your authenticator app, you will still be asked for it.";
pub const SIGN_IN: &str = "Sign in";
pub const CODE_NOT_CORRECT: &str = "That code is not correct. Use the newest code your app shows.";
pub const PASSWORD_CHANGED_NOTICE: &str =
    "Your password was changed. Your other sessions were signed out.";

/// "Try again in N minutes" for a lock that lasts until `until`.
pub fn retry_after(what: &str, until: i64, now: i64) -> String {
    let minutes = ((until - now) as f64 / 60.0).ceil().max(1.0) as i64;
    format!(
        "{what} Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// A refused password, in words a person can act on.
pub fn password_rejection(r: &PasswordRejection) -> String {
    match r {
        PasswordRejection::TooShort { min } => {
            format!("The password must be at least {min} characters long.")
        }
        PasswordRejection::TooLong { max } => {
            format!("The password must be at most {max} characters long.")
        }
        PasswordRejection::Common => {
            "This password is among the most common passwords and easy to guess. Choose another one.".into()
        }
        PasswordRejection::ContainsEmail => {
            "The password must not contain your email address or its name part.".into()
        }
        PasswordRejection::ControlCharacters => {
            "The password must not contain control characters.".into()
        }
    }
}

/// What the code page says when a code is refused.
pub fn code_refusal(e: &SignInError, now: i64) -> String {
    match e {
        SignInError::InvalidFormat => "Enter the 6-digit code from your authenticator app.".into(),
        SignInError::InvalidCode => CODE_NOT_CORRECT.into(),
        SignInError::CodeReplayed => {
            "That code has already been used. Wait for the next code in your app.".into()
        }
        SignInError::Locked(l) => retry_after("Too many wrong codes.", l.until, now),
        SignInError::Disabled => USER_DISABLED.into(),
        _ => CODE_NOT_CORRECT.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_password_refusal_reads_as_a_sentence_a_person_can_act_on() {
        for r in [
            PasswordRejection::TooShort { min: 12 },
            PasswordRejection::TooLong { max: 128 },
            PasswordRejection::Common,
            PasswordRejection::ContainsEmail,
            PasswordRejection::ControlCharacters,
        ] {
            let text = password_rejection(&r);
            assert!(
                (text.starts_with("The password") || text.starts_with("This password"))
                    && text.ends_with('.'),
                "{text}"
            );
        }
        assert!(password_rejection(&PasswordRejection::TooShort { min: 12 }).contains("12"));
    }

    #[test]
    fn locks_say_how_long() {
        assert_eq!(
            retry_after("Locked.", 1030, 1000),
            "Locked. Try again in 1 minute."
        );
        assert_eq!(
            retry_after("Locked.", 1121, 1000),
            "Locked. Try again in 3 minutes."
        );
    }
}
