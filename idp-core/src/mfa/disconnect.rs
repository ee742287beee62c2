//! Disconnecting a user's authenticator app: the help-desk procedure for a lost phone, and the
//! step a caller with a phished password asks the help desk for (CISA AA23-320A). So it is
//! made hard to abuse by design: a reason is required and recorded; each console user and admin
//! client may disconnect only so many apps an hour (`[support] disconnects_per_hour`; a refusal
//! is audited); every session of the user ends (back-channel logout); the user and their
//! account's administrators are told; and with `[mfa] relink_requires_email` the next
//! enrollment is only reachable through a link mailed to the authentication email.

use serde::Serialize;

use crate::crypto::{hash_token, random_token};
use crate::model::{
    Actor, AuditAction, AuditEvent, Change, Counter, EndReason, Purpose, Reason, Role, User,
};
use crate::store::attempts::{self, Reserved};
use crate::store::{self, audit, StoreError};
use crate::Idp;

use super::MfaError;

/// Whom a disconnect is mailed to.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    /// Their authentication email.
    pub email: String,
    /// The language they chose, if any.
    pub locale: Option<String>,
    /// The user whose app was disconnected (false: one of the account's administrators).
    pub is_subject: bool,
}

/// What a disconnect did.
#[derive(Debug)]
pub struct Disconnected {
    /// `Already` when no app was linked (nothing ended, nobody is mailed).
    pub change: Change,
    /// The user and their account's `account-admin`s, to be mailed.
    pub notify: Vec<Recipient>,
    /// With `relink_requires_email`: the single-use link (valid 24 hours) to mail the user,
    /// the only way to the next enrollment.
    pub relink_token: Option<String>,
}

impl Idp {
    /// Removes `user`'s linked app for `reason` and ends every session of theirs: their next
    /// sign-in shows a new QR code (or, with `relink_requires_email`, asks for the mailed link
    /// first). Refused while `actor` (a console user or an admin client) has reached its hourly
    /// limit; the operator at the command line is not limited.
    pub fn disconnect_mfa(
        &self,
        user: &User,
        actor: &Actor,
        reason: &str,
    ) -> Result<Disconnected, MfaError> {
        let reason = Reason::parse(reason)?;
        let now = self.now();
        let limited = matches!(actor, Actor::Console { .. } | Actor::Client { .. });
        if limited {
            let key = actor.render();
            let counters = [Counter::Disconnects(&key)];
            if let Reserved::Refused(l) =
                attempts::reserve(self.store(), now, &self.settings().throttle, &counters)?
            {
                audit::record(
                    &mut *self.store().conn()?,
                    now,
                    &AuditEvent::new(AuditAction::MfaDisconnectRefused, actor)
                        .user(&user.account_id, &user.id)
                        .reason(reason.as_str())
                        .detail(format!("limited until {}", l.until)),
                )?;
                return Err(MfaError::TooManyDisconnects(l));
            }
        }
        let relink = self.settings().totp.relink_requires_email;
        let relink_token = relink.then(random_token).transpose()?;
        let listeners = self.logout_listeners();
        let done = self.store().tx(|conn| {
            // The user's row before the app's: the order an import's update takes them in.
            store::users::hold(conn, &user.id)?;
            if !store::totp::delete(conn, &user.id)? {
                return Ok::<_, StoreError>(None);
            }
            attempts::clear(conn, &Counter::Totp(&user.id))?;
            // The lost phone's codes opened these sessions: they end with it, with back-channel
            // logout (delivered by the running servers), and the next sign-in links a new app.
            let ended = store::sessions::end_all_of_user(
                conn,
                now,
                &user.id,
                None,
                EndReason::AppDisconnected,
                &listeners,
            )?;
            if let Some(token) = &relink_token {
                // A newer link ends the older ones.
                store::email_tokens::revoke(conn, &user.id, Purpose::Relink, now)?;
                store::email_tokens::insert(
                    conn,
                    now,
                    &hash_token(token),
                    &user.id,
                    Purpose::Relink,
                )?;
                store::users::set_relink_by_email(conn, &user.id, true)?;
            }
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::MfaDisconnected, actor)
                    .user(&user.account_id, &user.id)
                    .reason(reason.as_str())
                    .detail(format!(
                        "sessions_ended={} relink_by_email={relink}",
                        ended.len()
                    )),
            )?;
            let admins = store::users::holding_role(conn, &user.account_id, Role::AccountAdmin)?;
            Ok(Some(admins))
        })?;
        let Some(admins) = done else {
            return Ok(Disconnected {
                change: Change::Already,
                notify: Vec::new(),
                relink_token: None,
            });
        };
        let mut notify = vec![Recipient {
            email: user.email.clone(),
            locale: user.locale.clone(),
            is_subject: true,
        }];
        notify.extend(
            admins
                .into_iter()
                .filter(|a| a.id != user.id)
                .map(|a| Recipient {
                    email: a.email,
                    locale: a.locale,
                    is_subject: false,
                }),
        );
        Ok(Disconnected {
            change: Change::Changed,
            notify,
            relink_token,
        })
    }
}
