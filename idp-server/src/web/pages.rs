//! The hosted pages (askama templates in `templates/`): server-rendered, no JavaScript, HTML
//! escaped by the template engine. Only the QR code SVG, which we generate, is inserted raw.

use askama::Template;

use crate::config::Brand;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
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
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub product: &'a Brand,
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedInPage<'a> {
    pub product: &'a Brand,
    pub name: &'a str,
    pub email: &'a str,
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirmPage<'a> {
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub client_id: &'a str,
    pub post_logout_redirect_uri: &'a str,
    pub state: &'a str,
}

#[derive(Template)]
#[template(path = "set_password.html")]
pub struct SetPasswordPage<'a> {
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
    pub product: &'a Brand,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}
