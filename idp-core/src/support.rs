//! The use cases behind a support ticket that are more than one domain call: creations that can
//! be repeated safely (a help desk retries), an account's MFA at a glance, and an invitation or
//! reset link sent on request. The CLI and the admin API both call these, so a rule written here
//! is written once.

use std::collections::HashSet;

use crate::accounts::AccountError;
use crate::email_tokens::EmailTokenError;
use crate::mfa::EnrollmentState;
use crate::model::{
    Account, Actor, AuditAction, AuditEvent, Counter, CounterState, EndedSession, Locked,
    MfaPolicy, Purpose, User,
};
use crate::store::attempts::{self, Reserved};
use crate::store::{self, audit, StoreError};
use crate::users::{NewUser, UserError};
use crate::Idp;

/// Whether an admin API call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCall {
    /// Within the client's rate.
    Allowed,
    /// Over it until then.
    Limited(Locked),
}

/// What a repeatable creation found.
#[derive(Debug)]
pub enum Creation<T> {
    /// Created now.
    Created(T),
    /// It existed already, exactly as asked: the same thing again.
    Existing(T),
    /// Something with that key exists but differs from what was asked.
    Conflict(T),
}

/// An account's MFA at a glance: the policy, and who has a linked app.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MfaOverview {
    /// Whether MFA is required for every user of the account.
    pub required: bool,
    /// Every user of the account, by email, and whether their app is linked.
    pub users: Vec<MfaUser>,
}

/// One user in an [`MfaOverview`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct MfaUser {
    /// The user's id (`sub`).
    pub id: String,
    /// The authentication email.
    pub email: String,
    /// An authenticator app is linked.
    pub linked: bool,
}

impl Idp {
    /// Creates an account, or finds the one with this slug: the same (name included) is
    /// `Existing`, a different name is `Conflict`. Repeating a request is safe.
    pub fn create_account_once(
        &self,
        slug: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<Creation<Account>, AccountError> {
        match self.create_account(slug, name, actor) {
            Ok(a) => Ok(Creation::Created(a)),
            Err(AccountError::SlugTaken(_)) => {
                let existing = self.account_by_slug(slug)?;
                let asked =
                    crate::model::validate_display_name(name).map_err(AccountError::InvalidName)?;
                Ok(if existing.name == asked {
                    Creation::Existing(existing)
                } else {
                    Creation::Conflict(existing)
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a user (invited: no password is ever taken here), or finds the one with this
    /// authentication email: in the same account with the same name and work email it is
    /// `Existing`, else `Conflict`. Emails match as at sign-in.
    pub fn create_user_once(
        &self,
        account_slug: &str,
        new: NewUser<'_>,
        actor: &Actor,
    ) -> Result<Creation<User>, UserError> {
        match self.create_user(account_slug, new.clone(), actor) {
            Ok(u) => Ok(Creation::Created(u)),
            Err(UserError::EmailTaken(_)) => {
                let existing = self.user_by_email(new.email)?;
                let account =
                    store::accounts::by_slug(&mut *self.store().conn()?, account_slug.trim())?;
                let same_account = account.is_some_and(|a| a.id == existing.account_id);
                let same_name = existing.display_name == new.display_name.trim();
                let asked_work = new
                    .work_email
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(crate::model::normalise_email)
                    .transpose()
                    .map_err(UserError::InvalidWorkEmail)?;
                Ok(
                    if same_account && same_name && existing.work_email == asked_work {
                        Creation::Existing(existing)
                    } else {
                        Creation::Conflict(existing)
                    },
                )
            }
            Err(e) => Err(e),
        }
    }

    /// Every user of an account with their enrollment state, in three queries whatever the
    /// account's size (`user list`: one query per user took 438 ms for 1,000 users).
    pub fn users_with_enrollment(
        &self,
        account_slug: &str,
    ) -> Result<Vec<(User, EnrollmentState)>, UserError> {
        let slug = account_slug.trim();
        let mut conn = self.store().conn()?;
        let account = store::accounts::by_slug(&mut conn, slug)?
            .ok_or_else(|| UserError::NoSuchAccount(slug.to_string()))?;
        let users = store::users::list_in_account(&mut conn, &account.id)?;
        let linked = linked_in(&mut conn, &account.id)?;
        let pending: HashSet<String> =
            store::flows::pending_in_account(&mut conn, self.now(), &account.id)?
                .into_iter()
                .collect();
        Ok(users
            .into_iter()
            .map(|u| {
                let state = EnrollmentState::of(linked.contains(&u.id), pending.contains(&u.id));
                (u, state)
            })
            .collect())
    }

    /// The MFA policy of an account and, for each of its users, whether an app is linked.
    pub fn mfa_overview(&self, slug: &str) -> Result<MfaOverview, AccountError> {
        let account = self.account_by_slug(slug)?;
        let mut conn = self.store().conn()?;
        let users = store::users::list_in_account(&mut conn, &account.id)?;
        let linked = linked_in(&mut conn, &account.id)?;
        Ok(MfaOverview {
            required: account.mfa_policy == MfaPolicy::Required,
            users: users
                .into_iter()
                .map(|u| MfaUser {
                    linked: linked.contains(&u.id),
                    id: u.id,
                    email: u.email,
                })
                .collect(),
        })
    }

    /// Turns MFA on or off for a whole account (`set_mfa_policy`: turning it on ends every
    /// session that passed no second factor) and answers with the account's MFA as it now
    /// stands. The sessions that ended are returned for their back-channel logouts.
    pub fn set_account_mfa(
        &self,
        slug: &str,
        policy: MfaPolicy,
        actor: &Actor,
    ) -> Result<(Vec<EndedSession>, MfaOverview), AccountError> {
        let (_, ended) = self.set_mfa_policy(slug, policy, actor)?;
        Ok((ended, self.mfa_overview(slug)?))
    }

    /// Issues the link a user needs by mail (an invitation while they have not registered, a
    /// reset afterwards; none while disabled) and records who asked. The caller mails it.
    pub fn link_on_request(
        &self,
        user: &User,
        actor: &Actor,
    ) -> Result<(Purpose, String), EmailTokenError> {
        let (purpose, token) = self.issue_link(user)?;
        let now = self.now();
        audit::record(
            &mut *self.store().conn()?,
            now,
            &AuditEvent::new(AuditAction::LinkSent, actor)
                .user(&user.account_id, &user.id)
                .detail(format!("purpose={}", purpose.as_str())),
        )
        .map_err(EmailTokenError::from)?;
        Ok((purpose, token))
    }

    /// Counts one admin API call of `client_id` against its rate (`admin_per_client`).
    pub fn admin_call(&self, client_id: &str) -> Result<AdminCall, StoreError> {
        let counters = [Counter::AdminCalls(client_id)];
        let throttle = &self.settings().throttle;
        Ok(
            match store::attempts::reserve(self.store(), self.now(), throttle, &counters)? {
                Reserved::Taken(_) => AdminCall::Allowed,
                Reserved::Refused(l) => AdminCall::Limited(l),
            },
        )
    }

    /// Lockout state of a user's password sign-in (for `user show`).
    pub fn password_lockout(&self, user: &User) -> Result<Option<CounterState>, StoreError> {
        attempts::state(
            &mut *self.store().conn()?,
            &Counter::Password(&user.email),
            self.now(),
        )
    }

    /// Clears the password and TOTP lockouts of a user.
    pub fn unlock_user(&self, email: &str, actor: &Actor) -> Result<(), UserError> {
        let user = self.user_by_email(email)?;
        let now = self.now();
        self.store().tx(|conn| {
            attempts::clear_password_failures(conn, &user.email)?;
            attempts::clear(conn, &Counter::Totp(&user.id))?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::UserUnlocked, actor).user(&user.account_id, &user.id),
            )?;
            Ok::<_, UserError>(())
        })
    }
}

/// The users of an account with a linked app.
fn linked_in(
    conn: &mut store::DbConnection,
    account_id: &str,
) -> Result<HashSet<String>, StoreError> {
    Ok(store::totp::linked_in_account(conn, account_id)?
        .into_iter()
        .collect())
}
