//! The hosted pages (askama templates in `templates/`): server-rendered, no JavaScript, HTML
//! escaped by the template engine. Their words come from the message catalogues (`t`, see
//! `crate::i18n`). Inserted raw: the QR code SVG, which we generate, and sentences with an
//! emphasised value, which `Tr::strong1` escapes.

use askama::Template;

use crate::config::Brand;
use crate::i18n::Tr;

/// What every hosted page has (`base.html` reads it): its language, whose words come from the
/// catalogues through it, and the brand it wears.
pub struct Frame<'a> {
    pub t: Tr,
    pub product: &'a Brand,
}

impl<'a> Frame<'a> {
    pub fn new(t: Tr, product: &'a Brand) -> Self {
        Frame { t, product }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub f: Frame<'a>,
    pub client_name: Option<&'a str>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa_enroll.html")]
pub struct EnrollPage<'a> {
    pub f: Frame<'a>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub qr_svg: &'a str,
    pub activation_code: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa_verify.html")]
pub struct VerifyPage<'a> {
    pub f: Frame<'a>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

/// After a help-desk disconnect with `relink_requires_email`: the new app is linked only from
/// the sign-in the mailed link opens.
#[derive(Template)]
#[template(path = "mfa_relink.html")]
pub struct RelinkPage<'a> {
    pub f: Frame<'a>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub f: Frame<'a>,
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

/// A time on a page: in words of the page's language, and as `<time datetime>` wants it.
pub struct When {
    pub iso: String,
    pub words: String,
}

/// A live session as `/account` lists it.
pub struct SessionRow {
    pub sid: String,
    /// Browser and system in our own words (never the User-Agent's text).
    pub browser: String,
    pub address: String,
    pub started: When,
    pub last_active: When,
    /// The apps signed in through it, by name.
    pub apps: Vec<String>,
    /// The browser asking.
    pub current: bool,
}

/// The user's linked authenticator app, as `/account` shows it.
pub struct AppView {
    pub linked_since: Option<When>,
    pub last_used: Option<When>,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub f: Frame<'a>,
    /// "Signed in as <strong>name</strong> (email).", as HTML (`Tr::html`).
    pub signed_in_as: &'a str,
    pub account_name: &'a str,
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
    pub sessions: &'a [SessionRow],
    pub authenticator: Option<AppView>,
    /// Tag, name in itself, chosen.
    pub languages: &'a [(&'a str, &'a str, bool)],
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirmPage<'a> {
    pub f: Frame<'a>,
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
    pub f: Frame<'a>,
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
    pub f: Frame<'a>,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}
