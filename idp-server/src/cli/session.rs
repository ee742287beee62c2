//! `session list|revoke`, and the back-channel logout every session-ending command delivers.

use idp_core::Actor;
use serde_json::json;

use super::args::{EmailArg, SessionCmd};
use super::output::{ts, Output};
use super::CliError;
use crate::{keys, Runtime};

pub fn run(cmd: &SessionCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), CliError> {
    let idp = &rt.idp;
    match cmd {
        SessionCmd::List(EmailArg { email }) => {
            let u = idp.user_by_email(email)?;
            let sessions = idp.live_sessions(&u.id)?;
            if out.json {
                out.say("", json!({"sessions": sessions}));
            } else if sessions.is_empty() {
                outln!("{} has no live session", u.email);
            } else {
                for s in &sessions {
                    outln!(
                        "{}\tsigned in {}\tlast active {}\tidle expiry {}\tamr={}\tip={}",
                        s.id,
                        ts(s.auth_time),
                        ts(s.last_active_at),
                        ts(s.idle_expires_at),
                        s.amr.join(","),
                        s.ip.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        SessionCmd::Revoke(EmailArg { email }) => {
            let u = idp.user_by_email(email)?;
            let ended = idp.end_user_sessions(&u, actor, None)?;
            let (deliveries, note) = backchannel_logout(rt, &ended)?;
            let text = format!("ended {} session(s) of {}{note}", ended.len(), u.email);
            out.say(
                text,
                json!({"ended": ended.len(), "backchannel": deliveries}),
            );
        }
    }
    Ok(())
}

/// Back-channel logout to the apps of sessions an operator ended, delivered from the outbox by
/// this command; the deliveries and a note for people ("; back-channel logout sent to 2
/// app(s)"). What fails here is retried by the running servers.
pub fn backchannel_logout(
    rt: &Runtime,
    ended: &[idp_core::sessions::EndedSession],
) -> Result<(Vec<crate::backchannel::Delivery>, String), CliError> {
    if !ended.iter().any(|e| !e.clients.is_empty()) {
        return Ok((Vec::new(), String::new()));
    }
    let idp = &rt.idp;
    let keyring = keys::Keyring::load_or_create(idp, rt.publish_retired_for())?;
    let sids: Vec<String> = ended.iter().map(|e| e.sid.clone()).collect();
    let deliveries = crate::backchannel::deliver_due(idp, &rt.config, &keyring, &sids)?;
    let failed = deliveries.iter().filter(|d| !d.ok).count();
    if deliveries.is_empty() {
        return Ok((deliveries, String::new()));
    }
    let mut note = format!(
        "; back-channel logout sent to {} app(s)",
        deliveries.len() - failed
    );
    if failed > 0 {
        note.push_str(&format!(
            ", {failed} failed (the servers retry them; see the log)"
        ));
    }
    Ok((deliveries, note))
}
