//! The steps of a signed-in browser that several pages share: the answer to a completed
//! sign-in (its cookies, and back to the app or to the user's own page), who the browser's
//! session belongs to, and the one-shot notices `/account` shows after a form.

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use idp_core::signin::SignedIn;
use idp_core::User;

use super::app_return::completion_redirect;
use super::browser::{cookie, known_browser_cookie, removal_cookie, CookieName};
use super::error::AppError;
use super::state::{blocking_try, AppState};
use crate::i18n::{msg, Msg};

/// Where a signed-in browser lands.
pub const ACCOUNT_PATH: &str = "/account";

/// What a form left for the page to say once; the notice cookie holds its name, and only a
/// name of this list shows anything (a cookie cannot make the page claim something else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged,
    SessionEnded,
    SessionGone,
    OthersEnded,
    LanguageSaved,
}

impl Notice {
    const ALL: [Notice; 5] = [
        Notice::PasswordChanged,
        Notice::SessionEnded,
        Notice::SessionGone,
        Notice::OthersEnded,
        Notice::LanguageSaved,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Notice::PasswordChanged => "password-changed",
            Notice::SessionEnded => "session-ended",
            Notice::SessionGone => "session-gone",
            Notice::OthersEnded => "others-ended",
            Notice::LanguageSaved => "language-saved",
        }
    }

    pub(super) fn message(self) -> Msg {
        match self {
            Notice::PasswordChanged => msg("password-changed-notice"),
            Notice::SessionEnded => msg("account-session-ended"),
            Notice::SessionGone => msg("account-session-gone"),
            Notice::OthersEnded => msg("account-others-ended"),
            Notice::LanguageSaved => msg("account-language-saved"),
        }
    }

    pub(super) fn named(name: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.name() == name)
    }

    /// The cookie that carries this notice across the redirect to `/account` (a minute).
    pub fn cookie(self, state: &AppState) -> Cookie<'static> {
        cookie(state, CookieName::Notice, self.name().into(), Some(60))
    }
}

/// A completed sign-in: the session cookie, the known-browser cookie for the user, the flow
/// cookie removed, and either the app's redirect with its code or the user's own page
/// (`/account`). The browser's previous session, if this one replaced it, is told to its apps.
pub fn signed_in_response(state: &AppState, done: SignedIn) -> Result<HttpResponse, AppError> {
    if !done.ended.is_empty() {
        state.deliver_logouts();
    }
    let location = match &done.code {
        // The app's answer, unless a reload removed the app or its redirect URI since the
        // sign-in began: then the browser stays here, signed in, on its own page.
        Some((pending, answer)) => {
            completion_redirect(state, pending, answer)?.unwrap_or_else(|| ACCOUNT_PATH.to_string())
        }
        None => ACCOUNT_PATH.to_string(),
    };
    Ok(HttpResponse::SeeOther()
        .cookie(cookie(state, CookieName::Session, done.secret, None))
        .cookie(known_browser_cookie(state, done.known_browser))
        .cookie(removal_cookie(state, CookieName::Flow))
        .insert_header((header::LOCATION, location))
        .finish())
}

/// The user of the browser's live session, with the session's cookie secret and id.
pub async fn current_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(User, String, String)>, AppError> {
    let Some(secret) = CookieName::Session.value(state, req) else {
        return Ok(None);
    };
    let idp = state.idp.clone();
    let s = secret.clone();
    let found = blocking_try(move || idp.signed_in_user(&s)).await?;
    Ok(found.map(|(u, session)| (u, secret, session.id)))
}
