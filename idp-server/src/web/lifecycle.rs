//! Pages of the account lifecycle: complete registration (invitation link), forgot password,
//! reset password (email link), and change password (signed in). Every form carries a CSRF token;
//! link pages derive it from the link's token, the forgot page from a random cookie.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::email_tokens::Purpose;
use idp_core::flows::FlowStage;
use idp_core::lifecycle::{LifecycleError, ResetRequest};
use idp_core::mfa::MfaStep;
use idp_core::users::UserError;
use idp_core::{Actor, User};

use super::pages::{html, ForgotPage, MessagePage, SetPasswordPage};
use super::params::Params;
use super::signin::{
    csrf_for, csrf_ok, current_user, form_expired, parse_form, signed_in_page, start_flow_response,
};
use super::{blocking, AppError, AppState};
use crate::mail::Mail;

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

fn render_link_form(
    state: &AppState,
    page: &LinkPage,
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
            csrf: &csrf_for(token),
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
    match blocking(move || idp.user_for_email_token(&t, purpose)).await? {
        Ok(user) => render_link_form(state, page, &token, &user, None, StatusCode::OK),
        Err(LifecycleError::User(UserError::Store(e))) => Err(e.into()),
        Err(_) => link_invalid(state),
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
    if !csrf_ok(&token, params.get("csrf")) {
        return Err(form_expired(state, "Open the link from your email again."));
    }
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
            &token,
            &user,
            Some("The two passwords do not match."),
            StatusCode::BAD_REQUEST,
        );
    }
    let idp = state.idp.clone();
    let ip = state.client_ip(req);
    let t = token.clone();
    let result =
        blocking(move || idp.set_password_by_link(&t, purpose, &new, ip.as_deref())).await?;
    let (user, ended) = match result {
        Ok(v) => v,
        Err(LifecycleError::User(UserError::Password(reason))) => {
            return render_link_form(
                state,
                page,
                &token,
                &user,
                Some(&reason.to_string()),
                StatusCode::BAD_REQUEST,
            );
        }
        Err(LifecycleError::User(UserError::Store(e))) => return Err(e.into()),
        Err(_) => return link_invalid(state),
    };
    super::logout::notify_backchannel(state, ended);
    match page.purpose {
        Purpose::Invite => sign_in_after_registration(req, state, &user).await,
        Purpose::Reset => {
            send_in_background(state, user.email.clone(), |m, to| {
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
    let handle = blocking(move || -> Result<String, idp_core::flows::FlowError> {
        let h = idp.create_flow("null")?;
        idp.advance_flow(&h, &u.id, stage)?;
        Ok(h)
    })
    .await??;
    Ok(start_flow_response(state, handle))
}

fn send_in_background<F>(state: &AppState, to: String, f: F)
where
    F: FnOnce(&crate::mail::Mailer, String) -> Result<(), crate::mail::MailError> + Send + 'static,
{
    let mailer = state.mailer.clone();
    actix_web::rt::task::spawn_blocking(move || {
        if let Err(e) = f(&mailer, to) {
            tracing::error!(error = %e, "mail not sent");
        }
    });
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
    let secret = match req.cookie(csrf_cookie_name(&state)) {
        Some(c) if c.value().len() >= 32 => c.value().to_string(),
        _ => idp_core::crypto::random_token().map_err(|e| AppError::internal(&e))?,
    };
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
    let idp = state.idp.clone();
    let ip = state.client_ip(&req);
    let mailer = state.mailer.clone();
    // The request and the send run in the background of this response's timing as far as the
    // caller can tell: the page answers the same for known and unknown addresses.
    let outcome = blocking(move || -> Result<(), LifecycleError> {
        if let ResetRequest::Send { user, purpose, token } = idp.request_password_reset(&email, ip.as_deref())? {
            if let Err(e) = mailer.send_link(&user, purpose, &token) {
                // Not shown on the page (that would reveal the address has an account).
                tracing::error!(error = %e, user_id = %user.id, "password reset mail not sent; the link stays valid for a retry");
            }
        }
        Ok(())
    })
    .await?;
    match outcome {
        Ok(()) | Err(LifecycleError::Token(_)) | Err(LifecycleError::Disabled) => {}
        Err(LifecycleError::User(UserError::Store(e))) => return Err(e.into()),
        Err(LifecycleError::User(e)) => return Err(AppError::internal(&e)),
    }
    message(
        &state,
        StatusCode::OK,
        "Check your email",
        "If that address has an account, we sent it a link to set a new password. The link is valid for 1 hour.",
        Some(("/login", "Back to sign-in")),
    )
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
        move || -> Result<Result<Vec<idp_core::sessions::EndedSession>, String>, AppError> {
            if !idp.check_password(&u, &current) {
                return Ok(Err("The current password is not correct.".into()));
            }
            match idp.set_password(&u.id, &new, &Actor::User(u.id.clone()), ip.as_deref()) {
                Ok(_) => Ok(Ok(idp.end_user_sessions(
                    &u,
                    &Actor::User(u.id.clone()),
                    Some(&sid),
                )?)),
                Err(UserError::Password(reason)) => Ok(Err(reason.to_string())),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await??;
    match result {
        Ok(ended) => {
            super::logout::notify_backchannel(&state, ended);
            send_in_background(&state, user.email.clone(), |m, to| {
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
        Err(reason) => render_change(
            &state,
            &secret,
            &user,
            Some(&reason),
            StatusCode::BAD_REQUEST,
        ),
    }
}
