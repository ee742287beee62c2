//! Back-Channel Logout 1.0 delivery from the durable outbox (`idp_core::outbox`). Whichever
//! replica claims a due logout mints a logout token, signed with the algorithm the client
//! registered for its ID tokens, POSTs it to the client's `backchannel_logout_uri`, and records
//! the outcome: delivered, retried later with backoff, or given up (an audit event).

use std::time::Duration;

use idp_core::outbox::{FailedAttempt, PendingLogout};
use idp_core::Idp;

use crate::config::Config;
use crate::keys::Keyring;
use crate::metrics::Metrics;
use crate::tokens::Minter;

/// One delivery attempt's result, for the operator's report.
#[derive(Debug, serde::Serialize)]
pub struct Delivery {
    pub client_id: String,
    pub sid: String,
    pub ok: bool,
    pub detail: String,
}

/// Logouts claimed per round; each delivery waits at most [`TIMEOUT`].
const BATCH: i64 = 20;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Delivers what is due now (all of it, or only the logouts of `sessions`), blocking. Returns
/// what was attempted; an app without a back-channel endpoint is not counted.
pub fn deliver_due(
    idp: &Idp,
    config: &Config,
    keys: &Keyring,
    metrics: Option<&Metrics>,
    sessions: Option<&[String]>,
) -> Result<Vec<Delivery>, idp_core::StoreError> {
    let agent = ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .redirects(0)
        .build();
    let mut out = Vec::new();
    // Bounded: a round claims at most BATCH, and what fails is not due again for a while.
    for _ in 0..50 {
        let claimed = idp.claim_logouts(BATCH, sessions)?;
        if claimed.is_empty() {
            break;
        }
        for logout in claimed {
            if let Some(d) = deliver_one(idp, config, keys, metrics, &agent, &logout)? {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Why one logout token did not reach its app (stored as the outbox row's last error).
#[derive(Debug, thiserror::Error)]
enum SendFailure {
    #[error("the logout token could not be made: {0}")]
    Token(crate::tokens::TokenError),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(ureq::ErrorKind),
}

fn deliver_one(
    idp: &Idp,
    config: &Config,
    keys: &Keyring,
    metrics: Option<&Metrics>,
    agent: &ureq::Agent,
    logout: &PendingLogout,
) -> Result<Option<Delivery>, idp_core::StoreError> {
    let Some(client) = config.client(&logout.client_id) else {
        idp.logout_delivered(&logout.id, Some("the client is no longer configured"))?;
        return Ok(None);
    };
    let Some(uri) = client.backchannel_logout_uri.as_deref() else {
        idp.logout_delivered(&logout.id, Some("no backchannel_logout_uri"))?;
        return Ok(None);
    };
    let minter = Minter {
        config,
        keys,
        now: idp.now(),
    };
    let result = minter
        .logout_token(&client, &logout.user_id, &logout.session_id)
        .map_err(SendFailure::Token)
        .and_then(|token| {
            agent
                .post(uri)
                .set("Cache-Control", "no-store")
                .send_form(&[("logout_token", token.as_str())])
                .map(|r| r.status())
                .map_err(|e| match e {
                    ureq::Error::Status(code, _) => SendFailure::Status(code),
                    ureq::Error::Transport(t) => SendFailure::Transport(t.kind()),
                })
        });
    let delivery = |ok: bool, detail: String| Delivery {
        client_id: logout.client_id.clone(),
        sid: logout.session_id.clone(),
        ok,
        detail,
    };
    match result {
        Ok(status) => {
            idp.logout_delivered(&logout.id, None)?;
            if let Some(m) = metrics {
                m.backchannel("sent");
            }
            Ok(Some(delivery(true, format!("HTTP {status}"))))
        }
        Err(e) => {
            let outcome = idp.logout_failed(logout, &e.to_string())?;
            let (label, detail) = match outcome {
                FailedAttempt::RetryAt(at) => {
                    tracing::warn!(client_id = %logout.client_id, sid = %logout.session_id, attempt = logout.attempts, error = %e, retry_at = at, "back-channel logout failed; will retry");
                    ("retried", format!("{e}; retried later"))
                }
                FailedAttempt::GaveUp => {
                    tracing::error!(client_id = %logout.client_id, sid = %logout.session_id, attempts = logout.attempts, error = %e, "back-channel logout failed for good");
                    ("failed", format!("{e}; given up"))
                }
            };
            if let Some(m) = metrics {
                m.backchannel(label);
            }
            Ok(Some(delivery(false, detail)))
        }
    }
}
