//! Back-Channel Logout 1.0 delivery from the durable outbox (`idp_core::outbox`). Whichever
//! replica claims a due logout mints a logout token, signed with the algorithm the client
//! registered for its ID tokens, POSTs it to the client's `backchannel_logout_uri`, and records
//! the outcome: delivered, retried later with backoff, or given up (an audit event).
//!
//! Each app has its own lane (`lane`): its logouts are claimed, sent and recorded apart from
//! the others', so one app that never answers delays no other app's logouts. Every delivery has
//! a deadline, its name lookup and connect included (`send`), so a round always ends within its
//! claim's lease ([`LONGEST_ROUND`]).

mod lane;
mod send;

pub use lane::{Deliverer, Delivery, LONGEST_ROUND};

use crate::config::Config;
use crate::keys::Keyring;
use idp_core::Idp;

/// Delivers the due logouts of `sessions` now, blocking (an operator command delivers what it
/// ended): one lane per app, all at once. Returns what was attempted; an app without a
/// back-channel endpoint is not counted. What fails here is retried by the running servers.
pub fn deliver_due(
    idp: &Idp,
    config: &Config,
    keys: &Keyring,
    sessions: &[String],
) -> Result<Vec<Delivery>, idp_core::StoreError> {
    let deliverer = Deliverer::default();
    let apps = idp.apps_with_due_logouts(Some(sessions))?;
    std::thread::scope(|scope| {
        let lanes: Vec<_> = apps
            .iter()
            .map(|app| {
                let deliverer = &deliverer;
                scope.spawn(move || {
                    deliverer.lane(idp, config, keys, None, app, Some(sessions), &|| true)
                })
            })
            .collect();
        let mut out = Vec::new();
        for lane in lanes {
            let lane = lane
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            out.extend(lane.deliveries);
        }
        Ok(out)
    })
}
