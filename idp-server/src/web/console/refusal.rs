//! What the console tells its user when the domain refuses: each refusal of `policy::staff_may`,
//! a reason, an email, the disconnect limit, in the catalogues' words. The rules are the
//! domain's; this only picks the words and the status.

use actix_web::http::StatusCode;
use idp_core::console::ConsoleError;
use idp_core::email_tokens::EmailTokenError;
use idp_core::mfa::MfaError;
use idp_core::model::ReasonError;
use idp_core::policy::StaffRefusal;
use idp_core::users::UserError;

use super::super::error::AppError;
use super::super::state::AppState;
use super::super::text;
use crate::i18n::{msg, Msg};

pub fn staff_refusal(r: StaffRefusal) -> Msg {
    match r {
        StaffRefusal::NoRole => msg("console-no-access"),
        StaffRefusal::OtherAccount => msg("console-refused-other-account"),
        StaffRefusal::OwnUser => msg("console-refused-own-user"),
        StaffRefusal::HoldsRole => msg("console-refused-holds-role"),
        StaffRefusal::SupportOnly => msg("console-refused-support-only"),
    }
}

fn reason(e: ReasonError) -> Msg {
    match e {
        ReasonError::Missing => msg("console-reason-missing"),
        ReasonError::TooLong => msg("console-reason-too-long"),
        ReasonError::BadCharacter => msg("console-reason-bad-character"),
    }
}

/// The page for a user or account this console user may not see, or that does not exist (the
/// same answer: a company admin cannot tell another company's ids from none).
pub fn not_found(state: &AppState) -> AppError {
    AppError::page(
        StatusCode::NOT_FOUND,
        msg("console-not-found-title"),
        msg("console-not-found"),
    )
    .with_brand(&state.config.brand)
}

/// A refusal shown on the form that was sent (nothing changed): its status, its words, and the
/// seconds to wait when it is a limit.
pub struct OnForm {
    pub status: StatusCode,
    pub message: Msg,
    pub retry_after: Option<i64>,
}

/// How a refused console request answers: on the form (`Ok`), or as its own page (`Err`: not
/// found, a database outage, an internal error).
pub fn console_error(state: &AppState, e: ConsoleError) -> Result<OnForm, AppError> {
    let on_form = |status, message| {
        Ok(OnForm {
            status,
            message,
            retry_after: None,
        })
    };
    match e {
        ConsoleError::NotFound => Err(not_found(state)),
        ConsoleError::Refused(r) => on_form(StatusCode::FORBIDDEN, staff_refusal(r)),
        ConsoleError::Reason(r) | ConsoleError::Mfa(MfaError::Reason(r)) => {
            on_form(StatusCode::BAD_REQUEST, reason(r))
        }
        ConsoleError::User(UserError::InvalidEmail(_)) => {
            on_form(StatusCode::BAD_REQUEST, msg("console-invalid-email"))
        }
        ConsoleError::User(UserError::InvalidName(_)) => {
            on_form(StatusCode::BAD_REQUEST, msg("console-invalid-name"))
        }
        ConsoleError::User(UserError::EmailTaken(_)) => {
            on_form(StatusCode::CONFLICT, msg("console-email-taken"))
        }
        ConsoleError::Link(EmailTokenError::Disabled) => {
            on_form(StatusCode::CONFLICT, msg("console-link-user-disabled"))
        }
        ConsoleError::Mfa(MfaError::TooManyDisconnects(l)) => {
            let now = state.idp.now();
            Ok(OnForm {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: msg("console-too-many-disconnects")
                    .with("minutes", text::minutes_until(l.until, now)),
                retry_after: Some((l.until - now).max(1)),
            })
        }
        ConsoleError::Store(s)
        | ConsoleError::User(UserError::Store(s))
        | ConsoleError::Link(EmailTokenError::Store(s))
        | ConsoleError::Mfa(MfaError::Store(s)) => Err(s.into()),
        other => Err(AppError::internal(&other)),
    }
}

/// A refusal on a page that has no form (a page view): its own page.
pub fn page_error(state: &AppState, e: ConsoleError) -> AppError {
    match console_error(state, e) {
        Ok(r) => AppError::page(r.status, msg("console-refused-title"), r.message)
            .with_brand(&state.config.brand),
        Err(e) => e,
    }
}
