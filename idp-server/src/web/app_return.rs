//! Where the browser goes back to an app: the one rule for which client and redirect URI may
//! receive anything, and the redirect that carries a completed sign-in's answer (with `state`
//! and `iss`, RFC 9207). `/authorize` and the sign-in pages both use it.

use std::sync::Arc;

use idp_core::flows::PendingAuthorization;
use idp_core::signin::AppAnswer;

use super::error::AppError;
use super::forms::redirect_with;
use super::state::AppState;
use crate::config::Client;
use crate::i18n::{msg, Msg};

/// The one rule for where a refusal may go back to the app: a client users sign in to, and a
/// redirect URI registered for it exactly; anything else is a page (with these words), never a
/// redirect.
pub fn trusted_redirect<'a>(
    config: &crate::config::Config,
    client_id: Option<&str>,
    redirect_uri: Option<&'a str>,
) -> Result<(Arc<Client>, &'a str), Msg> {
    let client_id = client_id.ok_or_else(|| msg("no-client-id"))?;
    let client = config
        .client(client_id)
        // An admin client or a resource server is a program with client credentials: nobody
        // signs in to it.
        .filter(|c| c.signs_users_in())
        .ok_or_else(|| msg("unknown-client"))?;
    let redirect_uri = redirect_uri.ok_or_else(|| msg("no-redirect-uri"))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(msg("unknown-redirect-uri"));
    }
    Ok((client, redirect_uri))
}

/// Where a completed sign-in sends the browser back to the app: with its code, or (OIDC Core
/// 3.1.2.1) `login_required` when someone else than the user its `id_token_hint` named signed in.
pub fn app_redirect(
    state: &AppState,
    pending: &PendingAuthorization,
    answer: &AppAnswer,
) -> Result<String, AppError> {
    let mut params = match answer {
        AppAnswer::Code(code) => vec![("code", code.as_str())],
        AppAnswer::OtherUser => vec![
            ("error", "login_required"),
            (
                "error_description",
                "another user than the one the id_token_hint names signed in",
            ),
        ],
    };
    if let Some(s) = pending.state.as_deref() {
        params.push(("state", s));
    }
    redirect_with(&pending.redirect_uri, &state.config.issuer, &params)
}

/// [`app_redirect`] for a sign-in that began before now: only while the current configuration
/// (a SIGHUP may have replaced it since) still has the client and that exact redirect URI
/// (the one rule, [`trusted_redirect`]); `None` otherwise, and the app gets nothing.
pub fn completion_redirect(
    state: &AppState,
    pending: &PendingAuthorization,
    answer: &AppAnswer,
) -> Result<Option<String>, AppError> {
    let still = trusted_redirect(
        &state.config,
        Some(&pending.client_id),
        Some(&pending.redirect_uri),
    );
    if still.is_err() {
        tracing::info!(client = %pending.client_id, "sign-in completed for a client or redirect URI a reload removed: no code sent");
        return Ok(None);
    }
    app_redirect(state, pending, answer).map(Some)
}
