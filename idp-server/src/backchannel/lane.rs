//! One app's delivery lane. Each app's logouts are claimed, sent and recorded apart from every
//! other app's, so an app that never answers holds up only its own. A round claims up to
//! [`BATCH`] of the app's due logouts, sends them [`PARALLEL`] at a time, each within
//! [`DELIVERY_DEADLINE`], then records the outcomes; once one delivery finds the app
//! unreachable, its other logouts of the round are not tried (they fail with it and are
//! retried with its backoff), so a dead app costs one deadline per round, not one per logout.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use idp_core::outbox::{FailedAttempt, PendingLogout, CLAIM_LEASE_SECS};
use idp_core::Idp;

use super::send::{self, SendFailure, DELIVERY_DEADLINE};
use crate::config::Config;
use crate::keys::Keyring;
use crate::metrics::Metrics;
use crate::tokens::Minter;

/// Logouts one round of a lane claims.
const BATCH: i64 = 20;
/// Deliveries of a round under way at once: each is a signature and a round trip to the app,
/// so one at a time a pass that ended 10,000 sessions took 13-18 s to tell their apps here (one
/// core signing, the database idle), and an app 50 ms away would make it minutes.
const PARALLEL: usize = 4;
/// Rounds one lane runs before it ends (the caller starts it again while logouts are due).
const ROUNDS: usize = 50;
/// The longest a round can hold its claims: each sending thread's share of the batch, one
/// delivery after the other, each taking its whole deadline. Every step of a delivery is inside
/// that deadline (the token, the name lookup, the connect, the answer), so this holds whatever
/// the app does.
pub const LONGEST_ROUND: Duration = Duration::from_millis(
    DELIVERY_DEADLINE.as_millis() as u64 * (BATCH as u64).div_ceil(PARALLEL as u64),
);
// A round records its outcomes after its last delivery: the longest one must end well within
// its claim's lease (half of it left for the claim, the record and a busy machine), or another
// replica could claim the same logouts and send them again. (A round that overran all the same,
// on a stalled machine, records nothing over the other replica's claim: see
// `idp_core::outbox`.)
const _: () = assert!(2 * LONGEST_ROUND.as_millis() <= CLAIM_LEASE_SECS as u128 * 1000);

/// One delivery attempt's result, for the operator's report.
#[derive(Debug, serde::Serialize)]
pub struct Delivery {
    pub client_id: String,
    pub sid: String,
    pub ok: bool,
    pub detail: String,
}

/// One attempt's outcome, before it is recorded.
enum Sent {
    /// The app answered with this status (200 or 204).
    Ok(u16),
    /// Nothing to send: the app is gone from the configuration or has no endpoint.
    NotListening(&'static str),
    Failed(SendFailure),
}

/// What a lane (or one of its rounds) did.
pub struct Progress {
    /// What was attempted (an app without a back-channel endpoint is not counted).
    pub deliveries: Vec<Delivery>,
    /// Whether there may be more to deliver now: the last round claimed logouts and reached
    /// the app.
    pub more: bool,
}

/// Delivers logouts, one lane per app: the HTTP client, and for each app its sending threads
/// (a delivery given up at its deadline may leave one behind; past `2 * PARALLEL` of them
/// nothing more is sent to that app until they end, so a hostile app cannot make the process
/// pile up threads).
pub struct Deliverer {
    agent: ureq::Agent,
    sending: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

impl Default for Deliverer {
    fn default() -> Self {
        Deliverer {
            agent: send::agent(),
            sending: Mutex::default(),
        }
    }
}

impl Deliverer {
    fn sending(&self, app: &str) -> Arc<AtomicUsize> {
        self.sending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(app.to_string())
            .or_default()
            .clone()
    }

    /// Runs `app`'s lane, blocking: rounds while they find logouts and reach the app, at most
    /// [`ROUNDS`] (then `more` says whether to start it again), and while `go_on` says so
    /// (checked before each round). Optionally only the logouts of `sessions`.
    #[allow(clippy::too_many_arguments)]
    pub fn lane(
        &self,
        idp: &Idp,
        config: &Config,
        keys: &Keyring,
        metrics: Option<&Metrics>,
        app: &str,
        sessions: Option<&[String]>,
        go_on: &dyn Fn() -> bool,
    ) -> Result<Progress, idp_core::StoreError> {
        let mut lane = Progress {
            deliveries: Vec::new(),
            more: true,
        };
        for _ in 0..ROUNDS {
            if !lane.more || !go_on() {
                break;
            }
            let round = self.round(idp, config, keys, metrics, app, sessions)?;
            lane.deliveries.extend(round.deliveries);
            lane.more = round.more;
        }
        Ok(lane)
    }

    /// One round: claims, sends, records (the deliveries in one transaction: one commit per
    /// logout held 10,000 of them to ~850/s here, whatever the apps' speed; each failure with
    /// its retry or its audit event).
    fn round(
        &self,
        idp: &Idp,
        config: &Config,
        keys: &Keyring,
        metrics: Option<&Metrics>,
        app: &str,
        sessions: Option<&[String]>,
    ) -> Result<Progress, idp_core::StoreError> {
        let claimed = idp.claim_logouts(app, BATCH, sessions)?;
        if claimed.is_empty() {
            return Ok(Progress {
                deliveries: Vec::new(),
                more: false,
            });
        }
        let sent = self.send_all(idp, config, keys, app, &claimed);
        let reached = !sent
            .iter()
            .any(|s| matches!(s, Sent::Failed(e) if e.unreachable()));
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
                client_id = %app,
                lost = done.len() - recorded,
                "back-channel logouts sent after their claim ran out; another replica holds them now"
            );
        }
        let mut deliveries = Vec::new();
        for (logout, s) in claimed.iter().zip(sent) {
            if let Some(d) = report(idp, metrics, logout, s)? {
                deliveries.push(d);
            }
        }
        Ok(Progress {
            deliveries,
            more: reached,
        })
    }

    /// Sends every logout of a batch, [`PARALLEL`] at a time, each thread its share one after
    /// the other; once the app is found unreachable, what is not yet sent is not tried. The
    /// outcomes in the batch's order.
    fn send_all(
        &self,
        idp: &Idp,
        config: &Config,
        keys: &Keyring,
        app: &str,
        batch: &[PendingLogout],
    ) -> Vec<Sent> {
        let sending = self.sending(app);
        let unreachable: OnceLock<String> = OnceLock::new();
        let per_thread = batch.len().div_ceil(PARALLEL).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = batch
                .chunks(per_thread)
                .map(|part| {
                    let (sending, unreachable) = (&sending, &unreachable);
                    scope.spawn(move || {
                        part.iter()
                            .map(|logout| {
                                if let Some(why) = unreachable.get() {
                                    return Sent::Failed(SendFailure::AppUnreachable(why.clone()));
                                }
                                let sent = self.send_one(idp, config, keys, sending, logout);
                                if let Sent::Failed(e) = &sent {
                                    if e.unreachable() {
                                        unreachable.set(e.to_string()).ok();
                                    }
                                }
                                sent
                            })
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
        &self,
        idp: &Idp,
        config: &Config,
        keys: &Keyring,
        sending: &Arc<AtomicUsize>,
        logout: &PendingLogout,
    ) -> Sent {
        let deadline = Instant::now() + DELIVERY_DEADLINE;
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
                send::post_within(&self.agent, uri, token, deadline, sending, 2 * PARALLEL)
            });
        match result {
            Ok(status) => Sent::Ok(status),
            Err(e) => Sent::Failed(e),
        }
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
