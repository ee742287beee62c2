//! What a running server does besides answering requests: the sweeper (sessions whose idle
//! window or absolute lifetime passed are ended, at most `[session] sweep_interval` late), the
//! back-channel deliverer (the outbox, at once when this replica ended a session, else polled
//! every second, so logouts queued by another replica or a command are delivered too), and
//! housekeeping (signing keys reloaded every minute, expired rows purged every ten).

use std::sync::Arc;
use std::time::Duration;

use actix_web::rt::time::{interval, timeout};
use actix_web::web;

use crate::web::AppState;

/// Runs until the server stops (the caller aborts it).
pub async fn run(state: AppState) {
    let sweeper = actix_web::rt::spawn(sweep(state.clone()));
    let deliverer = actix_web::rt::spawn(deliver(state.clone()));
    housekeeping(state).await;
    sweeper.abort();
    deliverer.abort();
}

async fn sweep(state: AppState) {
    let mut tick = interval(state.config.sweep_interval);
    loop {
        tick.tick().await;
        let s = state.clone();
        let started = std::time::Instant::now();
        match web::block(move || s.idp.sweep_expired_sessions()).await {
            Ok(Ok(report)) => {
                state.metrics.sweep_pass(started.elapsed().as_secs_f64());
                if report.ended > 0 {
                    state.metrics.sessions_expired(report.ended as u64);
                    tracing::info!(
                        ended = report.ended,
                        logouts = report.logouts_queued,
                        ms = started.elapsed().as_millis() as u64,
                        "ended expired sessions"
                    );
                    state.outbox.notify_one();
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "session sweep failed; retried next tick"),
            Err(_) => tracing::warn!("session sweep did not run"),
        }
    }
}

/// Why a delivery round did not run to its end.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Store(#[from] idp_core::StoreError),
    #[error("no signing keys loaded")]
    NoKeys,
}

async fn deliver(state: AppState) {
    let signal: Arc<tokio::sync::Notify> = state.outbox.clone();
    let mut more = false;
    loop {
        // Woken by this replica's own session ends, or once a second for everyone else's (the
        // time-out is the second case, not an error); at once while the last round had work (a
        // round is bounded, and a second's wait per bound held 10,000 logouts to ~850/s).
        if !more {
            timeout(Duration::from_secs(1), signal.notified())
                .await
                .ok();
        }
        let s = state.clone();
        let result = web::block(move || -> Result<usize, RoundError> {
            if !s.idp.logouts_due()? {
                return Ok(0);
            }
            let keys = crate::keys::current(&s.keys).ok_or(RoundError::NoKeys)?;
            let done =
                crate::backchannel::deliver_due(&s.idp, &s.config, &keys, Some(&s.metrics), None)?;
            Ok(done.len())
        })
        .await;
        more = matches!(result, Ok(Ok(attempted)) if attempted > 0);
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "back-channel delivery round failed"),
            Err(_) => tracing::warn!("back-channel delivery did not run"),
        }
    }
}

async fn housekeeping(state: AppState) {
    let mut tick = interval(Duration::from_secs(60));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        let s = state.clone();
        let ran = web::block(move || {
            if let Err(e) = crate::keys::reload(&s.idp, &s.keys, s.config.publish_retired_for()) {
                tracing::warn!(error = %e, "could not reload signing keys");
            }
            if n % 10 == 0 {
                purge(&s);
            }
        })
        .await;
        if ran.is_err() {
            tracing::warn!("housekeeping did not run");
        }
    }
}

/// A purge: deletes what can never be used again, returns how many rows.
type Purge<'a> = &'a dyn Fn() -> Result<usize, idp_core::StoreError>;

/// Deletes what can never be used again; says what it could not.
fn purge(s: &AppState) {
    let idp = &s.idp;
    // Retired keys are unpublished after the window; a day later nothing can need them.
    let keys_cutoff = idp.now() - s.config.publish_retired_for() - 24 * 60 * 60;
    let jobs: [(&str, Purge<'_>); 6] = [
        ("login flows", &|| idp.purge_flows()),
        ("sessions", &|| idp.purge_expired()),
        ("attempt counters", &|| idp.purge_attempt_counters()),
        ("email tokens", &|| idp.purge_email_tokens()),
        ("back-channel outbox", &|| idp.purge_outbox()),
        ("retired signing keys", &|| {
            idp.drop_retired_keys(keys_cutoff)
        }),
    ];
    for (what, job) in jobs {
        match job() {
            Ok(0) => {}
            Ok(n) => tracing::debug!(what, purged = n, "housekeeping"),
            Err(e) => tracing::warn!(what, error = %e, "housekeeping could not purge"),
        }
    }
}
