//! The hosted sign-in: email + password, then (when the account requires MFA) TOTP enrollment or
//! a code. The state of a half-finished sign-in lives server-side in a login flow; the browser
//! holds only its random handle in an HttpOnly cookie, and each form carries a CSRF token derived
//! from that handle. The SSO session is created only when the last required step succeeds.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use idp_core::flows::{FlowError, FlowStage, LoginFlow};
use idp_core::mfa::{MfaError, MfaStep};
use idp_core::users::AuthError;
use idp_core::User;

use super::authorize::{self, PendingAuthorization};
use super::pages::{html, EnrollPage, LoginPage, SignedInPage, VerifyPage};
use super::params::Params;
use super::{blocking, AppError, AppState};

/// CSRF token bound to a cookie secret (flow handle or session secret): SHA-256 over a label and
/// the secret. A cross-site page can neither read the cookie nor compute the token.
pub fn csrf_for(secret: &str) -> String {
    idp_core::crypto::hash_token(&format!("csrf\0{secret}"))
}

pub fn csrf_ok(secret: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| idp_core::crypto::ct_eq(csrf_for(secret).as_bytes(), p.as_bytes()))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn expired(state: &AppState) -> AppError {
    AppError::page(
        StatusCode::BAD_REQUEST,
        "Your sign-in has expired",
        "For your security, sign-in pages expire after a few minutes or when a form is sent twice. Please start again.",
    )
    .with_product(&state.config.product_name)
}

fn pending_of(flow: &LoginFlow) -> Option<PendingAuthorization> {
    serde_json::from_str::<Option<PendingAuthorization>>(&flow.request)
        .ok()
        .flatten()
}

fn client_name<'a>(state: &'a AppState, pending: &Option<PendingAuthorization>) -> Option<&'a str> {
    pending
        .as_ref()
        .and_then(|p| state.config.client(&p.client_id))
        .map(|c| c.name.as_str())
}

/// The handle of a flow just created, or the page that says too many were started here.
pub fn flow_created(
    state: &AppState,
    created: Result<String, FlowError>,
) -> Result<String, AppError> {
    match created {
        Ok(handle) => Ok(handle),
        Err(FlowError::TooMany(l)) => Err(AppError::page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins",
            &retry_after_text(
                state,
                "Too many sign-ins were started from your network.",
                l.until,
            ),
        )
        .with_product(&state.config.product_name)),
        Err(e) => Err(e.into()),
    }
}

/// Starts a flow and sends the browser to the sign-in page.
pub fn start_flow_response(state: &AppState, handle: String) -> HttpResponse {
    let ttl = state.idp.settings().login_flow_ttl_secs;
    HttpResponse::SeeOther()
        .cookie(state.cookie(state.flow_cookie_name(), handle, Some(ttl)))
        .insert_header((header::LOCATION, "/login"))
        .finish()
}

/// GET /login: renders whichever step the flow is at. Without a flow, starts one for a direct
/// sign-in (no app), or shows the signed-in page when a session exists.
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let handle = req
        .cookie(state.flow_cookie_name())
        .map(|c| c.value().to_string());
    let found = match handle {
        Some(h) => {
            let idp = state.idp.clone();
            let h2 = h.clone();
            match blocking(move || idp.flow(&h2)).await? {
                Ok(flow) => Some((h, flow)),
                Err(FlowError::Expired) => None,
                Err(e) => return Err(e.into()),
            }
        }
        None => None,
    };
    let Some((handle, flow)) = found else {
        if let Some(page) = signed_in_page(&req, &state, None).await? {
            return Ok(page);
        }
        let idp = state.idp.clone();
        let ip = state.client_ip(&req);
        let created = blocking(move || idp.create_flow("null", ip.as_deref())).await?;
        return Ok(start_flow_response(&state, flow_created(&state, created)?));
    };
    render_stage(&state, &handle, &flow, None, StatusCode::OK, "").await
}

async fn render_stage(
    state: &AppState,
    handle: &str,
    flow: &LoginFlow,
    error: Option<&str>,
    status: StatusCode,
    email: &str,
) -> Result<HttpResponse, AppError> {
    let csrf = csrf_for(handle);
    let product = &state.config.product_name;
    let pending = pending_of(flow);
    match (flow.stage, flow.user_id.clone()) {
        (FlowStage::Password, _) => {
            let hint = pending
                .as_ref()
                .and_then(|p| p.login_hint.clone())
                .unwrap_or_default();
            let email = if email.is_empty() {
                hint.as_str()
            } else {
                email
            };
            html(
                status,
                &LoginPage {
                    product,
                    client_name: client_name(state, &pending),
                    csrf: &csrf,
                    email,
                    error,
                    notice: None,
                },
            )
        }
        (FlowStage::MfaEnroll, Some(uid)) => {
            let idp = state.idp.clone();
            let h = handle.to_string();
            let (user, view) = blocking(move || -> Result<(User, Result<idp_core::mfa::EnrollmentView, MfaError>), AppError> {
                let user = idp.user_by_id(&uid)?.ok_or(AppError::Internal)?;
                let view = idp.begin_enrollment(&user, &h);
                Ok((user, view))
            })
            .await??;
            match view {
                Ok(v) => html(
                    status,
                    &EnrollPage {
                        product,
                        csrf: &csrf,
                        email: &user.email,
                        qr_svg: &v.qr_svg,
                        activation_code: &v.activation_code,
                        error,
                    },
                ),
                // The flow left the enrollment stage meanwhile (another tab): start again.
                Err(MfaError::NotEnrolled) => Err(expired(state)),
                // Linked meanwhile (another tab): ask for a code instead.
                Err(MfaError::AlreadyLinked) => html(
                    status,
                    &VerifyPage {
                        product,
                        csrf: &csrf,
                        email: &user.email,
                        error,
                    },
                ),
                Err(e) => Err(e.into()),
            }
        }
        (FlowStage::MfaVerify, Some(uid)) => {
            let idp = state.idp.clone();
            let user = blocking(move || idp.user_by_id(&uid))
                .await??
                .ok_or(AppError::Internal)?;
            html(
                status,
                &VerifyPage {
                    product,
                    csrf: &csrf,
                    email: &user.email,
                    error,
                },
            )
        }
        _ => Err(expired(state)),
    }
}

/// Reads the flow behind the cookie and checks the form's CSRF token.
async fn flow_for_post(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
) -> Result<(String, LoginFlow), AppError> {
    let handle = req
        .cookie(state.flow_cookie_name())
        .map(|c| c.value().to_string())
        .ok_or_else(|| expired(state))?;
    if !csrf_ok(&handle, params.get("csrf")) {
        return Err(form_expired(
            state,
            "The form could not be verified (it may be stale or sent from another site). Please start again.",
        ));
    }
    let idp = state.idp.clone();
    let h = handle.clone();
    match blocking(move || idp.flow(&h)).await? {
        Ok(flow) => Ok((handle, flow)),
        Err(FlowError::Expired) => Err(expired(state)),
        Err(e) => Err(e.into()),
    }
}

/// The refusal for a form whose CSRF token does not match its cookie secret.
pub fn form_expired(state: &AppState, hint: &str) -> AppError {
    AppError::page(StatusCode::FORBIDDEN, "This form has expired", hint)
        .with_product(&state.config.product_name)
}

/// "Try again in N minutes" for a lock that lasts until `until`.
fn retry_after_text(state: &AppState, what: &str, until: i64) -> String {
    let minutes = ((until - state.idp.now()) as f64 / 60.0).ceil().max(1.0) as i64;
    format!(
        "{what} Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

pub fn parse_form(state: &AppState, body: &[u8]) -> Result<Params, AppError> {
    Params::parse(body).map_err(|e| {
        AppError::page(StatusCode::BAD_REQUEST, "Invalid form", &e.to_string())
            .with_product(&state.config.product_name)
    })
}

/// POST /login/password
pub async fn submit_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let (handle, flow) = flow_for_post(&req, &state, &params).await?;
    if flow.stage != FlowStage::Password {
        return Ok(see_other("/login"));
    }
    let email = params
        .get("email")
        .unwrap_or("")
        .trim()
        .chars()
        .take(254)
        .collect::<String>();
    let password = params.get("password").unwrap_or("").to_string();
    if email.is_empty() || password.is_empty() {
        return render_stage(
            &state,
            &handle,
            &flow,
            Some("Enter your email and password."),
            StatusCode::BAD_REQUEST,
            &email,
        )
        .await;
    }
    let ip = state.client_ip(&req);
    let idp = state.idp.clone();
    let (em, ipc) = (email.clone(), ip.clone());
    let result = blocking(
        move || -> Result<Result<(User, MfaStep), AuthError>, AppError> {
            match idp.authenticate_password(&em, &password, ipc.as_deref()) {
                Ok(user) => {
                    let step = idp.mfa_step(&user)?;
                    Ok(Ok((user, step)))
                }
                Err(AuthError::Store(e)) => Err(e.into()),
                Err(e) => Ok(Err(e)),
            }
        },
    )
    .await??;
    let (user, step) = match result {
        Ok(v) => {
            state.metrics.signin("password_ok");
            v
        }
        Err(AuthError::InvalidCredentials) => {
            state.metrics.signin("invalid_credentials");
            return render_stage(
                &state,
                &handle,
                &flow,
                Some("The email or password is not correct."),
                StatusCode::UNAUTHORIZED,
                &email,
            )
            .await;
        }
        Err(AuthError::Locked(l)) => {
            state.metrics.signin("locked");
            state.metrics.lockout("password");
            let msg = retry_after_text(&state, "Too many failed attempts.", l.until);
            return render_stage(
                &state,
                &handle,
                &flow,
                Some(&msg),
                StatusCode::TOO_MANY_REQUESTS,
                &email,
            )
            .await;
        }
        Err(AuthError::Disabled) => {
            state.metrics.signin("disabled");
            return render_stage(
                &state,
                &handle,
                &flow,
                Some("This user is disabled. Contact your administrator."),
                StatusCode::FORBIDDEN,
                &email,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let next = match step {
        MfaStep::None => return complete(&req, &state, &handle, &user, false).await,
        MfaStep::Enroll => FlowStage::MfaEnroll,
        MfaStep::Verify => FlowStage::MfaVerify,
    };
    let idp = state.idp.clone();
    let (h, uid) = (handle.clone(), user.id.clone());
    match blocking(move || idp.advance_flow(&h, &uid, next)).await? {
        Ok(()) => Ok(see_other("/login")),
        Err(FlowError::Expired) => Err(expired(&state)),
        Err(e) => Err(e.into()),
    }
}

/// POST /login/totp: the enrollment confirmation or the sign-in code.
pub async fn submit_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = parse_form(&state, &body)?;
    let (handle, flow) = flow_for_post(&req, &state, &params).await?;
    let Some(user_id) = flow.user_id.clone() else {
        return Ok(see_other("/login"));
    };
    if !matches!(flow.stage, FlowStage::MfaEnroll | FlowStage::MfaVerify) {
        return Ok(see_other("/login"));
    }
    let code = params
        .get("code")
        .unwrap_or("")
        .chars()
        .take(32)
        .collect::<String>();
    let ip = state.client_ip(&req);
    let ua = user_agent(&req);
    let idp = state.idp.clone();
    let stage = flow.stage;
    let (h, ipc, uac) = (handle.clone(), ip.clone(), ua.clone());
    let (user, result) = blocking(move || -> Result<(User, Result<(), MfaError>), AppError> {
        let user = idp.user_by_id(&user_id)?.ok_or(AppError::Internal)?;
        let r = match stage {
            FlowStage::MfaEnroll => {
                idp.confirm_enrollment(&user, &h, &code, ipc.as_deref(), uac.as_deref())
            }
            _ => idp.verify_totp(&user, &code, ipc.as_deref()),
        };
        Ok((user, r))
    })
    .await??;
    let (status, message) = match result {
        Ok(()) => {
            if stage == FlowStage::MfaEnroll {
                state.metrics.mfa("enrolled");
                // The user hears of every app linked to their account: if it was not them, the
                // mail says what to do.
                let at = state.idp.now();
                crate::mail::send_in_background(&state.mailer, user.email.clone(), move |m, to| {
                    m.send(
                        &to,
                        crate::mail::Mail::AppLinked {
                            at,
                            ip: ip.as_deref(),
                            browser: ua.as_deref(),
                        },
                    )
                });
            } else {
                state.metrics.mfa("verified");
            }
            return complete(&req, &state, &handle, &user, true).await;
        }
        Err(MfaError::InvalidFormat) => {
            state.metrics.mfa("invalid_format");
            (StatusCode::BAD_REQUEST, MfaError::InvalidFormat.to_string())
        }
        Err(e @ (MfaError::InvalidCode | MfaError::CodeReplayed)) => {
            state.metrics.mfa(if matches!(e, MfaError::CodeReplayed) {
                "replayed"
            } else {
                "invalid"
            });
            (StatusCode::UNAUTHORIZED, e.to_string())
        }
        Err(MfaError::Locked(l)) => {
            state.metrics.mfa("locked");
            state.metrics.lockout("totp");
            (
                StatusCode::TOO_MANY_REQUESTS,
                retry_after_text(&state, "Too many wrong codes.", l.until),
            )
        }
        Err(MfaError::AlreadyLinked) => {
            // Linked in another tab meanwhile: continue with a code.
            let idp = state.idp.clone();
            let (h, uid) = (handle.clone(), user.id.clone());
            blocking(move || idp.advance_flow(&h, &uid, FlowStage::MfaVerify)).await??;
            return Ok(see_other("/login"));
        }
        Err(MfaError::NotEnrolled) => {
            // Disconnected by an operator meanwhile: enroll again.
            let idp = state.idp.clone();
            let (h, uid) = (handle.clone(), user.id.clone());
            blocking(move || idp.advance_flow(&h, &uid, FlowStage::MfaEnroll)).await??;
            return Ok(see_other("/login"));
        }
        Err(e) => return Err(e.into()),
    };
    render_stage(&state, &handle, &flow, Some(&message), status, "").await
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The last step: complete the sign-in (the flow consumed once, this browser's previous session
/// ended, the new session started, in one transaction), then either return to the app with a
/// code or show the signed-in page.
async fn complete(
    req: &HttpRequest,
    state: &AppState,
    handle: &str,
    user: &User,
    with_otp: bool,
) -> Result<HttpResponse, AppError> {
    let idp = state.idp.clone();
    let handle = handle.to_string();
    let old_session = req
        .cookie(state.session_cookie_name())
        .map(|c| c.value().to_string());
    let ip = state.client_ip(req);
    let ua = user_agent(req);
    let user = user.clone();
    let amr = crate::tokens::amr_for(with_otp);
    let completed = blocking(move || {
        idp.complete_sign_in(
            &handle,
            &user,
            &amr,
            old_session.as_deref(),
            ip.as_deref(),
            ua.as_deref(),
        )
    })
    .await?;
    let signed_in = match completed {
        Ok(s) => s,
        Err(FlowError::Expired) => return Err(expired(state)),
        Err(e) => return Err(e.into()),
    };
    if !signed_in.ended.is_empty() {
        state.deliver_logouts();
    }
    let session_cookie = state.cookie(state.session_cookie_name(), signed_in.secret, None);
    let flow_cookie = state.removal_cookie(state.flow_cookie_name());
    let location = match pending_of(&signed_in.flow) {
        Some(pending) => {
            authorize::issue_code_redirect(state, &pending, &signed_in.session).await?
        }
        None => "/".to_string(),
    };
    Ok(HttpResponse::SeeOther()
        .cookie(session_cookie)
        .cookie(flow_cookie)
        .insert_header((header::LOCATION, location))
        .finish())
}

/// The user of the browser's live session, with the session's cookie secret and id.
pub async fn current_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(User, String, String)>, AppError> {
    let Some(secret) = req
        .cookie(state.session_cookie_name())
        .map(|c| c.value().to_string())
    else {
        return Ok(None);
    };
    let idp = state.idp.clone();
    let s = secret.clone();
    let found = blocking(
        move || -> Result<Option<(User, String)>, idp_core::StoreError> {
            let Some(session) = idp.session_by_secret(&s)? else {
                return Ok(None);
            };
            Ok(idp.user_by_id(&session.user_id)?.map(|u| (u, session.id)))
        },
    )
    .await??;
    Ok(found.map(|(u, sid)| (u, secret, sid)))
}

/// The signed-in page for the browser's live session, if it has one.
pub async fn signed_in_page(
    req: &HttpRequest,
    state: &AppState,
    notice: Option<&str>,
) -> Result<Option<HttpResponse>, AppError> {
    let Some((user, secret, _)) = current_user(req, state).await? else {
        return Ok(None);
    };
    let csrf = csrf_for(&secret);
    let name = if user.display_name.is_empty() {
        user.email.as_str()
    } else {
        user.display_name.as_str()
    };
    Ok(Some(html(
        StatusCode::OK,
        &SignedInPage {
            product: &state.config.product_name,
            name,
            email: &user.email,
            csrf: &csrf,
            notice,
        },
    )?))
}

/// GET / : the signed-in page, or off to sign in.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    match signed_in_page(&req, &state, None).await? {
        Some(page) => Ok(page),
        None => Ok(see_other("/login")),
    }
}
