//! Pages of the account lifecycle: complete registration (invitation link), forgot password,
//! reset password (email link), and change password (signed in). Every form carries a CSRF
//! token: link pages bind it to the browser's form cookie and the link's token, the forgot page
//! to the form cookie, the change page to the session.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::crypto::ct_eq;
use idp_core::email_tokens::Purpose;
use idp_core::lifecycle::{
    AfterRegistration, ChangeRefusal, LifecycleError, LinkStep, PasswordChange, PasswordRefusal,
    ResetRequest,
};
use idp_core::users::UserError;
use idp_core::User;

use super::browser::{cookie, known_browser_cookie, start_sign_in, CookieName, RequestBrowser};
use super::csrf::{csrf_for, csrf_ok, link_csrf};
use super::error::AppError;
use super::forms::{form_expired, parse_form, retry_after, see_other};
use super::pages::{ForgotPage, Frame, MessagePage, SetPasswordPage};
use super::params::Params;
use super::render::html;
use super::signed_in::{current_user, Notice, ACCOUNT_PATH};
use super::state::{blocking, AppState};
use super::{locale, text};
use crate::i18n::{msg, Msg, Tr};
use crate::mail::{send_in_background, Mail};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/register", web::get().to(register_page))
        .route("/register", web::post().to(register_submit))
        .route("/forgot", web::get().to(forgot_page))
        .route("/forgot", web::post().to(forgot_submit))
        .route("/reset", web::get().to(reset_page))
        .route("/reset", web::post().to(reset_submit))
        .route("/password/change", web::get().to(change_page))
        .route("/password/change", web::post().to(change_submit));
}

fn message(
    state: &AppState,
    t: Tr,
    status: StatusCode,
    title: &Msg,
    text: &Msg,
    link: Option<(&str, &Msg)>,
) -> Result<HttpResponse, AppError> {
    let link = link.map(|(href, m)| (href, t.show(m)));
    html(
        status,
        &MessagePage {
            f: Frame::new(t, &state.config.brand),
            title: &t.show(title),
            message: &t.show(text),
            link: link.as_ref().map(|(href, words)| (*href, words.as_str())),
        },
    )
}

fn link_invalid(state: &AppState, t: Tr) -> Result<HttpResponse, AppError> {
    message(
        state,
        t,
        StatusCode::BAD_REQUEST,
        &msg("link-invalid-title"),
        &msg("link-invalid"),
        Some(("/forgot", &msg("get-a-new-link"))),
    )
}

/// The browser's form secret (the form cookie) when it has one.
fn form_secret_of(req: &HttpRequest, state: &AppState) -> Option<String> {
    CookieName::Form.value(state, req).filter(|v| v.len() >= 32)
}

/// The browser's form secret, or a new one (set as a cookie by the page that uses it).
fn form_secret(req: &HttpRequest, state: &AppState) -> Result<String, AppError> {
    match form_secret_of(req, state) {
        Some(s) => Ok(s),
        None => idp_core::crypto::random_token().map_err(|e| AppError::internal(&e)),
    }
}

/// `res` with the form cookie set.
fn with_form_cookie(
    state: &AppState,
    mut res: HttpResponse,
    secret: String,
) -> Result<HttpResponse, AppError> {
    res.add_cookie(&cookie(state, CookieName::Form, secret, Some(3600)))
        .map_err(|e| AppError::internal(&e))?;
    Ok(res)
}

struct LinkPage {
    purpose: Purpose,
    action: &'static str,
    /// The page's title and introduction, in `t`'s words.
    words: fn(Tr) -> (String, String),
}

const REGISTER: LinkPage = LinkPage {
    purpose: Purpose::Invite,
    action: "/register",
    words: |t| (t.tr("register-title"), t.tr("register-intro")),
};
const RESET: LinkPage = LinkPage {
    purpose: Purpose::Reset,
    action: "/reset",
    words: |t| (t.tr("reset-title"), t.tr("reset-intro")),
};

/// A link form: which page, for which browser and link.
struct LinkForm<'a> {
    page: &'a LinkPage,
    form_secret: &'a str,
    token: &'a str,
}

fn render_link_form(
    state: &AppState,
    t: Tr,
    form: &LinkForm<'_>,
    user: &User,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (title, intro) = (form.page.words)(t);
    html(
        status,
        &SetPasswordPage {
            f: Frame::new(t, &state.config.brand),
            title: &title,
            intro: &intro,
            action: form.page.action,
            csrf: &link_csrf(form.form_secret, form.token),
            token: form.token,
            email: &user.email,
            ask_current: false,
            min_length: state.idp.password_policy().min_length(),
            error,
        },
    )
}

async fn show_link_form(
    req: &HttpRequest,
    state: &AppState,
    page: &LinkPage,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(req);
    let params = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let Some(token) = params.get("token").map(str::to_string) else {
        return link_invalid(state, t);
    };
    let idp = state.idp.clone();
    let (tok, purpose) = (token.clone(), page.purpose);
    let secret = form_secret(req, state)?;
    let form = LinkForm {
        page,
        form_secret: &secret,
        token: &token,
    };
    let res = match blocking(move || idp.user_for_email_token(&tok, purpose)).await? {
        Ok(user) => render_link_form(state, t, &form, &user, None, StatusCode::OK),
        Err(LifecycleError::User(UserError::Store(e))) => Err(e.into()),
        Err(_) => link_invalid(state, t),
    }?;
    with_form_cookie(state, res, secret)
}

async fn submit_link_form(
    req: &HttpRequest,
    state: &AppState,
    page: &LinkPage,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    let t = locale::of(req);
    let params = parse_form(state, body)?;
    let Some(token) = params.get("token").map(str::to_string) else {
        return link_invalid(state, t);
    };
    let presented = params.get("csrf").unwrap_or("").as_bytes();
    let Some(secret) =
        form_secret_of(req, state).filter(|s| ct_eq(link_csrf(s, &token).as_bytes(), presented))
    else {
        return Err(form_expired(state, msg("open-link-again")));
    };
    let form = LinkForm {
        page,
        form_secret: &secret,
        token: &token,
    };
    let new = params.get("new_password").unwrap_or("").to_string();
    let confirm = params.get("confirm_password").unwrap_or("").to_string();
    let idp = state.idp.clone();
    let (tok, purpose) = (token.clone(), page.purpose);
    // Completing a registration signs this browser in: whatever session it had ends first.
    let browser = RequestBrowser::of(state, req);
    let b = browser.clone();
    let step = blocking(move || idp.submit_link(&tok, purpose, &new, &confirm, b.get())).await?;
    match step {
        Ok(LinkStep::Refused { user, refusal }) => {
            let refused = t.show(&match refusal {
                PasswordRefusal::Differ => msg("passwords-differ"),
                PasswordRefusal::Policy(reason) => text::password_rejection(&reason),
            });
            render_link_form(
                state,
                t,
                &form,
                &user,
                Some(&refused),
                StatusCode::BAD_REQUEST,
            )
        }
        Ok(LinkStep::Registered { ended, next }) => {
            if !ended.is_empty() {
                state.deliver_logouts();
            }
            Ok(match next {
                AfterRegistration::SignedIn {
                    secret,
                    known_browser,
                    ..
                } => HttpResponse::SeeOther()
                    .cookie(cookie(state, CookieName::Session, secret, None))
                    .cookie(known_browser_cookie(state, known_browser))
                    .insert_header((actix_web::http::header::LOCATION, "/"))
                    .finish(),
                AfterRegistration::SecondFactor(handle) => start_sign_in(state, handle),
            })
        }
        Ok(LinkStep::Reset {
            user,
            ended,
            known_browser,
        }) => {
            if !ended.is_empty() {
                state.deliver_logouts();
            }
            let lang = state
                .mailer
                .lang_for(user.locale.as_deref(), Some(t.lang()));
            send_in_background(&state.mailer, user.email.clone(), move |m, to| {
                m.send(&to, lang, Mail::PasswordChanged)
            });
            let mut res = message(
                state,
                t,
                StatusCode::OK,
                &msg("password-changed-title"),
                &msg("password-reset-done"),
                Some(("/login", &msg("sign-in-link"))),
            )?;
            res.add_cookie(&known_browser_cookie(state, known_browser))
                .map_err(|e| {
                    tracing::error!(error = %e, "known-browser cookie not set");
                    AppError::Internal
                })?;
            Ok(res)
        }
        Err(LifecycleError::User(UserError::Store(e))) => Err(e.into()),
        Err(_) => link_invalid(state, t),
    }
}

async fn register_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    show_link_form(&req, &state, &REGISTER).await
}
async fn register_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    submit_link_form(&req, &state, &REGISTER, &body).await
}
async fn reset_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    show_link_form(&req, &state, &RESET).await
}
async fn reset_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    submit_link_form(&req, &state, &RESET, &body).await
}

fn forgot_form(
    state: &AppState,
    t: Tr,
    secret: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    html(
        status,
        &ForgotPage {
            f: Frame::new(t, &state.config.brand),
            csrf: &csrf_for(secret),
            email: "",
            error,
        },
    )
}

async fn forgot_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let secret = form_secret(&req, &state)?;
    let res = forgot_form(&state, locale::of(&req), &secret, None, StatusCode::OK)?;
    with_form_cookie(&state, res, secret)
}

async fn forgot_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(&req);
    let params = parse_form(&state, &body)?;
    let secret = form_secret_of(&req, &state).unwrap_or_default();
    if secret.is_empty() || !csrf_ok(&secret, params.get("csrf")) {
        return Err(form_expired(&state, msg("open-again")));
    }
    let email: String = params
        .get("email")
        .unwrap_or("")
        .trim()
        .chars()
        .take(254)
        .collect();
    if email.is_empty() {
        let refused = t.tr("enter-email");
        return forgot_form(&state, t, &secret, Some(&refused), StatusCode::BAD_REQUEST);
    }
    // Everything that depends on the address (the lookup, the link, the mail) happens after the
    // answer, in the background: the page answers alike and at once for known and unknown
    // addresses, so neither its content nor its timing tells whether one has an account.
    let idp = state.idp.clone();
    let ip = super::browser::client_ip(&state, &req);
    let known = CookieName::KnownBrowser.value(&state, &req);
    let mailer = state.mailer.clone();
    let page_lang = t.lang();
    actix_web::rt::task::spawn_blocking(move || {
        match idp.request_password_reset(&email, ip.as_deref(), known.as_deref()) {
            Ok(ResetRequest::Send {
                user,
                purpose,
                token,
            }) => {
                let lang = mailer.lang_for(user.locale.as_deref(), Some(page_lang));
                if let Err(e) = mailer.send_link(&user, purpose, &token, lang) {
                    tracing::error!(error = %e, user_id = %user.id, "password reset mail not sent; the link stays valid for a retry");
                }
            }
            Ok(ResetRequest::Nothing) => {}
            Err(e) => tracing::error!(error = %e, "forgot-password request failed"),
        }
    });
    let valid_for = t.lifetime(Purpose::Reset.ttl_secs());
    message(
        &state,
        t,
        StatusCode::OK,
        &msg("check-your-email-title"),
        &msg("reset-link-sent").with("lifetime", valid_for),
        Some(("/login", &msg("back-to-sign-in"))),
    )
}

fn render_change(
    state: &AppState,
    t: Tr,
    secret: &str,
    user: &User,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    html(
        status,
        &SetPasswordPage {
            f: Frame::new(t, &state.config.brand),
            title: &t.tr("change-title"),
            intro: &t.tr("change-intro"),
            action: "/password/change",
            csrf: &csrf_for(secret),
            token: "",
            email: &user.email,
            ask_current: true,
            min_length: state.idp.password_policy().min_length(),
            error,
        },
    )
}

async fn change_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    match current_user(&req, &state).await? {
        Some((user, secret, _)) => render_change(
            &state,
            locale::of_user(&req, &state, user.locale.as_deref()),
            &secret,
            &user,
            None,
            StatusCode::OK,
        ),
        None => Ok(see_other("/login")),
    }
}

async fn change_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(&req);
    let params = parse_form(&state, &body)?;
    let Some(secret) = CookieName::Session.value(&state, &req) else {
        return Ok(see_other("/login"));
    };
    if !csrf_ok(&secret, params.get("csrf")) {
        return Err(form_expired(&state, msg("open-again")));
    }
    let current = params.get("current_password").unwrap_or("").to_string();
    let new = params.get("new_password").unwrap_or("").to_string();
    let confirm = params.get("confirm_password").unwrap_or("").to_string();
    let idp = state.idp.clone();
    let (s, ip) = (secret.clone(), super::browser::client_ip(&state, &req));
    let known = CookieName::KnownBrowser.value(&state, &req);
    let changed = blocking(move || {
        let (ip, known) = (ip.as_deref(), known.as_deref());
        idp.change_own_password(&s, &current, &new, &confirm, ip, known)
    })
    .await?;
    let (user, refusal) = match changed {
        Ok(PasswordChange::NotSignedIn) => return Ok(see_other("/login")),
        Ok(PasswordChange::Changed {
            user,
            ended,
            session_secret,
            known_browser,
        }) => {
            if !ended.is_empty() {
                state.deliver_logouts();
            }
            let lang = state
                .mailer
                .lang_for(user.locale.as_deref(), Some(t.lang()));
            send_in_background(&state.mailer, user.email.clone(), move |m, to| {
                m.send(&to, lang, Mail::PasswordChanged)
            });
            // Post/redirect/get: reloading the page that says so resends no password. The
            // session goes on under its new secret.
            return Ok(HttpResponse::SeeOther()
                .cookie(cookie(&state, CookieName::Session, session_secret, None))
                .cookie(known_browser_cookie(&state, known_browser))
                .cookie(Notice::PasswordChanged.cookie(&state))
                .insert_header((header::LOCATION, ACCOUNT_PATH))
                .finish());
        }
        Ok(PasswordChange::Refused { user, refusal }) => (user, refusal),
        Err(UserError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(AppError::internal(&e)),
    };
    let until = match &refusal {
        ChangeRefusal::Locked(l) => Some(l.until),
        _ => None,
    };
    let (refused, status) = match refusal {
        ChangeRefusal::Differ => (msg("new-passwords-differ"), StatusCode::BAD_REQUEST),
        ChangeRefusal::Locked(l) => (
            msg("too-many-wrong-passwords")
                .with("minutes", text::minutes_until(l.until, state.idp.now())),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        ChangeRefusal::WrongPassword => (msg("wrong-current-password"), StatusCode::BAD_REQUEST),
        ChangeRefusal::Rejected(r) => (text::password_rejection(&r), StatusCode::BAD_REQUEST),
    };
    let t = locale::of_user(&req, &state, user.locale.as_deref());
    let res = render_change(&state, t, &secret, &user, Some(&t.show(&refused)), status)?;
    Ok(retry_after(res, until, state.idp.now()))
}
