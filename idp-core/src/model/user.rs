//! Users: the people who sign in, and the rules for their authentication email.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
/// Where a user stands.
pub enum UserStatus {
    /// Created by an operator; has not completed registration (no password yet).
    Invited,
    /// Registered; may sign in.
    Active,
    /// May not sign in; no session survives disabling.
    Disabled,
}

impl UserStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "invited" => Some(UserStatus::Invited),
            "active" => Some(UserStatus::Active),
            "disabled" => Some(UserStatus::Disabled),
            _ => None,
        }
    }
}

/// A person who signs in. `email` is the *authentication* email (the login), stored trimmed and
/// lowercased; `work_email` is the contact address and plays no part in signing in.
#[derive(Clone, Serialize)]
pub struct User {
    /// Random id: the `sub` apps see.
    pub id: String,
    /// The account (company) the user belongs to.
    pub account_id: String,
    /// The authentication email (the login), normalised.
    pub email: String,
    /// The work or contact address; never used to sign in.
    pub work_email: Option<String>,
    /// The name apps show.
    pub display_name: String,
    /// Invited, active or disabled.
    pub status: UserStatus,
    /// The user proved control of the authentication email.
    pub email_verified: bool,
    #[serde(skip)]
    pub(crate) password_hash: Option<String>,
    /// When the password was last set.
    pub password_changed_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// What they may do for others in the console (most hold none).
    pub roles: super::Roles,
    /// The language they chose for their mails (`None`: the provider's default).
    pub locale: Option<String>,
    /// When they last completed a sign-in.
    pub last_sign_in_at: Option<i64>,
    /// After a help-desk disconnect with `relink_requires_email`: the next enrollment only through
    /// a link mailed to the authentication email.
    pub relink_by_email: bool,
}

/// Written out by hand so that a `{:?}` (a log line, a failed test) never shows the password hash.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("work_email", &self.work_email)
            .field("display_name", &self.display_name)
            .field("status", &self.status)
            .field("email_verified", &self.email_verified)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("password_changed_at", &self.password_changed_at)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("roles", &self.roles)
            .field("locale", &self.locale)
            .field("last_sign_in_at", &self.last_sign_in_at)
            .field("relink_by_email", &self.relink_by_email)
            .finish()
    }
}

impl User {
    /// Whether a password is set (an invited user has none).
    pub fn has_password(&self) -> bool {
        self.password_hash.is_some()
    }
}

/// What a link sent by email is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm the authentication email and set the first password. Valid 7 days.
    Invite,
    /// Set a new password. Valid 1 hour.
    Reset,
    /// Link a new authenticator app after a help-desk disconnect (`relink_requires_email`).
    /// Valid 24 hours.
    Relink,
}

impl Purpose {
    /// As stored: `invite` or `reset`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
            Purpose::Relink => "relink",
        }
    }
    /// How long a link of this purpose stays valid.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Purpose::Invite => 7 * 24 * 60 * 60,
            Purpose::Reset => 60 * 60,
            Purpose::Relink => 24 * 60 * 60,
        }
    }
}

/// Why a string is not a plausible authentication email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// The email address is empty.
    #[error("the email address is empty")]
    Empty,
    /// The email address is longer than 254 bytes.
    #[error("the email address is longer than 254 bytes")]
    TooLong,
    /// The email address contains characters that are not allowed.
    #[error("the email address contains characters that are not allowed")]
    ForbiddenCharacters,
    /// The email address has no @.
    #[error("the email address has no @")]
    NoAt,
    /// The email address's local part is not valid.
    #[error("the email address's local part is not valid")]
    BadLocalPart,
    /// The email address's domain is not valid.
    #[error("the email address's domain is not valid")]
    BadDomain,
    /// Case folding turns the address into another one (`ß` into `ss`, a ligature into its
    /// letters): it cannot be told apart from that one, which may be someone else's mailbox.
    #[error("the email address would be mistaken for another: case folding turns some of its letters (such as ß) into others; use another address")]
    FoldsIntoAnother,
}

/// Normalises an authentication email: trimmed, Unicode NFC, case-folded (Unicode default case
/// folding, so `Straße` and `STRASSE` are one address), NFC again. Two spellings of one address
/// therefore give one string, and the unique index makes them one user. Refuses what is not a
/// plausible address (one `@`, a dotted domain, no spaces, control characters or `:`; at most
/// 254 bytes).
pub fn normalise_email(input: &str) -> Result<String, EmailError> {
    use unicode_normalization::UnicodeNormalization;
    let nfc: String = input.trim().nfc().collect();
    let email: String = caseless::default_case_fold_str(&nfc).nfc().collect();
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    if email.len() > 254 {
        return Err(EmailError::TooLong);
    }
    if email.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, ':' | '<' | '>' | '"' | ',' | ';' | '\\')
    }) {
        return Err(EmailError::ForbiddenCharacters);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(EmailError::NoAt);
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err(EmailError::BadLocalPart);
    }
    if !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(EmailError::BadDomain);
    }
    Ok(email)
}

/// An address to store and mail to (a user's authentication or work email): [`normalise_email`],
/// refused when that folded form is not the address as given in lower case. Folding is what
/// makes two spellings one user; an address it turns into another (`anna@straße.example` into
/// `anna@strasse.example`, another domain) would be stored, and mailed, as that other one.
pub fn new_address(input: &str) -> Result<String, EmailError> {
    use unicode_normalization::UnicodeNormalization;
    let folded = normalise_email(input)?;
    let lower: String = input
        .trim()
        .nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect();
    if folded != lower {
        return Err(EmailError::FoldsIntoAnother);
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalise_email("  Ann.Lee@Example.COM ").unwrap(),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn emails_compare_equal_after_nfc_and_case_folding() {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301), in either case.
        let composed = "Jos\u{e9}@Example.com";
        let decomposed = "JOSE\u{301}@example.COM";
        assert_eq!(
            normalise_email(composed).unwrap(),
            normalise_email(decomposed).unwrap()
        );
        assert_eq!(normalise_email(composed).unwrap(), "jos\u{e9}@example.com");
        // Full case folding: the sharp s folds to "ss", the Kelvin sign to "k".
        assert_eq!(
            normalise_email("Stra\u{df}e@x.example").unwrap(),
            normalise_email("STRASSE@X.EXAMPLE").unwrap()
        );
        assert_eq!(
            normalise_email("\u{212a}im@x.example").unwrap(),
            "kim@x.example"
        );
    }

    /// An address given to be stored (and mailed) must be the one its folded form names: folding
    /// `anna@straße.example` gives `anna@strasse.example`, another domain, where the invitation
    /// went (found by review). Lower case is fine (every mail system treats case alike); such
    /// addresses are refused with the reason, while sign-in still folds what people type.
    #[test]
    fn a_stored_address_is_one_that_folding_does_not_turn_into_another() {
        assert_eq!(
            new_address("  Ann.Lee@Example.COM ").unwrap(),
            "ann.lee@example.com"
        );
        assert_eq!(
            new_address("JOSE\u{301}@example.com").unwrap(),
            "jos\u{e9}@example.com"
        );
        assert_eq!(
            new_address("\u{212a}im@x.example").unwrap(),
            "kim@x.example"
        );
        for folded_away in [
            "anna@stra\u{df}e.example",
            "stra\u{df}e@x.example",
            "STRA\u{1e9e}E@x.example",
            "\u{fb01}nance@x.example",
        ] {
            assert!(
                matches!(new_address(folded_away), Err(EmailError::FoldsIntoAnother)),
                "{folded_away:?}"
            );
        }
        assert!(matches!(new_address("no-at"), Err(EmailError::NoAt)));
    }

    #[test]
    fn debug_output_never_shows_the_password_hash() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
        let user = User {
            id: "u1".into(),
            account_id: "a1".into(),
            email: "ann@example.com".into(),
            work_email: None,
            display_name: "Ann".into(),
            status: UserStatus::Active,
            email_verified: true,
            password_hash: Some(hash.into()),
            password_changed_at: None,
            created_at: 0,
            updated_at: 0,
            roles: crate::model::Roles::NONE,
            locale: None,
            last_sign_in_at: None,
            relink_by_email: false,
        };
        let shown = format!("{user:?}");
        assert!(
            !shown.contains("argon2") && !shown.contains("aGFzaGhhc2hoYXNo"),
            "{shown}"
        );
        assert!(
            shown.contains("ann@example.com") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "a b@example.com",
            "ann@example",
            "a@b@c.com",
            "ann@example..com",
            "ann:x@example.com",
            "ann@example.com\r\nBcc: x@y.z",
            "a\0@b.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
    }
}
