//! `mfa enable|disable|status|disconnect`.

use idp_core::accounts::Change;
use idp_core::{Actor, MfaPolicy};
use serde_json::json;

use super::args::{EmailArg, MfaCmd};
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
        MfaCmd::Disconnect(EmailArg { email }) => {
            let u = idp.user_by_email(email)?;
            let change = idp.disconnect_mfa(&u, actor)?;
            if change == Change::Changed {
                // The user hears of it (a support ticket may have been opened by someone else).
                let mailer = Mailer::new(&rt.config)?;
                if let Err(e) = mailer.send(
                    &u.email,
                    mailer.default_lang(),
                    crate::mail::Mail::AppDisconnected { at: idp.now() },
                ) {
                    eprintln!("warning: the notice to {} was not sent: {e}", u.email);
                }
            }
            say_change(
                out,
                change,
                &format!(
                    "disconnected the authenticator app of {} and ended their sessions; the next sign-in shows a new QR code",
                    u.email
                ),
                &format!("{} has no authenticator app linked", u.email),
            );
        }
    }
    Ok(())
}
