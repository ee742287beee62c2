//! The hosted sign-in pages: email + password, then (when the account requires MFA) TOTP
//! enrollment or a code. A half-finished sign-in lives server-side in a login flow; the browser
//! holds only its random handle in an HttpOnly cookie, and each form carries a CSRF token
//! derived from that handle. Each handler parses the form, calls one sign-in use case of the
//! core, and renders what it answers.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::mfa::RelinkError;
use idp_core::signin::{CodeStep, PasswordStep, SignInError, SignInPage, SignInStart, SignedIn};

use super::browser::{flow_cookie, CookieName, RequestBrowser};
use super::csrf::{csrf_for, csrf_ok};
use super::error::AppError;
use super::forms::{
    form_expired, locked_until, parse_form, refusal, retry_after, see_other, sign_in_expired,
};
use super::pages::{EnrollPage, Frame, LoginPage, RelinkPage, VerifyPage};
use super::render::html;
use super::signed_in::{signed_in_response, ACCOUNT_PATH};
use super::state::{blocking, AppState};
use super::{locale, text};
use crate::i18n::{msg, Tr};
use crate::mail::{send_in_background, Mail};

/// GET /login: renders whichever step the flow is at. Without a flow, starts one for a direct
/// sign-in (no app), or sends a browser that is signed in already to its page (`/account`).
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(&req);
    let flow = CookieName::Flow.value(&state, &req);
    let browser = RequestBrowser::of(&state, &req);
    let idp = state.idp.clone();
    let f = flow.clone();
    let start = blocking(move || idp.open_sign_in(f.as_deref(), browser.get())).await?;
    match start.map_err(|e| refusal(&state, e))? {
        SignInStart::Flow(page) => {
            let handle = flow.unwrap_or_default();
            render_page(&state, t, &handle, *page, None, StatusCode::OK, "")
        }
        SignInStart::SignedIn(_) => Ok(see_other(ACCOUNT_PATH)),
        SignInStart::Started(handle) => {
            // The page at once, not a redirect to itself: a browser that keeps no cookies
            // would be sent round that redirect for ever (its form then says the sign-in
            // expired).
            let mut res = render_page(
                &state,
                t,
                &handle,
                SignInPage::Password(None),
                None,
                StatusCode::OK,
                "",
            )?;
            res.add_cookie(&flow_cookie(&state, handle)).map_err(|e| {
                tracing::error!(error = %e, "flow cookie not set");
                AppError::Internal
            })?;
            Ok(res)
        }
    }
}

fn render_page(
    state: &AppState,
    t: Tr,
    handle: &str,
    page: SignInPage,
    error: Option<&str>,
    status: StatusCode,
    email: &str,
) -> Result<HttpResponse, AppError> {
    let csrf = csrf_for(handle);
    // The app the sign-in is for, if one asked and is still configured: its name, and the brand
    // of every step's page.
    let client_id = match &page {
        SignInPage::Password(pending) => pending.as_ref().map(|p| p.client_id.as_str()),
        SignInPage::Enroll { client_id, .. }
        | SignInPage::Verify { client_id, .. }
        | SignInPage::RelinkByEmail { client_id, .. } => client_id.as_deref(),
    };
    let client = client_id.and_then(|id| state.config.client(id));
    let product = client.as_ref().map_or(&state.config.brand, |c| &c.brand);
    // The built-in console is named in the page's language (the configured name is the
    // provider's default language's).
    let client_name = client.as_ref().map(|c| {
        if c.client_id == idp_core::roles::CONSOLE_CLIENT_ID {
            t.tr1("console-app-name", "product", product.product.as_str())
        } else {
            c.name.clone()
        }
    });
    match page {
        SignInPage::Password(pending) => {
            let hint = pending
                .as_ref()
                .and_then(|p| p.login_hint.clone())
                .unwrap_or_default();
            let email = if email.is_empty() { &hint } else { email };
            html(
                status,
                &LoginPage {
                    f: Frame::new(t, product),
                    client_name: client_name.as_deref(),
                    csrf: &csrf,
                    email,
                    error,
                    notice: None,
                },
            )
        }
        SignInPage::Enroll { user, view, .. } => html(
            status,
            &EnrollPage {
                f: Frame::new(t, product),
                csrf: &csrf,
                email: &user.email,
                qr_svg: &view.qr_svg,
                activation_code: &view.activation_code,
                error,
            },
        ),
        SignInPage::Verify { user, .. } => html(
            status,
            &VerifyPage {
                f: Frame::new(t, product),
                csrf: &csrf,
                email: &user.email,
                error,
            },
        ),
        SignInPage::RelinkByEmail { user, .. } => html(
            status,
            &RelinkPage {
                f: Frame::new(t, product),
                csrf: &csrf,
                email: &user.email,
                error,
                notice: None,
            },
        ),
    }
}

/// GET /relink?token=: the link mailed after a help-desk disconnect (`relink_requires_email`)
/// opens a sign-in whose enrollment the relink gate lets through; then the sign-in page.
pub async fn open_relink(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let params = super::params::Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let token = params.get("token").unwrap_or_default().to_string();
    let browser = RequestBrowser::of(&state, &req);
    let idp = state.idp.clone();
    let opened = blocking(move || idp.open_relink(&token, browser.ip.as_deref())).await?;
    match opened {
        Ok(handle) => {
            let mut res = see_other("/login");
            res.add_cookie(&flow_cookie(&state, handle)).map_err(|e| {
                tracing::error!(error = %e, "flow cookie not set");
                AppError::Internal
            })?;
            Ok(res)
        }
        Err(RelinkError::Invalid) => Err(AppError::page(
            StatusCode::BAD_REQUEST,
            msg("relink-title"),
            msg("relink-invalid"),
        )
        .with_brand(&state.config.brand)),
        Err(e) => Err(relink_refusal(&state, e)),
    }
}

/// POST /login/relink: "send me a new link", from the relink page of a sign-in.
pub async fn resend_relink(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(&req);
    let params = parse_form(&state, &body)?;
    let handle = flow_of_form(&req, &state, params.get("csrf"))?;
    let idp = state.idp.clone();
    let h = handle.clone();
    let sent = blocking(move || idp.resend_relink(&h)).await?;
    let (user, token) = match sent {
        Ok(sent) => sent,
        Err(RelinkError::Expired) => return Ok(see_other("/login")),
        Err(e) => return Err(relink_refusal(&state, e)),
    };
    let email = user.email.clone();
    send_in_background(&state.mailer, email.clone(), move |m, _| {
        let lang = m.lang_for(user.locale.as_deref(), None);
        m.send_link(&user, idp_core::email_tokens::Purpose::Relink, &token, lang)
    });
    let notice = t.tr("relink-sent");
    html(
        StatusCode::OK,
        &RelinkPage {
            f: Frame::new(t, &state.config.brand),
            csrf: &csrf_for(&handle),
            email: &email,
            error: None,
            notice: Some(&notice),
        },
    )
}

fn relink_refusal(state: &AppState, e: RelinkError) -> AppError {
    match e {
        RelinkError::TooMany(l) => {
            let minutes = text::minutes_until(l.until, state.idp.now());
            AppError::page(
                StatusCode::TOO_MANY_REQUESTS,
                msg("relink-title"),
                msg("relink-too-many").with("minutes", minutes),
            )
            .with_brand(&state.config.brand)
            .with_retry_after((l.until - state.idp.now()).max(1))
        }
        RelinkError::Invalid | RelinkError::Expired => sign_in_expired(state),
        e @ (RelinkError::Store(_) | RelinkError::Crypto(_)) => AppError::from(e),
    }
}

/// The flow handle behind the cookie, once the form's CSRF token matched it.
fn flow_of_form(
    req: &HttpRequest,
    state: &AppState,
    csrf: Option<&str>,
) -> Result<String, AppError> {
    let handle = CookieName::Flow
        .value(state, req)
        .ok_or_else(|| sign_in_expired(state))?;
    if !csrf_ok(&handle, csrf) {
        return Err(form_expired(state, msg("form-stale")));
    }
    Ok(handle)
}

/// POST /login/password
pub async fn submit_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(&req);
    let params = parse_form(&state, &body)?;
    let handle = flow_of_form(&req, &state, params.get("csrf"))?;
    let email: String = params
        .get("email")
        .unwrap_or("")
        .trim()
        .chars()
        .take(254)
        .collect();
    let password = params.get("password").unwrap_or("").to_string();
    let browser = RequestBrowser::of(&state, &req);
    let idp = state.idp.clone();
    let (h, em) = (handle.clone(), email.clone());
    let step = blocking(move || idp.sign_in_password(&h, &em, &password, browser.get())).await?;
    let (refused, page) = match step {
        Ok(PasswordStep::SignedIn(done)) => {
            state.metrics.signin("password_ok");
            return signed_in_response(&state, *done);
        }
        Ok(PasswordStep::SecondFactor) => {
            state.metrics.signin("password_ok");
            return Ok(see_other("/login"));
        }
        Ok(PasswordStep::Refused { refusal, page }) => (refusal, page),
        Err(SignInError::WrongStage) => return Ok(see_other("/login")),
        Err(e) => return Err(refusal(&state, e)),
    };
    let until = locked_until(&refused);
    let (status, message) = match refused {
        SignInError::MissingCredentials => {
            (StatusCode::BAD_REQUEST, msg("enter-email-and-password"))
        }
        SignInError::Locked(l) => {
            state.metrics.signin("locked");
            state.metrics.lockout("password");
            let minutes = text::minutes_until(l.until, state.idp.now());
            (
                StatusCode::TOO_MANY_REQUESTS,
                msg("too-many-failed-attempts").with("minutes", minutes),
            )
        }
        SignInError::Disabled => {
            state.metrics.signin("disabled");
            (StatusCode::FORBIDDEN, msg("user-disabled"))
        }
        _ => {
            state.metrics.signin("invalid_credentials");
            (StatusCode::UNAUTHORIZED, msg("invalid-credentials"))
        }
    };
    let message = t.show(&message);
    let res = render_page(&state, t, &handle, *page, Some(&message), status, &email)?;
    Ok(retry_after(res, until, state.idp.now()))
}

/// POST /login/totp: the enrollment confirmation or the sign-in code.
pub async fn submit_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let t = locale::of(&req);
    let params = parse_form(&state, &body)?;
    let handle = flow_of_form(&req, &state, params.get("csrf"))?;
    let code: String = params.get("code").unwrap_or("").chars().take(32).collect();
    let browser = RequestBrowser::of(&state, &req);
    let idp = state.idp.clone();
    let (h, b) = (handle.clone(), browser.clone());
    let step = blocking(move || idp.sign_in_code(&h, &code, b.get())).await?;
    let (refused, page) = match step {
        Ok(CodeStep::SignedIn {
            signed_in,
            linked_app,
        }) => {
            if linked_app {
                state.metrics.mfa("enrolled");
                notify_app_linked(&state, &signed_in, browser, t);
            } else {
                state.metrics.mfa("verified");
            }
            return signed_in_response(&state, *signed_in);
        }
        Ok(CodeStep::Moved) | Err(SignInError::WrongStage) => return Ok(see_other("/login")),
        Ok(CodeStep::Refused { refusal, page }) => (refusal, page),
        Err(e) => return Err(refusal(&state, e)),
    };
    let message = t.show(&text::code_refusal(&refused, state.idp.now()));
    let until = locked_until(&refused);
    let status = match refused {
        SignInError::InvalidFormat => {
            state.metrics.mfa("invalid_format");
            StatusCode::BAD_REQUEST
        }
        SignInError::Locked(_) => {
            state.metrics.mfa("locked");
            state.metrics.lockout("totp");
            StatusCode::TOO_MANY_REQUESTS
        }
        SignInError::CodeReplayed => {
            state.metrics.mfa("replayed");
            StatusCode::UNAUTHORIZED
        }
        SignInError::Disabled => {
            state.metrics.mfa("disabled");
            StatusCode::FORBIDDEN
        }
        _ => {
            state.metrics.mfa("invalid");
            StatusCode::UNAUTHORIZED
        }
    };
    let res = render_page(&state, t, &handle, *page, Some(&message), status, "")?;
    Ok(retry_after(res, until, state.idp.now()))
}

/// The user hears of every app linked to their account (when, from where, with what): if it was
/// not them, the mail says what to do.
fn notify_app_linked(state: &AppState, signed_in: &SignedIn, browser: RequestBrowser, t: Tr) {
    let at = signed_in.session.auth_time;
    let user_id = signed_in.session.user_id.clone();
    let idp = state.idp.clone();
    send_in_background(&state.mailer, user_id, move |m, uid| {
        let Ok(Some(user)) = idp.user_by_id(&uid) else {
            return Ok(());
        };
        m.send(
            &user.email,
            m.lang_for(user.locale.as_deref(), Some(t.lang())),
            Mail::AppLinked {
                at,
                ip: browser.ip.as_deref(),
                browser: browser.user_agent.as_deref(),
            },
        )
    });
}
