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
}

impl Actor {
    /// As stored: `user:ID`, `operator:NAME`, `system`, `anonymous`.
    pub fn render(&self) -> String {
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
