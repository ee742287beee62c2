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
/// Deliveries of a round made at once: each is a signature and a round trip to an app, so one
/// at a time a pass that ended 10,000 sessions took 13-18 s to tell their apps here (one core
/// signing, the database idle), and an app 50 ms away would make it minutes.
const PARALLEL: usize = 4;
// A batch is recorded after its last send: the slowest batch (each thread's share timing out in
// turn) must end well within the claim's lease, or another replica could claim and send the
// same logouts again.
const _: () = assert!(
    (BATCH as u64).div_ceil(PARALLEL as u64) * TIMEOUT.as_secs()
        < idp_core::outbox::CLAIM_LEASE_SECS as u64 / 2
);

/// Delivers what is due now (all of it, or only the logouts of `sessions`), blocking. Returns
/// what was attempted; an app without a back-channel endpoint is not counted. Each round claims
/// a batch, sends it [`PARALLEL`] at a time, then records the outcomes: the deliveries in one
/// transaction (one commit per logout held 10,000 of them to ~850/s here, whatever the apps'
/// speed), each failure with its retry or its audit event.
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
        let sent = send_all(idp, config, keys, &agent, &claimed);
        let done: Vec<(&PendingLogout, Option<&str>)> = claimed
            .iter()
            .zip(&sent)
            .filter_map(|(logout, s)| match s {
                Sent::Ok(_) => Some((logout, None)),
                Sent::NotListening(why) => Some((logout, Some(*why))),
                Sent::Failed(_) => None,
            })
            .collect();
        let recorded = idp.logouts_delivered(&done)?;
        if recorded < done.len() {
            tracing::warn!(
                lost = done.len() - recorded,
                "back-channel logouts sent after their claim ran out; another replica holds them now"
            );
        }
        for (logout, s) in claimed.iter().zip(sent) {
            if let Some(d) = report(idp, metrics, logout, s)? {
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

/// One attempt's outcome, before it is recorded.
enum Sent {
    /// The app answered with this status (200 or 204).
    Ok(u16),
    /// Nothing to send: the app is gone from the configuration or has no endpoint.
    NotListening(&'static str),
    Failed(SendFailure),
}

/// Sends every logout of a batch, [`PARALLEL`] at a time; the outcomes in the batch's order.
fn send_all(
    idp: &Idp,
    config: &Config,
    keys: &Keyring,
    agent: &ureq::Agent,
    batch: &[PendingLogout],
) -> Vec<Sent> {
    let per_thread = batch.len().div_ceil(PARALLEL).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = batch
            .chunks(per_thread)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|logout| send_one(idp, config, keys, agent, logout))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn send_one(
    idp: &Idp,
    config: &Config,
    keys: &Keyring,
    agent: &ureq::Agent,
    logout: &PendingLogout,
) -> Sent {
    let Some(client) = config.client(&logout.client_id) else {
        return Sent::NotListening("the client is no longer configured");
    };
    let Some(uri) = client.backchannel_logout_uri.as_deref() else {
        return Sent::NotListening("no backchannel_logout_uri");
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
                .map_err(|e| match e {
                    ureq::Error::Status(code, _) => SendFailure::Status(code),
                    ureq::Error::Transport(t) => SendFailure::Transport(t.kind()),
                })
        })
        // Back-Channel Logout 1.0 section 2.8: 200 (or 204) says the app logged the user out;
        // anything else (a redirect to its sign-in page, say) did not.
        .and_then(|r| match r.status() {
            status @ (200 | 204) => Ok(status),
            other => Err(SendFailure::Status(other)),
        });
    match result {
        Ok(status) => Sent::Ok(status),
        Err(e) => Sent::Failed(e),
    }
}

/// Counts and logs one outcome (a failure is recorded here: retried later, or given up); the
/// delivery for the operator's report (none for an app that does not listen).
fn report(
    idp: &Idp,
    metrics: Option<&Metrics>,
    logout: &PendingLogout,
    sent: Sent,
) -> Result<Option<Delivery>, idp_core::StoreError> {
    let delivery = |ok: bool, detail: String| Delivery {
        client_id: logout.client_id.clone(),
        sid: logout.session_id.clone(),
        ok,
        detail,
    };
    match sent {
        Sent::NotListening(_) => Ok(None),
        Sent::Ok(status) => {
            if let Some(m) = metrics {
                m.backchannel("sent");
            }
            Ok(Some(delivery(true, format!("HTTP {status}"))))
        }
        Sent::Failed(e) => {
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
                FailedAttempt::TakenOver => {
                    tracing::warn!(client_id = %logout.client_id, sid = %logout.session_id, error = %e, "back-channel logout failed after its claim ran out; another replica holds it now");
                    ("retried", format!("{e}; taken over by another replica"))
                }
            };
            if let Some(m) = metrics {
                m.backchannel(label);
            }
            Ok(Some(delivery(false, detail)))
        }
    }
}
