//! Pages of the account lifecycle: complete registration (invitation link), forgot password,
//! reset password (email link), and change password (signed in). Every form carries a CSRF token;
//! link pages derive it from the link's token, the forgot page from a random cookie.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::crypto::ct_eq;
use idp_core::email_tokens::Purpose;
use idp_core::flows::FlowStage;
use idp_core::lifecycle::{LifecycleError, ResetRequest};
use idp_core::mfa::MfaStep;
use idp_core::users::{AuthError, UserError};
use idp_core::{Actor, User};

use super::pages::{html, ForgotPage, MessagePage, SetPasswordPage};
use super::params::Params;
use super::signin::{
    csrf_for, csrf_ok, current_user, form_expired, parse_form, signed_in_page, start_flow_response,
};
use super::{blocking, AppError, AppState};
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
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Result<HttpResponse, AppError> {
    html(
        status,
        &MessagePage {
            product: &state.config.product_name,
            title,
            message: text,
            link,
        },
    )
}

fn link_invalid(state: &AppState) -> Result<HttpResponse, AppError> {
    message(
        state,
        StatusCode::BAD_REQUEST,
        "This link cannot be used",
        "The link is invalid, has expired or has already been used. Ask for a new one.",
        Some(("/forgot", "Get a new link")),
    )
}

struct LinkPage {
    purpose: Purpose,
    action: &'static str,
    title: &'static str,
    intro: &'static str,
}

const REGISTER: LinkPage = LinkPage {
    purpose: Purpose::Invite,
    action: "/register",
    title: "Complete your registration",
    intro: "Confirm your authentication email by choosing your permanent password.",
};
const RESET: LinkPage = LinkPage {
    purpose: Purpose::Reset,
    action: "/reset",
    title: "Set a new password",
    intro: "Choose a new password for your account.",
};

/// The CSRF token of a link form: bound to the browser (a cookie secret) *and* the link's token,
/// so a page elsewhere cannot post a form of ours from a victim's browser, not even with an
/// invitation of its own (which would sign the victim's browser into the attacker's account).
fn link_csrf(browser_secret: &str, token: &str) -> String {
    csrf_for(&format!("{browser_secret}\0{token}"))
}

#[allow(clippy::too_many_arguments)]
fn render_link_form(
    state: &AppState,
    page: &LinkPage,
    browser_secret: &str,
    token: &str,
    user: &User,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    html(
        status,
        &SetPasswordPage {
            product: &state.config.product_name,
            title: page.title,
            intro: page.intro,
            action: page.action,
            csrf: &link_csrf(browser_secret, token),
            token,
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
    let params = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let Some(token) = params.get("token").map(str::to_string) else {
        return link_invalid(state);
    };
    let idp = state.idp.clone();
    let (t, purpose) = (token.clone(), page.purpose);
    let secret = browser_secret(req, state)?;
    let mut res = match blocking(move || idp.user_for_email_token(&t, purpose)).await? {
        Ok(user) => render_link_form(state, page, &secret, &token, &user, None, StatusCode::OK),
        Err(LifecycleError::User(UserError::Store(e))) => Err(e.into()),
        Err(_) => link_invalid(state),
    }?;
    res.add_cookie(&state.cookie(csrf_cookie_name(state), secret, Some(3600)))
        .map_err(|e| AppError::internal(&e))?;
    Ok(res)
}

/// The browser's form secret (the CSRF cookie) when it has one.
fn browser_secret_of(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(csrf_cookie_name(state))
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32)
}

/// The browser's form secret, or a new one (set as a cookie by the page that uses it).
fn browser_secret(req: &HttpRequest, state: &AppState) -> Result<String, AppError> {
    match browser_secret_of(req, state) {
        Some(s) => Ok(s),
        None => idp_core::crypto::random_token().map_err(|e| AppError::internal(&e)),
    }
}

async fn submit_link_form(
    req: &HttpRequest,
    state: &AppState,
    page: &LinkPage,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    let params = parse_form(state, body)?;
    let Some(token) = params.get("token").map(str::to_string) else {
        return link_invalid(state);
    };
    let Some(secret) = browser_secret_of(req, state).filter(|s| {
        ct_eq(
            link_csrf(s, &token).as_bytes(),
            params.get("csrf").unwrap_or("").as_bytes(),
        )
    }) else {
        return Err(form_expired(state, "Open the link from your email again."));
    };
    let new = params.get("new_password").unwrap_or("").to_string();
    let confirm = params.get("confirm_password").unwrap_or("");
    let idp = state.idp.clone();
    let (t, purpose) = (token.clone(), page.purpose);
    let user = match blocking(move || idp.user_for_email_token(&t, purpose)).await? {
        Ok(u) => u,
        Err(LifecycleError::User(UserError::Store(e))) => return Err(e.into()),
        Err(_) => return link_invalid(state),
    };
    if new != confirm {
        return render_link_form(
            state,
            page,
            &secret,
            &token,
            &user,
            Some("The two passwords do not match."),
            StatusCode::BAD_REQUEST,
        );
    }
    let idp = state.idp.clone();
    let ip = state.client_ip(req);
    let t = token.clone();
    // Completing a registration signs this browser in: whatever session it had ends first.
    let browser_session = req
        .cookie(state.session_cookie_name())
        .map(|c| c.value().to_string());
    let result = blocking(move || {
        idp.set_password_by_link(&t, purpose, &new, ip.as_deref(), browser_session.as_deref())
    })
    .await?;
    let (user, ended) = match result {
        Ok(v) => v,
        Err(LifecycleError::User(UserError::Password(reason))) => {
            return render_link_form(
                state,
                page,
                &secret,
                &token,
                &user,
                Some(&reason.to_string()),
                StatusCode::BAD_REQUEST,
            );
        }
        Err(LifecycleError::User(UserError::Store(e))) => return Err(e.into()),
        Err(_) => return link_invalid(state),
    };
    if !ended.is_empty() {
        state.deliver_logouts();
    }
    match page.purpose {
        Purpose::Invite => sign_in_after_registration(req, state, &user).await,
        Purpose::Reset => {
            send_in_background(&state.mailer, user.email.clone(), |m, to| {
                m.send(&to, Mail::PasswordChanged)
            });
            message(
                state,
                StatusCode::OK,
                "Your password was changed",
                "You can now sign in with your new password. If your organisation requires a code from your authenticator app, you will still be asked for it.",
                Some(("/login", "Sign in")),
            )
        }
    }
}

/// After registration: straight in, or on to the authenticator app when the account requires it.
async fn sign_in_after_registration(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
) -> Result<HttpResponse, AppError> {
    let idp = state.idp.clone();
    let u = user.clone();
    let ip = state.client_ip(req);
    let step = {
        let idp = idp.clone();
        let u = u.clone();
        blocking(move || idp.mfa_step(&u)).await??
    };
    if step == MfaStep::None {
        let (_, secret) =
            blocking(move || idp.start_session(&u, &["pwd"], ip.as_deref(), None)).await??;
        return Ok(HttpResponse::SeeOther()
            .cookie(state.cookie(state.session_cookie_name(), secret, None))
            .insert_header((header::LOCATION, "/"))
            .finish());
    }
    let stage = if step == MfaStep::Enroll {
        FlowStage::MfaEnroll
    } else {
        FlowStage::MfaVerify
    };
    let ip = state.client_ip(req);
    let created = blocking(move || -> Result<String, idp_core::flows::FlowError> {
        let h = idp.create_flow("null", ip.as_deref())?;
        idp.advance_flow(&h, &u.id, stage)?;
        Ok(h)
    })
    .await?;
    Ok(start_flow_response(
        state,
        super::signin::flow_created(state, created)?,
    ))
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

fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-idp_csrf"
    } else {
        "idp_csrf"
    }
}

async fn forgot_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let secret = browser_secret(&req, &state)?;
    let mut res = html(
        StatusCode::OK,
        &ForgotPage {
            product: &state.config.product_name,
            csrf: &csrf_for(&secret),
            email: "",
            error: None,
        },
    )?;
    res.add_cookie(&state.cookie(csrf_cookie_name(&state), secret, Some(3600)))
        .map_err(|e| AppError::internal(&e))?;
    Ok(res)
}

async fn forgot_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let secret = req
        .cookie(csrf_cookie_name(&state))
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if secret.is_empty() || !csrf_ok(&secret, params.get("csrf")) {
        return Err(form_expired(&state, "Please open the page again."));
    }
    let email = params
        .get("email")
        .unwrap_or("")
        .trim()
        .chars()
        .take(254)
        .collect::<String>();
    if email.is_empty() {
        return html(
            StatusCode::BAD_REQUEST,
            &ForgotPage {
                product: &state.config.product_name,
                csrf: &csrf_for(&secret),
                email: "",
                error: Some("Enter your email address."),
            },
        );
    }
    // Everything that depends on the address (the lookup, the link, the mail) happens after the
    // answer, in the background: the page answers alike and at once for known and unknown
    // addresses, so neither its content nor its timing tells whether one has an account.
    let idp = state.idp.clone();
    let ip = state.client_ip(&req);
    let mailer = state.mailer.clone();
    actix_web::rt::task::spawn_blocking(move || {
        match idp.request_password_reset(&email, ip.as_deref()) {
            Ok(ResetRequest::Send {
                user,
                purpose,
                token,
            }) => {
                if let Err(e) = mailer.send_link(&user, purpose, &token) {
                    tracing::error!(error = %e, user_id = %user.id, "password reset mail not sent; the link stays valid for a retry");
                }
            }
            Ok(ResetRequest::Nothing) => {}
            Err(e) => tracing::error!(error = %e, "forgot-password request failed"),
        }
    });
    message(
        &state,
        StatusCode::OK,
        "Check your email",
        "If that address has an account, we sent it a link to set a new password. The link is valid for 1 hour.",
        Some(("/login", "Back to sign-in")),
    )
}

/// Why a password change was refused.
enum ChangeRefused {
    Wrong,
    Locked(i64),
    Policy(String),
}

fn render_change(
    state: &AppState,
    secret: &str,
    user: &User,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    html(
        status,
        &SetPasswordPage {
            product: &state.config.product_name,
            title: "Change password",
            intro: "Enter your current password, then choose a new one. Your authenticator app stays linked.",
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
        Some((user, secret, _)) => render_change(&state, &secret, &user, None, StatusCode::OK),
        None => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish()),
    }
}

async fn change_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let Some((user, secret, sid)) = current_user(&req, &state).await? else {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish());
    };
    if !csrf_ok(&secret, params.get("csrf")) {
        return Err(form_expired(&state, "Please open the page again."));
    }
    let current = params.get("current_password").unwrap_or("").to_string();
    let new = params.get("new_password").unwrap_or("").to_string();
    if params.get("confirm_password").unwrap_or("") != new {
        return render_change(
            &state,
            &secret,
            &user,
            Some("The two new passwords do not match."),
            StatusCode::BAD_REQUEST,
        );
    }
    let idp = state.idp.clone();
    let u = user.clone();
    let ip = state.client_ip(&req);
    let result = blocking(
        move || -> Result<Result<Vec<idp_core::sessions::EndedSession>, ChangeRefused>, AppError> {
            match idp.verify_current_password(&u, &current, ip.as_deref()) {
                Ok(()) => {}
                Err(AuthError::Locked(l)) => return Ok(Err(ChangeRefused::Locked(l.until))),
                Err(AuthError::Store(e)) => return Err(e.into()),
                Err(_) => return Ok(Err(ChangeRefused::Wrong)),
            }
            let me = Actor::User(u.id.clone());
            match idp.set_password(&u.id, &new, &me, ip.as_deref(), Some(&sid)) {
                Ok((_, ended)) => Ok(Ok(ended)),
                Err(UserError::Password(reason)) => {
                    Ok(Err(ChangeRefused::Policy(reason.to_string())))
                }
                Err(e) => Err(e.into()),
            }
        },
    )
    .await??;
    match result {
        Ok(ended) => {
            if !ended.is_empty() {
                state.deliver_logouts();
            }
            send_in_background(&state.mailer, user.email.clone(), |m, to| {
                m.send(&to, Mail::PasswordChanged)
            });
            match signed_in_page(
                &req,
                &state,
                Some("Your password was changed. Your other sessions were signed out."),
            )
            .await?
            {
                Some(page) => Ok(page),
                None => Ok(HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish()),
            }
        }
        Err(ChangeRefused::Locked(until)) => {
            let minutes = ((until - state.idp.now()) as f64 / 60.0).ceil().max(1.0) as i64;
            render_change(
                &state,
                &secret,
                &user,
                Some(&format!(
                    "Too many wrong passwords. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                )),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
        Err(ChangeRefused::Wrong) => render_change(
            &state,
            &secret,
            &user,
            Some("The current password is not correct."),
            StatusCode::BAD_REQUEST,
        ),
        Err(ChangeRefused::Policy(reason)) => render_change(
            &state,
            &secret,
            &user,
            Some(&reason),
            StatusCode::BAD_REQUEST,
        ),
    }
}
