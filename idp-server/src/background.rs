//! What a running server does besides answering requests: the sweeper (sessions whose idle
//! window or absolute lifetime passed are ended, at most `[session] sweep_interval` late), the
//! back-channel deliverer (the outbox, at once when this replica ended a session, else polled
//! every second, so logouts queued by another replica or a command are delivered too; one lane
//! per app, so a slow app delays only its own logouts; paused while this replica sweeps), and
//! housekeeping (signing keys reloaded every minute, expired rows purged every ten).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::rt::time::{interval, timeout};
use actix_web::web;

use crate::web::AppState;

/// Runs until the server stops (the caller aborts it).
pub async fn run(state: AppState) {
    let sweeping = Arc::new(AtomicBool::new(false));
    let sweeper = actix_web::rt::spawn(sweep(state.clone(), sweeping.clone()));
    let deliverer = actix_web::rt::spawn(deliver(state.clone(), sweeping));
    housekeeping(state).await;
    sweeper.abort();
    deliverer.abort();
}

/// Says "a pass runs" while it lives (however the pass ends).
struct Sweeping(Arc<AtomicBool>);

impl Sweeping {
    fn start(flag: &Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::SeqCst);
        Sweeping(flag.clone())
    }
}

impl Drop for Sweeping {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// While a pass runs, this replica's deliverer starts no lane and its lanes stop after their
/// round, so the pass has the database and the cores to itself (a first pass after a restart can
/// end thousands of sessions); the logouts it queues, and any a lane left, go out as soon as it
/// is done (it wakes the deliverer).
async fn sweep(state: AppState, sweeping: Arc<AtomicBool>) {
    let mut tick = interval(state.config.sweep_interval);
    loop {
        tick.tick().await;
        let s = state.clone();
        let started = std::time::Instant::now();
        let pass = Sweeping::start(&sweeping);
        let swept = web::block(move || s.idp.sweep_expired_sessions()).await;
        drop(pass);
        state.outbox.notify_one();
        match swept {
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
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "session sweep failed; retried next tick"),
            Err(_) => tracing::warn!("session sweep did not run"),
        }
    }
}

/// Why the deliverer could not start its lanes.
#[derive(Debug, thiserror::Error)]
enum LaneError {
    #[error(transparent)]
    Store(#[from] idp_core::StoreError),
    #[error("no signing keys loaded")]
    NoKeys,
    #[error("could not start a delivery lane: {0}")]
    Thread(std::io::Error),
}

/// This replica's delivery lanes: one thread per app with due logouts, running while it finds
/// them (see `backchannel`), so an app that never answers holds up only its own lane.
struct Lanes {
    /// Set while a sweeper pass runs (see [`sweep`]).
    sweeping: Arc<AtomicBool>,
    deliverer: crate::backchannel::Deliverer,
    /// The apps whose lane runs now.
    running: Mutex<HashSet<String>>,
    /// Set when the server stops: a lane ends after its current round.
    stopped: AtomicBool,
}

/// Takes an app's lane off the running list when its thread ends, however it ends.
struct LaneDone(Arc<Lanes>, String);

impl Drop for LaneDone {
    fn drop(&mut self) {
        self.0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.1);
    }
}

/// Stops the lanes when the deliverer stops (its task is aborted with the server).
struct StopLanes(Arc<Lanes>);

impl Drop for StopLanes {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::SeqCst);
    }
}

async fn deliver(state: AppState, sweeping: Arc<AtomicBool>) {
    let signal: Arc<tokio::sync::Notify> = state.outbox.clone();
    let lanes = Arc::new(Lanes {
        sweeping,
        deliverer: Default::default(),
        running: Default::default(),
        stopped: AtomicBool::new(false),
    });
    let _stop = StopLanes(lanes.clone());
    loop {
        // Woken by this replica's own session ends, or once a second for everyone else's (the
        // time-out is the second case, not an error). A lane keeps going by itself while its
        // app has logouts due; this only starts the lanes that are not running.
        timeout(Duration::from_secs(1), signal.notified())
            .await
            .ok();
        let (s, l) = (state.clone(), lanes.clone());
        match web::block(move || start_lanes(&s, &l)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "back-channel delivery did not start"),
            Err(_) => tracing::warn!("back-channel delivery did not run"),
        }
    }
}

/// Starts a lane for each app with due logouts whose lane is not running.
fn start_lanes(state: &AppState, lanes: &Arc<Lanes>) -> Result<(), LaneError> {
    if lanes.sweeping.load(Ordering::SeqCst) || !state.idp.logouts_due()? {
        return Ok(());
    }
    let keys = crate::keys::current(&state.keys).ok_or(LaneError::NoKeys)?;
    for app in state.idp.apps_with_due_logouts(None)? {
        let new = lanes
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(app.clone());
        if !new {
            continue;
        }
        let done = LaneDone(lanes.clone(), app.clone());
        let (state, lanes, keys) = (state.clone(), lanes.clone(), keys.clone());
        std::thread::Builder::new()
            .name("idp-backchannel-lane".into())
            .spawn(move || {
                let go_on = || {
                    !lanes.stopped.load(Ordering::SeqCst) && !lanes.sweeping.load(Ordering::SeqCst)
                };
                let metrics = Some(&*state.metrics);
                let lane = lanes.deliverer.lane(
                    &state.idp,
                    &state.config,
                    &keys,
                    metrics,
                    &done.1,
                    None,
                    &go_on,
                );
                let more = match lane {
                    Ok(lane) => lane.more,
                    Err(e) => {
                        tracing::warn!(client_id = %done.1, error = %e, "back-channel delivery round failed");
                        false
                    }
                };
                // Off the running list first, so that the wake-up finds the lane gone: a lane
                // ends after a bounded number of rounds (then starts again with the keys of the
                // moment), and waiting for the next tick held 10,000 logouts to ~850/s.
                drop(done);
                if more {
                    state.outbox.notify_one();
                }
            })
            .map_err(LaneError::Thread)?;
    }
    Ok(())
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
