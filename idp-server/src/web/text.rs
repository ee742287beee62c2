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

pub const TOO_MANY_FAILED_ATTEMPTS: &str = "Too many failed attempts.";
pub const TOO_MANY_WRONG_PASSWORDS: &str = "Too many wrong passwords.";
pub const TOO_MANY_SIGN_INS: &str = "Too many sign-ins were started from your network.";
pub const LINK_INVALID_TITLE: &str = "This link cannot be used";
pub const LINK_INVALID: &str =
    "The link is invalid, has expired or has already been used. Ask for a new one.";
pub const GET_A_NEW_LINK: &str = "Get a new link";
pub const REGISTER_TITLE: &str = "Complete your registration";
pub const REGISTER_INTRO: &str =
    "Confirm your authentication email by choosing your permanent password.";
pub const RESET_TITLE: &str = "Set a new password";
pub const RESET_INTRO: &str = "Choose a new password for your account.";
pub const CHANGE_TITLE: &str = "Change password";
pub const CHANGE_INTRO: &str =
    "Enter your current password, then choose a new one. Your authenticator app stays linked.";
pub const ENTER_EMAIL: &str = "Enter your email address.";
pub const CHECK_YOUR_EMAIL_TITLE: &str = "Check your email";
pub const BACK_TO_SIGN_IN: &str = "Back to sign-in";
pub const SIGN_IN_LINK_INVALID_TITLE: &str = "This sign-in link is not valid";
pub const NO_CLIENT_ID: &str = "The request does not name an application (client_id is missing).";
pub const UNKNOWN_CLIENT: &str = "The application is not registered with this sign-in service.";
pub const NO_REDIRECT_URI: &str = "The request has no redirect_uri.";
pub const UNKNOWN_REDIRECT_URI: &str = "The redirect_uri is not registered for this application.";
pub const SIGNED_OUT_TITLE: &str = "You are signed out";
pub const SIGNED_OUT: &str =
    "You have been logged out of every app you used with this sign-in. You can close this window.";
pub const SIGN_IN_AGAIN: &str = "Sign in again";
pub const NOT_FOUND_TITLE: &str = "Page not found";
pub const NOT_FOUND: &str = "There is nothing at this address.";
pub const INVALID_FORM_TITLE: &str = "Invalid form";
pub const UNAVAILABLE_TITLE: &str = "Temporarily unavailable";
pub const UNAVAILABLE: &str =
    "The sign-in service cannot reach its database right now. Please try again in a moment.";
pub const INTERNAL_TITLE: &str = "Something went wrong";
pub const INTERNAL: &str = "An unexpected error occurred. Please try again.";

/// The answer to a forgot-password request (the same for every address), with the reset
/// link's real lifetime.
pub fn reset_link_sent() -> String {
    format!(
        "If that address has an account, we sent it a link to set a new password. The link is valid for {}.",
        crate::mail::lifetime(idp_core::email_tokens::Purpose::Reset.ttl_secs())
    )
}

/// An authorization request that could not be parsed at all.
pub fn request_malformed(e: &impl std::fmt::Display) -> String {
    format!("The request is malformed: {e}.")
}

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
