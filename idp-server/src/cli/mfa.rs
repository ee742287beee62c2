//! `mfa enable|disable|status|disconnect`.

use idp_core::accounts::Change;
use idp_core::{Actor, MfaPolicy};
use serde_json::json;

use super::args::MfaCmd;
use super::output::{mfa_state, say_change, Output};
use super::session::backchannel_logout;
use super::CliError;
use crate::mail::Mailer;
use crate::Runtime;

pub fn run(cmd: &MfaCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), CliError> {
    let idp = &rt.idp;
    match cmd {
        MfaCmd::Enable { account } => {
            // Sessions signed in without a second factor end now (with back-channel logout).
            let (change, ended) = idp.set_mfa_policy(account, MfaPolicy::Required, actor)?;
            let (_, note) = backchannel_logout(rt, &ended)?;
            say_change(
                out,
                change,
                &format!(
                    "MFA is now required for every user of {account}; {} session(s) without a second factor ended{note}",
                    ended.len()
                ),
                &format!("MFA is already required for {account}"),
            );
        }
        MfaCmd::Disable { account } => {
            let (change, _) = idp.set_mfa_policy(account, MfaPolicy::Off, actor)?;
            say_change(
                out,
                change,
                &format!("MFA is now off for every user of {account} (linked apps are kept for a later enable)"),
                &format!("MFA is already off for {account}"),
            );
        }
        MfaCmd::Status { account } => {
            let a = idp.account_by_slug(account)?;
            let rows: Vec<_> = idp
                .users_with_enrollment(account)?
                .into_iter()
                .map(|(u, state)| (u.email, state))
                .collect();
            if out.json {
                let users: Vec<_> = rows
                    .iter()
                    .map(|(e, s)| json!({"email": e, "state": s}))
                    .collect();
                out.say(
                    "",
                    json!({"account": a.slug, "policy": a.mfa_policy, "users": users}),
                );
            } else {
                outln!("{}: MFA {}", a.slug, a.mfa_policy.as_str());
                for (email, s) in rows {
                    outln!("{email}\t{}", mfa_state(s));
                }
            }
        }
        MfaCmd::Disconnect { email, reason } => {
            let u = idp.user_by_email(email)?;
            let done = idp.disconnect_mfa(&u, actor, reason)?;
            if done.change == Change::Changed {
                // The user and the account's administrators hear of it (a support ticket may
                // have been opened by someone else than the user).
                let mailer = Mailer::new(&rt.config)?;
                for (to, e) in mailer.send_disconnect_notices(&u, &done, reason, idp.now()) {
                    eprintln!("warning: the notice to {to} was not sent: {e}");
                }
            }
            say_change(
                out,
                done.change,
                &format!(
                    "disconnected the authenticator app of {} and ended their sessions; {}",
                    u.email,
                    if done.relink_token.is_some() {
                        "they were mailed the link to link a new app"
                    } else {
                        "the next sign-in shows a new QR code"
                    }
                ),
                &format!("{} has no authenticator app linked", u.email),
            );
        }
    }
    Ok(())
}
