//! `keys rotate|list|reseal`.

use idp_core::Actor;
use serde_json::json;

use super::args::KeysCmd;
use super::output::{ts, Output};
use super::CliError;
use crate::{keys, Runtime};

pub fn run(cmd: &KeysCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), CliError> {
    let idp = &rt.idp;
    match cmd {
        KeysCmd::Rotate => {
            let kids = keys::rotate(idp, actor)?;
            out.say(
                format!(
                    "new signing keys: {}; retired keys stay published for {} s",
                    kids.join(", "),
                    rt.publish_retired_for()
                ),
                json!({"new_kids": kids}),
            );
        }
        KeysCmd::Reseal => {
            let r = idp.reseal_secrets(actor)?;
            out.say(
                format!(
                    "re-encrypted {} TOTP secret(s), {} signing key(s) and {} secret(s) of the provider with the current master key; drop the previous key once every replica runs with the current one",
                    r.totp_secrets, r.signing_keys, r.server_secrets
                ),
                json!({"totp_secrets": r.totp_secrets, "signing_keys": r.signing_keys, "server_secrets": r.server_secrets}),
            );
        }
        KeysCmd::List => {
            let list = idp.signing_keys()?;
            if out.json {
                let v: Vec<_> = list.iter().map(|k| json!({"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "retired_at": k.retired_at})).collect();
                out.say("", json!({"keys": v}));
            } else {
                for k in &list {
                    outln!(
                        "{}\t{}\tcreated {}\t{}",
                        k.kid,
                        k.alg,
                        ts(k.created_at),
                        k.retired_at
                            .map(|r| format!("retired {}", ts(r)))
                            .unwrap_or_else(|| "active".into())
                    );
                }
            }
        }
    }
    Ok(())
}
