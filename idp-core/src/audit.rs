//! Audit events: who did what, when, from where. Written in the same transaction as the change
//! they describe, so the log never claims a change that was rolled back.

use diesel::prelude::*;
use serde::Serialize;

use crate::store::schema::audit_events;
use crate::store::{DbConnection, StoreError};
use crate::Idp;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The signed-in (or signing-in) user themselves.
    User(String),
    /// An operator at the command line; the name is the OS user or `--operator`.
    Operator(String),
    /// The provider itself (expiry, clean-up).
    System,
    /// Someone not (yet) identified, e.g. a failed sign-in for an unknown email.
    Anonymous,
}

impl Actor {
    fn render(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    AccountCreated,
    UserCreated,
    UserDisabled,
    UserEnabled,
    UserUnlocked,
    SignInSucceeded,
    SignInFailed,
    SignInLocked,
    MfaEnrolled,
    MfaCodeFailed,
    MfaCodeReplayed,
    MfaDisconnected,
    MfaPolicyChanged,
    PasswordChanged,
    PasswordResetRequested,
    RegistrationCompleted,
    SessionStarted,
    SessionEnded,
    SessionsRevoked,
    SessionExpired,
    LogoutDeliveryFailed,
    CodeReplayed,
    RefreshTokenReused,
    SigningKeyRotated,
    MasterKeyRotated,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::AccountCreated => "account.created",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserDisabled => "user.disabled",
            AuditAction::UserEnabled => "user.enabled",
            AuditAction::UserUnlocked => "user.unlocked",
            AuditAction::SignInSucceeded => "signin.succeeded",
            AuditAction::SignInFailed => "signin.failed",
            AuditAction::SignInLocked => "signin.locked",
            AuditAction::MfaEnrolled => "mfa.enrolled",
            AuditAction::MfaCodeFailed => "mfa.code_failed",
            AuditAction::MfaCodeReplayed => "mfa.code_replayed",
            AuditAction::MfaDisconnected => "mfa.disconnected",
            AuditAction::MfaPolicyChanged => "mfa.policy_changed",
            AuditAction::PasswordChanged => "password.changed",
            AuditAction::PasswordResetRequested => "password.reset_requested",
            AuditAction::RegistrationCompleted => "registration.completed",
            AuditAction::SessionStarted => "session.started",
            AuditAction::SessionEnded => "session.ended",
            AuditAction::SessionsRevoked => "session.revoked_all",
            AuditAction::SessionExpired => "session.expired",
            AuditAction::LogoutDeliveryFailed => "logout.delivery_failed",
            AuditAction::CodeReplayed => "oauth.code_replayed",
            AuditAction::RefreshTokenReused => "oauth.refresh_reused",
            AuditAction::SigningKeyRotated => "keys.rotated",
            AuditAction::MasterKeyRotated => "keys.master_rotated",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub action: AuditAction,
    pub actor: &'a Actor,
    pub account_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: Option<String>,
}

impl<'a> AuditEvent<'a> {
    pub fn new(action: AuditAction, actor: &'a Actor) -> Self {
        AuditEvent {
            action,
            actor,
            account_id: None,
            user_id: None,
            ip: None,
            detail: None,
        }
    }
    pub fn user(mut self, account_id: &'a str, user_id: &'a str) -> Self {
        self.account_id = Some(account_id);
        self.user_id = Some(user_id);
        self
    }
    pub fn account(mut self, account_id: &'a str) -> Self {
        self.account_id = Some(account_id);
        self
    }
    pub fn ip(mut self, ip: Option<&'a str>) -> Self {
        self.ip = ip;
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// A stored event, as `audit list` shows it.
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct StoredEvent {
    pub id: i64,
    pub at: i64,
    pub action: String,
    pub actor: String,
    pub account_id: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

pub(crate) fn record(
    conn: &mut DbConnection,
    now: i64,
    ev: &AuditEvent<'_>,
) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::at.eq(now),
            audit_events::action.eq(ev.action.as_str()),
            audit_events::actor.eq(ev.actor.render()),
            audit_events::account_id.eq(ev.account_id),
            audit_events::user_id.eq(ev.user_id),
            audit_events::ip.eq(ev.ip),
            audit_events::detail.eq(ev.detail.as_deref()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records several events in one statement (the sweeper ends many sessions at once).
pub(crate) fn record_all(
    conn: &mut DbConnection,
    now: i64,
    events: &[AuditEvent<'_>],
) -> Result<(), StoreError> {
    let rendered: Vec<String> = events.iter().map(|ev| ev.actor.render()).collect();
    for (chunk, actors) in events.chunks(200).zip(rendered.chunks(200)) {
        let rows: Vec<_> = chunk
            .iter()
            .zip(actors)
            .map(|(ev, actor)| {
                (
                    audit_events::at.eq(now),
                    audit_events::action.eq(ev.action.as_str()),
                    audit_events::actor.eq(actor.as_str()),
                    audit_events::account_id.eq(ev.account_id),
                    audit_events::user_id.eq(ev.user_id),
                    audit_events::ip.eq(ev.ip),
                    audit_events::detail.eq(ev.detail.as_deref()),
                )
            })
            .collect();
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(audit_events::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

impl Idp {
    /// Records one event on its own (for events with no accompanying change, e.g. a failed sign-in).
    pub fn audit(&self, ev: &AuditEvent<'_>) -> Result<(), StoreError> {
        let now = self.now();
        let mut conn = self.store().conn()?;
        record(&mut conn, now, ev)
    }

    /// The newest events about a user, newest first.
    pub fn audit_for_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.store().conn()?;
        Ok(audit_events::table
            .filter(audit_events::user_id.eq(user_id))
            .order(audit_events::id.desc())
            .limit(limit)
            .load(&mut conn)?)
    }

    /// The newest events of any kind, newest first.
    pub fn audit_recent(&self, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.store().conn()?;
        Ok(audit_events::table
            .order(audit_events::id.desc())
            .limit(limit)
            .load(&mut conn)?)
    }
}
