//! The hosted pages (askama templates in `templates/`): server-rendered, no JavaScript, HTML
//! escaped by the template engine. Their words come from the message catalogues (`t`, see
//! `crate::i18n`). Inserted raw: the QR code SVG, which we generate, and sentences with an
//! emphasised value, which `Tr::strong1` escapes.

use askama::Template;

use crate::config::Brand;
use crate::i18n::Tr;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub client_name: Option<&'a str>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa_enroll.html")]
pub struct EnrollPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub email: &'a str,
    pub qr_svg: &'a str,
    pub activation_code: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa_verify.html")]
pub struct VerifyPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

/// After a help-desk disconnect with `relink_requires_email`: the new app is linked only from
/// the sign-in the mailed link opens.
#[derive(Template)]
#[template(path = "mfa_relink.html")]
pub struct RelinkPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedInPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    /// "Signed in as <strong>name</strong> (email).", as HTML (`Tr::strong`).
    pub signed_in_as: &'a str,
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirmPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub client_id: &'a str,
    pub post_logout_redirect_uri: &'a str,
    pub state: &'a str,
    /// The app's `ui_locales`, carried to the signed-out page.
    pub ui_locales: &'a str,
}

#[derive(Template)]
#[template(path = "set_password.html")]
pub struct SetPasswordPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub title: &'a str,
    pub intro: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub email: &'a str,
    pub ask_current: bool,
    pub min_length: usize,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    /// The page's language (its words come from the catalogues through it).
    pub t: Tr,
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}
