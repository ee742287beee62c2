//! `account create|list|show`.

use idp_core::Actor;
use serde_json::json;

use super::args::AccountCmd;
use super::output::{ts, Output};
use super::CliError;
use crate::Runtime;

pub fn run(cmd: &AccountCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), CliError> {
    let idp = &rt.idp;
    match cmd {
        AccountCmd::Create { slug, name } => {
            let a = idp.create_account(slug, name, actor)?;
            out.say(
                format!("created account {} ({}); MFA is off", a.slug, a.name),
                json!({"account": a}),
            );
        }
        AccountCmd::List => {
            let list = idp.list_accounts()?;
            if out.json {
                out.say("", json!({"accounts": list}));
            } else if list.is_empty() {
                outln!("no accounts");
            } else {
                for a in &list {
                    outln!("{}\t{}\tmfa={}", a.slug, a.name, a.mfa_policy.as_str());
                }
            }
        }
        AccountCmd::Show { slug } => {
            let a = idp.account_by_slug(slug)?;
            let users = idp.count_users(&a.id)?;
            out.say(
                format!(
                    "{}: {}\nmfa: {}\nusers: {users}\ncreated: {}",
                    a.slug,
                    a.name,
                    a.mfa_policy.as_str(),
                    ts(a.created_at)
                ),
                json!({"account": a, "users": users}),
            );
        }
    }
    Ok(())
}
