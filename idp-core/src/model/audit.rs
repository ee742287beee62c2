//! Audit events: who did what, to whom, from where.

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
    /// A program calling the admin API with its client credentials (a help desk).
    Client {
        /// The admin client (authenticated).
        client_id: String,
        /// Who it says it acts for (its `X-Actor` header: an agent, a ticket number). Recorded,
        /// never trusted.
        on_behalf_of: Option<String>,
        /// The address the call came from.
        ip: Option<String>,
    },
    /// A person acting for others in the console (a user who holds a role): who, from where,
    /// and why (the reason the console requires: a ticket number).
    Console {
        /// The console user.
        user_id: String,
        /// Their address.
        ip: Option<String>,
        /// Why.
        reason: String,
    },
}

impl Actor {
    /// As stored: `user:ID`, `operator:NAME`, `client:ID`, `system`, `anonymous`.
    pub fn render(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::Client { client_id, .. } => format!("client:{client_id}"),
            Actor::Console { user_id, .. } => format!("console:{user_id}"),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }

    /// What is stored beside the actor: who an admin client said it acted for.
    pub fn note(&self) -> Option<&str> {
        match self {
            Actor::Client { on_behalf_of, .. } => on_behalf_of.as_deref(),
            _ => None,
        }
    }

    /// The address an actor acts from, when it came with them (an admin call, the console).
    pub fn ip(&self) -> Option<&str> {
        match self {
            Actor::Client { ip, .. } | Actor::Console { ip, .. } => ip.as_deref(),
            _ => None,
        }
    }

    /// Why the actor acts, when they said (the console requires it).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Actor::Console { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The user acting, when the actor is a person with an account here.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User(id) | Actor::Console { user_id: id, .. } => Some(id),
            _ => None,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// An account was created.
    AccountCreated,
    /// A user was created (invited or with a password).
    UserCreated,
    /// A user was disabled (their sessions end).
    UserDisabled,
    /// A disabled user was enabled again.
    UserEnabled,
    /// An operator cleared a user's lockouts.
    UserUnlocked,
    /// A sign-in completed (a session started).
    SignInSucceeded,
    /// A wrong password (or an unknown email).
    SignInFailed,
    /// A wrong password that locked the email or address.
    SignInLocked,
    /// An authenticator app was linked.
    MfaEnrolled,
    /// A wrong TOTP code.
    MfaCodeFailed,
    /// A TOTP code used a second time.
    MfaCodeReplayed,
    /// A linked app was disconnected.
    MfaDisconnected,
    /// An account's MFA policy changed.
    MfaPolicyChanged,
    /// A password was set (changed, reset, or by an operator).
    PasswordChanged,
    /// A forgot-password link was sent.
    PasswordResetRequested,
    /// An invited user completed registration.
    RegistrationCompleted,
    /// A session started.
    SessionStarted,
    /// A session ended (logout).
    SessionEnded,
    /// An operator ended a user's sessions.
    SessionsRevoked,
    /// The sweeper ended a session at idle or absolute expiry.
    SessionExpired,
    /// A back-channel logout was given up after its last attempt.
    LogoutDeliveryFailed,
    /// An authorization code was presented again (its grant is revoked).
    CodeReplayed,
    /// A used refresh token was presented again (its grant is revoked).
    RefreshTokenReused,
    /// New signing keys.
    SigningKeyRotated,
    /// Every sealed secret was re-encrypted with a new master key.
    MasterKeyRotated,
    /// An account was renamed.
    AccountRenamed,
    /// A user's name or work email changed.
    UserUpdated,
    /// An invitation or reset link was sent by an operator or the admin API.
    LinkSent,
    /// Users were imported from a file.
    UsersImported,
    /// A client revoked one of its tokens (RFC 7009): the grant ended.
    TokenRevoked,
    /// A disconnect was refused: the actor reached `disconnects_per_hour`.
    MfaDisconnectRefused,
    /// An admin client read personal data (users, sessions, the audit log).
    AdminRead,
    /// An admin client's call was refused (a scope it lacks, an account it may not act on, a
    /// resource it may not see).
    AdminRefused,
    /// A role was granted to a user.
    RoleGranted,
    /// A role was taken back from a user.
    RoleRevoked,
}

impl AuditAction {
    /// As stored: `signin.failed`, `session.expired`, ...
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
            AuditAction::AccountRenamed => "account.renamed",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::LinkSent => "user.link_sent",
            AuditAction::UsersImported => "users.imported",
            AuditAction::TokenRevoked => "oauth.token_revoked",
            AuditAction::MfaDisconnectRefused => "mfa.disconnect_refused",
            AuditAction::AdminRead => "admin.read",
            AuditAction::AdminRefused => "admin.refused",
            AuditAction::RoleGranted => "user.role_granted",
            AuditAction::RoleRevoked => "user.role_revoked",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// What happened.
    pub action: AuditAction,
    /// Who did it.
    pub actor: &'a Actor,
    /// The account concerned.
    pub account_id: Option<&'a str>,
    /// The user concerned.
    pub user_id: Option<&'a str>,
    /// The client address, when a person did it over HTTP.
    pub ip: Option<&'a str>,
    /// Free text (never a secret).
    pub detail: Option<String>,
    /// Why a person did it (the console's required reason, a disconnect's reason).
    pub reason: Option<&'a str>,
}

impl<'a> AuditEvent<'a> {
    /// An event with no subject yet; the actor's address and reason, when it has them.
    pub fn new(action: AuditAction, actor: &'a Actor) -> Self {
        AuditEvent {
            action,
            actor,
            account_id: None,
            user_id: None,
            ip: actor.ip(),
            detail: None,
            reason: actor.reason(),
        }
    }
    /// About this user of this account.
    pub fn user(mut self, account_id: &'a str, user_id: &'a str) -> Self {
        self.account_id = Some(account_id);
        self.user_id = Some(user_id);
        self
    }
    /// About this account.
    pub fn account(mut self, account_id: &'a str) -> Self {
        self.account_id = Some(account_id);
        self
    }
    /// From this address (when known: the actor's stays otherwise).
    pub fn ip(mut self, ip: Option<&'a str>) -> Self {
        if ip.is_some() {
            self.ip = ip;
        }
        self
    }
    /// For this reason.
    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }
    /// With this detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
