//! How TOTP codes are presented and checked (the settings of the `mfa` module).

#[derive(Debug, Clone)]
/// How TOTP is presented and checked.
pub struct TotpSettings {
    /// Shown in the app next to the account (e.g. the product name). No `:` allowed.
    pub issuer: String,
    /// Steps of clock drift tolerated either side of now.
    pub drift_steps: u8,
    /// After a help-desk disconnect, the enrollment page is shown only to a sign-in that arrives
    /// through a single-use link mailed to the authentication email (`[mfa]
    /// relink_requires_email`): whoever knows the password but not the mailbox cannot link
    /// their own phone.
    pub relink_requires_email: bool,
}

impl Default for TotpSettings {
    fn default() -> Self {
        TotpSettings {
            issuer: "Identity Provider".into(),
            drift_steps: 1,
            relink_requires_email: false,
        }
    }
}
