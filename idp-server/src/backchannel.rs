//! Back-Channel Logout 1.0: when a session ends, every app that received tokens in it and
//! registered a `backchannel_logout_uri` gets a signed logout token by POST.

use std::time::Duration;

use idp_core::sessions::EndedSession;

use crate::config::Config;
use crate::keys::Keyring;
use crate::tokens::Minter;

/// One delivery attempt's result, for the operator's report.
#[derive(Debug, serde::Serialize)]
pub struct Delivery {
    pub client_id: String,
    pub sid: String,
    pub ok: bool,
    pub detail: String,
}

/// Sends the logout tokens (blocking; at most 5 s per app).
pub fn deliver(config: &Config, keys: &Keyring, now: i64, ended: &[EndedSession]) -> Vec<Delivery> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .redirects(0)
        .build();
    let minter = Minter { config, keys, now };
    let mut out = Vec::new();
    for session in ended {
        for client_id in &session.clients {
            let Some(uri) = config
                .client(client_id)
                .and_then(|c| c.backchannel_logout_uri.as_deref())
            else {
                continue;
            };
            let result = minter
                .logout_token(client_id, &session.user_id, &session.sid)
                .map_err(|e| e.to_string())
                .and_then(|token| {
                    agent
                        .post(uri)
                        .set("Cache-Control", "no-store")
                        .send_form(&[("logout_token", token.as_str())])
                        .map(|r| r.status())
                        .map_err(|e| match e {
                            ureq::Error::Status(code, _) => format!("HTTP {code}"),
                            ureq::Error::Transport(t) => t.kind().to_string(),
                        })
                });
            let (ok, detail) = match result {
                Ok(status) => (true, format!("HTTP {status}")),
                Err(e) => {
                    tracing::warn!(client_id = %client_id, sid = %session.sid, error = %e, "back-channel logout failed");
                    (false, e)
                }
            };
            out.push(Delivery {
                client_id: client_id.clone(),
                sid: session.sid.clone(),
                ok,
                detail,
            });
        }
    }
    out
}
