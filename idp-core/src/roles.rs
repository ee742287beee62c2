//! Roles: granting and taking back `support` and `account-admin` (the CLI, the admin API). A
//! role always needs a second factor (`policy::requires_second_factor`): granting one ends, in
//! the same transaction, every session of the user that never passed one (with back-channel
//! logout, as turning MFA on for an account does), and the next sign-in enrolls first (for an
//! active user without a linked app, only through a link mailed to them). Taking
//! one back ends the user's console sessions (its grants), so a revoked role acts at once.

use crate::crypto::{hash_token, random_token, CryptoError};
use crate::model::{
    Actor, AuditAction, AuditEvent, Change, EndReason, EndedSession, Purpose, Role, User,
    UserStatus,
};
use crate::store::{self, audit, sessions, StoreError};
use crate::Idp;

/// What granting or taking back a role did.
#[derive(Debug)]
pub struct RoleChange {
    /// `Already` when the user held (or did not hold) it already.
    pub change: Change,
    /// The sessions it ended (their logouts are queued).
    pub ended: Vec<EndedSession>,
    /// With `[mfa] relink_requires_email`, granted to an active user who has no linked app: the
    /// relink link to mail them, the only way to their first enrollment (so whoever else knows
    /// their password cannot link a phone of their own and become an operator).
    pub relink_token: Option<String>,
}

/// Why a role could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error(transparent)]
    /// The random generator failed.
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

/// The client id of the built-in console (its grants are the console's sessions).
pub const CONSOLE_CLIENT_ID: &str = "console";

impl Idp {
    /// Grants (`held`) or takes back `role` from `user`: audited; `Already` when nothing changed.
    pub fn set_role(
        &self,
        user: &User,
        role: Role,
        held: bool,
        actor: &Actor,
    ) -> Result<RoleChange, RoleError> {
        let now = self.now();
        let listeners = self.logout_listeners();
        let token = random_token()?;
        let relink_by_email = self.settings().totp.relink_requires_email;
        self.store().tx(|conn| {
            // The user's row first: a sign-in completing now sees the role, or its session is
            // among those ended below.
            store::users::hold(conn, &user.id)?;
            let unchanged = RoleChange {
                change: Change::Already,
                ended: Vec::new(),
                relink_token: None,
            };
            let Some(current) = store::users::by_id(conn, &user.id)? else {
                return Ok(unchanged);
            };
            let roles = current.roles.with(role, held);
            if !store::users::set_roles(conn, &user.id, roles, now)? {
                return Ok(unchanged);
            }
            // With `relink_requires_email`, a first enrollment of someone now an operator goes
            // only through their mailbox, as after a help-desk disconnect (an invited user proves
            // it with the invitation itself). Without it, the documents' flow: the next sign-in
            // shows the QR code.
            let relink = held
                && relink_by_email
                && current.status == UserStatus::Active
                && store::totp::linked(conn, &user.id)?.is_none();
            if relink {
                store::email_tokens::revoke(conn, &user.id, Purpose::Relink, now)?;
                store::email_tokens::insert(
                    conn,
                    now,
                    &hash_token(&token),
                    &user.id,
                    Purpose::Relink,
                )?;
                store::users::set_relink_by_email(conn, &user.id, true)?;
            }
            let ended = if held {
                let weak = sessions::unended_without_second_factor(
                    conn,
                    sessions::Holders::User(&user.id),
                )?;
                sessions::end(conn, now, &weak, EndReason::RoleGranted, &listeners)?
            } else {
                store::grants::revoke_of_client(conn, now, &user.id, CONSOLE_CLIENT_ID)?;
                Vec::new()
            };
            let action = if held {
                AuditAction::RoleGranted
            } else {
                AuditAction::RoleRevoked
            };
            audit::record(
                conn,
                now,
                &AuditEvent::new(action, actor)
                    .user(&current.account_id, &current.id)
                    .detail(format!(
                        "role={} sessions_ended={} relink_by_email={relink}",
                        role.as_str(),
                        ended.len()
                    )),
            )?;
            Ok::<_, RoleError>(RoleChange {
                change: Change::Changed,
                ended,
                relink_token: relink.then(|| token.clone()),
            })
        })
    }
}
