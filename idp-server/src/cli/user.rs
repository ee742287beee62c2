//! `user create|list|show|disable|enable|set-password|unlock|send-link|grant-role|revoke-role`.

use idp_core::email_tokens::Purpose;
use idp_core::users::NewUser;
use idp_core::{Actor, User};
use serde_json::json;

use super::args::{EmailArg, UserCmd};
use super::output::{mfa_state, read_password, say_change, ts, user_json, Output};
use super::session::backchannel_logout;
use super::CliError;
use crate::mail::Mailer;
use crate::Runtime;

/// Mails a user the link they need (invitation or reset); a failed send says how to retry.
fn send_link(rt: &Runtime, user: &User, actor: &Actor) -> Result<Purpose, CliError> {
    let (purpose, token) = rt.idp.link_on_request(user, actor)?;
    let mailer = Mailer::new(&rt.config)?;
    mailer
        .send_link(
            user,
            purpose,
            &token,
            mailer.lang_for(user.locale.as_deref(), None),
        )
        .map_err(|e| {
            CliError::Refused(format!(
                "{e} (the link stays valid; run `user send-link --email {}` to retry)",
                user.email
            ))
        })?;
    Ok(purpose)
}

pub fn run(cmd: &UserCmd, rt: &Runtime, out: &Output, actor: &Actor) -> Result<(), CliError> {
    let idp = &rt.idp;
    match cmd {
        UserCmd::Create {
            account,
            email,
            name,
            work_email,
            invite,
            password_stdin,
        } => {
            let password = if *password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let u = idp.create_user(
                account,
                NewUser {
                    email,
                    display_name: name,
                    work_email: work_email.as_deref(),
                    password: password.as_deref(),
                },
                actor,
            )?;
            if *invite {
                send_link(rt, &u, actor).map_err(|e| {
                    CliError::Refused(format!(
                        "user {} created, but the invitation was not sent: {e}",
                        u.email
                    ))
                })?;
                out.say(
                    format!("created user {} in {account}; invitation sent", u.email),
                    json!({"user": user_json(&u), "invitation_sent": true}),
                );
            } else {
                out.say(
                    format!("created user {} in {account} (active)", u.email),
                    json!({"user": user_json(&u)}),
                );
            }
        }
        UserCmd::List { account } => {
            let users = idp.users_with_enrollment(account)?;
            if out.json {
                let users: Vec<_> = users.into_iter().map(|(u, _)| u).collect();
                out.say("", json!({"users": users}));
            } else if users.is_empty() {
                outln!("no users in {account}");
            } else {
                for (u, mfa) in &users {
                    let mfa = *mfa;
                    outln!(
                        "{}\t{}\t{}\tmfa={}",
                        u.email,
                        u.display_name,
                        u.status.as_str(),
                        mfa_state(mfa)
                    );
                }
            }
        }
        UserCmd::Show(EmailArg { email }) => {
            let u = idp.user_by_email(email)?;
            let account = idp
                .account_by_id(&u.account_id)?
                .map(|a| a.slug)
                .unwrap_or_default();
            let mfa = idp.enrollment_state(&u.id)?;
            let pwd_lock = idp.password_lockout(&u)?;
            let totp_lock = idp.totp_lockout(&u)?;
            let sessions = idp.live_sessions(&u.id)?;
            let locked: Vec<String> = [("password", &pwd_lock), ("totp", &totp_lock)]
                .iter()
                .filter_map(|(what, s)| {
                    s.as_ref()
                        .and_then(|s| s.locked_until)
                        .map(|t| format!("{what} locked until {}", ts(t)))
                })
                .collect();
            let text = format!(
                "{}\nname: {}\naccount: {account}\nstatus: {}\nemail verified: {}\nwork email: {}\nmfa: {}\nlockout: {}\nlive sessions: {}\ncreated: {}",
                u.email,
                u.display_name,
                u.status.as_str(),
                if u.email_verified { "yes" } else { "no" },
                u.work_email.as_deref().unwrap_or("-"),
                mfa_state(mfa),
                if locked.is_empty() { "none".to_string() } else { locked.join(", ") },
                sessions.len(),
                ts(u.created_at),
            );
            out.say(text, json!({"user": user_json(&u), "account": account, "mfa": mfa, "lockout": {"password": pwd_lock, "totp": totp_lock}, "live_sessions": sessions.len()}));
        }
        UserCmd::Disable(EmailArg { email }) => {
            // Disabling ends the sessions in the same transaction and says which.
            let (change, ended) = idp.set_user_enabled(email, false, actor)?;
            let (_, note) = backchannel_logout(rt, &ended)?;
            say_change(
                out,
                change,
                &format!("disabled {email}; {} session(s) ended{note}", ended.len()),
                &format!("{email} is already disabled"),
            );
        }
        UserCmd::Enable(EmailArg { email }) => {
            let (change, _) = idp.set_user_enabled(email, true, actor)?;
            say_change(
                out,
                change,
                &format!("enabled {email}"),
                &format!("{email} is already enabled"),
            );
        }
        UserCmd::SetPassword { email, .. } => {
            let u = idp.user_by_email(email)?;
            let pw = read_password()?;
            // The support answer to a compromised account: every session ends, apps are told.
            let (_, ended) = idp.set_password(&u.id, &pw, actor, None, None)?;
            let (deliveries, note) = backchannel_logout(rt, &ended)?;
            out.say(
                format!(
                    "password of {} changed (authenticator app kept); {} session(s) ended{note}",
                    u.email,
                    ended.len()
                ),
                json!({"changed": true, "ended": ended.len(), "backchannel": deliveries}),
            );
        }
        UserCmd::Unlock(EmailArg { email }) => {
            idp.unlock_user(email, actor)?;
            out.say(
                format!("cleared the lockouts of {email}"),
                json!({"unlocked": true}),
            );
        }
        UserCmd::SendLink(EmailArg { email }) => {
            let u = idp.user_by_email(email)?;
            let purpose = send_link(rt, &u, actor)?;
            out.say(
                format!(
                    "sent {} to {}",
                    match purpose {
                        Purpose::Invite => "an invitation link",
                        Purpose::Reset | Purpose::Relink => "a password reset link",
                    },
                    u.email
                ),
                json!({"sent": purpose.as_str()}),
            );
        }
        UserCmd::GrantRole { email, role } | UserCmd::RevokeRole { email, role } => {
            let held = matches!(cmd, UserCmd::GrantRole { .. });
            let u = idp.user_by_email(email)?;
            let done = idp.set_role(&u, *role, held, actor)?;
            let (_, note) = backchannel_logout(rt, &done.ended)?;
            if let Some(token) = &done.relink_token {
                // Their first app only through their mailbox (the user holds a role now).
                let mailer = Mailer::new(&rt.config)?;
                if let Err(e) = mailer.send_link(
                    &u,
                    Purpose::Relink,
                    token,
                    mailer.lang_for(u.locale.as_deref(), None),
                ) {
                    eprintln!("warning: the link to {} was not sent: {e}", u.email);
                }
            }
            let role = role.as_str();
            if held {
                say_change(
                    out,
                    done.change,
                    &format!(
                        "granted {role} to {email}; {} session(s) without a second factor ended{note}; their next sign-in needs one{}",
                        done.ended.len(),
                        if done.relink_token.is_some() {
                            " (they were mailed the link to link their first app)"
                        } else {
                            ""
                        }
                    ),
                    &format!("{email} already holds {role}"),
                );
            } else {
                say_change(
                    out,
                    done.change,
                    &format!("took {role} back from {email}; their console sessions ended"),
                    &format!("{email} does not hold {role}"),
                );
            }
        }
    }
    Ok(())
}
