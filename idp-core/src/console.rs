//! The console's use cases: the help desk (`support`) and each company's administrators
//! (`account-admin`) see and act on the accounts they may (`policy::may_see_account`,
//! `policy::staff_may`: the one rule, never a handler's). Every action is the same domain call
//! the CLI and the admin API make, with the console user as the actor (`Actor::Console`: who,
//! from which address, and the reason the console requires).
//!
//! The console signs in through `/authorize` like any app (the built-in client `console`, with
//! PKCE): its session is the grant that sign-in created. [`Idp::console_entry`] admits a grant
//! on each request: live, the console's, its session admitted by the session rule (and slid:
//! console work is activity), and its user holding a role.

use crate::audit::{AuditFilter, StoredEvent};
use crate::email_tokens::EmailTokenError;
use crate::gate;
use crate::mfa::{Disconnected, MfaError};
use crate::model::{
    Account, Actor, Change, CounterState, EndedSession, MfaPolicy, Page, Purpose, Reason,
    ReasonError, User,
};
use crate::policy::{self, StaffAction, StaffRefusal};
use crate::roles::CONSOLE_CLIENT_ID;
use crate::self_service::{authenticator_of, sessions_with_apps, Authenticator, SessionView};
use crate::store::{self, sessions, StoreError};
use crate::users::{NewUser, UserError};
use crate::Idp;

/// A person at the console: a user who holds a role, in a live, admitted session.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The user (their roles decide what they may do).
    pub user: User,
    /// Their own company.
    pub account: Account,
    /// The SSO session the console runs in.
    pub session_id: String,
}

/// Who a console grant belongs to now.
#[derive(Debug)]
pub enum ConsoleEntry {
    /// Someone who may use the console.
    Staff(Box<Staff>),
    /// Signed in, but holding no role: a plain "no access" page.
    NoRole(Box<User>),
    /// The grant is not (or no longer) a live console session: sign in again.
    SignedOut,
}

/// Why a console page or action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The console user may not (see [`StaffRefusal`]).
    #[error(transparent)]
    Refused(#[from] StaffRefusal),
    /// No such user or account among those this console user may see.
    #[error("not found")]
    NotFound,
    /// The reason is missing or refused.
    #[error(transparent)]
    Reason(#[from] ReasonError),
    /// A user change was refused (an invalid email, an email taken, ...).
    #[error(transparent)]
    User(#[from] UserError),
    /// A link could not be issued (a disabled user).
    #[error(transparent)]
    Link(#[from] EmailTokenError),
    /// The disconnect was refused (the hourly limit) or failed.
    #[error(transparent)]
    Mfa(#[from] MfaError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

impl From<crate::accounts::AccountError> for ConsoleError {
    fn from(e: crate::accounts::AccountError) -> Self {
        match e {
            crate::accounts::AccountError::Store(s) => ConsoleError::Store(s),
            _ => ConsoleError::NotFound,
        }
    }
}

/// One line of an account's user list.
#[derive(Debug, Clone)]
pub struct UserLine {
    /// The user.
    pub user: User,
    /// An authenticator app is linked.
    pub linked: bool,
}

/// An account as the console shows it.
#[derive(Debug, Clone)]
pub struct AccountView {
    /// The account (its MFA policy).
    pub account: Account,
    /// A page of its users, by id.
    pub users: Page<UserLine>,
    /// How many users it has.
    pub user_count: i64,
}

/// A user as the console shows it.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The user (status, roles, last sign-in).
    pub user: User,
    /// Their company.
    pub account: Account,
    /// Their linked app, if any.
    pub authenticator: Option<Authenticator>,
    /// Their live sessions with the apps of each.
    pub sessions: Vec<SessionView>,
    /// Their most recent audit events, newest first.
    pub events: Vec<StoredEvent>,
    /// Their password lockout, if any.
    pub password_lock: Option<CounterState>,
    /// Their TOTP lockout, if any.
    pub totp_lock: Option<CounterState>,
}

/// What the console asks to do.
#[derive(Debug, Clone)]
pub enum Act<'a> {
    /// One of the user actions to the user with this id.
    OnUser {
        /// The action (not `InviteUser`, `MfaOn` or `MfaOff`).
        action: StaffAction,
        /// The user's id.
        user_id: &'a str,
    },
    /// Turn MFA on or off for the account with this slug.
    Mfa {
        /// Required or off.
        policy: MfaPolicy,
        /// The account.
        slug: &'a str,
    },
    /// Invite a new user to the account with this slug.
    Invite {
        /// The account.
        slug: &'a str,
        /// Their authentication email.
        email: &'a str,
        /// Their name.
        name: &'a str,
    },
}

/// What the server still has to do after an action: mail, back-channel logouts.
#[derive(Debug)]
pub enum Followup {
    /// Nothing.
    Nothing,
    /// Mail `user` this link.
    Link {
        /// To whom.
        user: Box<User>,
        /// Invitation or reset.
        purpose: Purpose,
        /// The token.
        token: String,
    },
    /// Tell of a disconnect (`Mailer::send_disconnect_notices`).
    Disconnected {
        /// Whose app.
        user: Box<User>,
        /// What it did.
        done: Disconnected,
    },
}

/// An action's outcome.
#[derive(Debug)]
pub struct Acted {
    /// Whether anything changed (`Already`: it was so already).
    pub change: Change,
    /// Sessions it ended (their logouts are queued; the server delivers them).
    pub ended: Vec<EndedSession>,
    /// What the server still has to do.
    pub followup: Followup,
}

impl Acted {
    fn of(change: Change, ended: Vec<EndedSession>) -> Self {
        Acted {
            change,
            ended,
            followup: Followup::Nothing,
        }
    }
}

/// Which events the console's audit page asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditQuery<'a> {
    /// Of this account (by slug).
    pub slug: Option<&'a str>,
    /// Of this user (by id).
    pub user_id: Option<&'a str>,
    /// At or after (Unix seconds).
    pub since: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
    /// Older than this event id (the previous page's cursor).
    pub cursor: Option<i64>,
}

/// How many events the user page shows.
const USER_EVENTS: i64 = 20;

impl Idp {
    /// Admits a console request by the grant its cookie names (see the module's comment).
    pub fn console_entry(&self, grant_id: &str) -> Result<ConsoleEntry, StoreError> {
        let now = self.now();
        let listeners = self.logout_listeners();
        self.store().tx(|conn| {
            let Some((grant, session, user, account)) =
                store::grants::live_view(conn, grant_id, now)?
            else {
                return Ok(ConsoleEntry::SignedOut);
            };
            if grant.client_id != CONSOLE_CLIENT_ID
                || gate::admit_in(conn, now, &user, &account, &session, &listeners)?.is_err()
            {
                return Ok(ConsoleEntry::SignedOut);
            }
            if !user.roles.any() {
                return Ok(ConsoleEntry::NoRole(Box::new(user)));
            }
            // Console work is activity: the session's idle expiry slides, as at a refresh.
            if sessions::touch(conn, now, &session.id)?.is_none() {
                return Ok(ConsoleEntry::SignedOut);
            }
            Ok(ConsoleEntry::Staff(Box::new(Staff {
                user,
                account,
                session_id: session.id,
            })))
        })
    }

    /// The accounts the console user may see, by slug.
    pub fn console_accounts(&self, staff: &Staff) -> Result<Vec<Account>, StoreError> {
        Ok(self
            .list_accounts()?
            .into_iter()
            .filter(|a| policy::may_see_account(&staff.user, &a.id))
            .collect())
    }

    /// Users whose email starts with `query` or whose name contains it, among the accounts the
    /// console user may see (at most 50). A query under 2 characters finds nobody.
    pub fn console_search(
        &self,
        staff: &Staff,
        query: &str,
    ) -> Result<Vec<(User, Account)>, StoreError> {
        let query = query.trim();
        if query.chars().count() < 2 {
            return Ok(Vec::new());
        }
        let support = staff.user.roles.has(crate::model::Role::Support);
        let only = (!support).then_some(staff.account.id.as_str());
        let conn = &mut *self.store().conn()?;
        let users = store::users::search(conn, query, only, 50)?;
        let accounts = self.console_accounts(staff)?;
        Ok(users
            .into_iter()
            .filter_map(|u| {
                let account = accounts.iter().find(|a| a.id == u.account_id)?.clone();
                Some((u, account))
            })
            .collect())
    }

    /// An account's page: its MFA policy and a page of its users (`cursor` from the previous
    /// page), each with whether an app is linked.
    pub fn console_account(
        &self,
        staff: &Staff,
        slug: &str,
        cursor: Option<&str>,
    ) -> Result<AccountView, ConsoleError> {
        let account = self.visible_account(staff, slug)?;
        let conn = &mut *self.store().conn()?;
        let filter = store::users::UserFilter {
            account_id: Some(&account.id),
            email: None,
            after_id: cursor,
        };
        const LIMIT: i64 = 50;
        let rows = store::users::page(conn, &filter, LIMIT + 1)?;
        let ids: Vec<&str> = rows.iter().map(|u| u.id.as_str()).collect();
        let linked = store::totp::linked_among(conn, &ids)?;
        let lines: Vec<UserLine> = rows
            .into_iter()
            .map(|user| UserLine {
                linked: linked.contains(&user.id),
                user,
            })
            .collect();
        let users = Page::from_rows(lines, LIMIT, |l| l.user.id.clone());
        let user_count = store::users::count_in_account(conn, &account.id)?;
        Ok(AccountView {
            account,
            users,
            user_count,
        })
    }

    /// A user's page: status, roles, app, sessions with their apps, lockouts, recent events.
    pub fn console_user(&self, staff: &Staff, user_id: &str) -> Result<UserView, ConsoleError> {
        let (user, account) = self.visible_user(staff, user_id)?;
        let now = self.now();
        let conn = &mut *self.store().conn()?;
        let sessions = sessions_with_apps(conn, &user.id, now, Some(&staff.session_id))?;
        let authenticator = authenticator_of(conn, &user.id)?;
        let filter = AuditFilter {
            user_id: Some(&user.id),
            ..AuditFilter::default()
        };
        let events = store::audit::page(conn, &filter, USER_EVENTS)?;
        let password_lock =
            store::attempts::state(conn, &crate::model::Counter::Password(&user.email), now)?;
        let totp_lock = store::attempts::state(conn, &crate::model::Counter::Totp(&user.id), now)?;
        Ok(UserView {
            user,
            account,
            authenticator,
            sessions,
            events,
            password_lock,
            totp_lock,
        })
    }

    /// A page of the audit log: of one account or one user the console user may see, or, for
    /// `support` only, of everything; between `since` and `until`.
    pub fn console_audit(
        &self,
        staff: &Staff,
        query: &AuditQuery<'_>,
        limit: i64,
    ) -> Result<Page<StoredEvent>, ConsoleError> {
        let account = query
            .slug
            .map(|s| self.visible_account(staff, s))
            .transpose()?;
        let user = query
            .user_id
            .map(|u| self.visible_user(staff, u))
            .transpose()?;
        let support = staff.user.roles.has(crate::model::Role::Support);
        // An account-admin always reads within their own account.
        let account_id = match (&account, &user, support) {
            (Some(a), _, _) => Some(a.id.clone()),
            (None, Some((_, a)), _) => Some(a.id.clone()),
            (None, None, true) => None,
            (None, None, false) => Some(staff.account.id.clone()),
        };
        let filter = AuditFilter {
            account_id: account_id.as_deref(),
            user_id: user.as_ref().map(|(u, _)| u.id.as_str()),
            since: query.since,
            until: query.until,
            before_id: query.cursor,
        };
        Ok(self.audit_page(&filter, limit)?)
    }

    /// Does what the console asks, for `reason`, from `ip`: refused unless
    /// [`policy::staff_may`] allows it; each action is the domain call the CLI and the admin
    /// API make, audited with the console user as the actor, their address and the reason.
    pub fn console_act(
        &self,
        staff: &Staff,
        act: &Act<'_>,
        reason: &str,
        ip: Option<&str>,
    ) -> Result<Acted, ConsoleError> {
        let reason = Reason::parse(reason)?;
        let actor = Actor::Console {
            user_id: staff.user.id.clone(),
            ip: ip.map(str::to_string),
            reason: reason.as_str().to_string(),
        };
        match *act {
            Act::Mfa { policy, slug } => {
                let account = self.visible_account(staff, slug)?;
                let action = match policy {
                    MfaPolicy::Required => StaffAction::MfaOn,
                    MfaPolicy::Off => StaffAction::MfaOff,
                };
                policy::staff_may(&staff.user, action, &account.id, None)?;
                let (change, ended) = self.set_mfa_policy(&account.slug, policy, &actor)?;
                Ok(Acted::of(change, ended))
            }
            Act::Invite { slug, email, name } => {
                let account = self.visible_account(staff, slug)?;
                policy::staff_may(&staff.user, StaffAction::InviteUser, &account.id, None)?;
                let new = NewUser {
                    email,
                    display_name: name,
                    work_email: None,
                    password: None,
                };
                let user = self.create_user(&account.slug, new, &actor)?;
                let (purpose, token) = self.link_on_request(&user, &actor)?;
                Ok(Acted {
                    change: Change::Changed,
                    ended: Vec::new(),
                    followup: Followup::Link {
                        user: Box::new(user),
                        purpose,
                        token,
                    },
                })
            }
            Act::OnUser { action, user_id } => {
                let (user, account) = self.visible_user(staff, user_id)?;
                policy::staff_may(&staff.user, action, &account.id, Some(&user))?;
                self.act_on_user(action, user, &actor, reason.as_str())
            }
        }
    }

    fn act_on_user(
        &self,
        action: StaffAction,
        user: User,
        actor: &Actor,
        reason: &str,
    ) -> Result<Acted, ConsoleError> {
        Ok(match action {
            StaffAction::Disable | StaffAction::Enable => {
                let enable = action == StaffAction::Enable;
                let (change, ended) = self.set_user_enabled(&user.email, enable, actor)?;
                Acted::of(change, ended)
            }
            StaffAction::Unlock => {
                self.unlock_user(&user.email, actor)?;
                Acted::of(Change::Changed, Vec::new())
            }
            StaffAction::ResendInvitation | StaffAction::SendReset => {
                // The link the user's state calls for; the button asked for must match it.
                let wanted = if action == StaffAction::ResendInvitation {
                    Purpose::Invite
                } else {
                    Purpose::Reset
                };
                let is_invited = user.status == crate::model::UserStatus::Invited;
                if is_invited != (wanted == Purpose::Invite) {
                    return Err(ConsoleError::NotFound);
                }
                let (purpose, token) = self.link_on_request(&user, actor)?;
                Acted {
                    change: Change::Changed,
                    ended: Vec::new(),
                    followup: Followup::Link {
                        user: Box::new(user),
                        purpose,
                        token,
                    },
                }
            }
            StaffAction::DisconnectApp => {
                let done = self.disconnect_mfa(&user, actor, reason)?;
                Acted {
                    change: done.change,
                    ended: Vec::new(),
                    followup: Followup::Disconnected {
                        user: Box::new(user),
                        done,
                    },
                }
            }
            StaffAction::EndSessions => {
                let ended = self.end_user_sessions(&user, actor, None)?;
                Acted::of(Change::of(!ended.is_empty()), ended)
            }
            StaffAction::InviteUser | StaffAction::MfaOn | StaffAction::MfaOff => {
                return Err(ConsoleError::NotFound)
            }
        })
    }

    /// The account with this slug if the console user may see it (else `NotFound`: a company
    /// admin cannot tell another company's slug from one that does not exist).
    fn visible_account(&self, staff: &Staff, slug: &str) -> Result<Account, ConsoleError> {
        let account = store::accounts::by_slug(&mut *self.store().conn()?, slug.trim())?
            .ok_or(ConsoleError::NotFound)?;
        if !policy::may_see_account(&staff.user, &account.id) {
            return Err(ConsoleError::NotFound);
        }
        Ok(account)
    }

    /// The user with this id and their account, if the console user may see that account.
    fn visible_user(&self, staff: &Staff, user_id: &str) -> Result<(User, Account), ConsoleError> {
        let (user, account) = store::users::with_account(&mut *self.store().conn()?, user_id)?
            .ok_or(ConsoleError::NotFound)?;
        if !policy::may_see_account(&staff.user, &account.id) {
            return Err(ConsoleError::NotFound);
        }
        Ok((user, account))
    }
}
