//! Passwords on the hosted pages: registration from an invitation (`registration`), forgot and
//! reset (`reset`), and a signed-in user's change (`change`). The later sign-in and the form
//! they share are here.

mod change;
mod registration;
mod reset;

use crate::harness::*;
use crate::rp::{sign_in_with_password, SecondFactor};

pub(super) const NEW_PASSWORD: &str = "a brand new passphrase, mine";
/// A later sign-in of ann, whose app is linked: password, then the code page (never the QR code
/// or the activation code again: `SecondFactor::Code` checks), then back at the app.
pub(super) fn later_sign_in(server: &TestServer, password: &str, activation: &str) {
    let signed = sign_in_with_password(
        server,
        &Browser::new(),
        &server.demo_authorize_url(),
        "ann@example.com",
        password,
        SecondFactor::Code,
        Some(activation),
    );
    assert!(signed
        .callback
        .location
        .unwrap()
        .starts_with("http://127.0.0.1:8081/callback?code="));
}

pub(super) fn set_password(
    browser: &Browser,
    link: &str,
    action: &str,
    new: &str,
    confirm: &str,
) -> Page {
    let form = browser.get(link);
    assert_eq!(form.status, 200, "{}", form.body);
    let token = form.input("token").expect("token in the form");
    browser.post(
        action,
        &[
            ("csrf", &form.csrf()),
            ("token", &token),
            ("new_password", new),
            ("confirm_password", confirm),
        ],
    )
}
