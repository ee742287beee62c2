//! Roles: granting and taking back `support` and `account-admin` (the CLI, the admin API). A
//! role always needs a second factor (`policy::requires_second_factor`): granting one ends, in
//! the same transaction, every session of the user that never passed one (with back-channel
//! logout, as turning MFA on for an account does), and the next sign-in enrolls first. Taking
//! one back ends the user's console sessions (its grants), so a revoked role acts at once.

use crate::model::{Actor, AuditAction, AuditEvent, Change, EndReason, EndedSession, Role, User};
use crate::store::{self, audit, sessions, StoreError};
use crate::Idp;

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
    ) -> Result<(Change, Vec<EndedSession>), StoreError> {
        let now = self.now();
        let listeners = self.logout_listeners();
        self.store().tx(|conn| {
            // The user's row first: a sign-in completing now sees the role, or its session is
            // among those ended below.
            store::users::hold(conn, &user.id)?;
            let Some(current) = store::users::by_id(conn, &user.id)? else {
                return Ok((Change::Already, Vec::new()));
            };
            let roles = current.roles.with(role, held);
            if !store::users::set_roles(conn, &user.id, roles, now)? {
                return Ok((Change::Already, Vec::new()));
            }
            let ended = if held {
                let weak = sessions::unended_without_second_factor_of_user(conn, &user.id)?;
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
                        "role={} sessions_ended={}",
                        role.as_str(),
                        ended.len()
                    )),
            )?;
            Ok((Change::Changed, ended))
        })
    }
}
