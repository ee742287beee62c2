//! The domain's types, shared by the storage layer (`store`) and the use cases: accounts and
//! users, sessions and how they end, sign-in flows, audit events, throttle limits. Nothing here
//! does I/O.

mod account;
mod audit;
mod client;
mod flow;
mod grant;
mod mfa;
mod prompt;
mod reason;
mod role;
mod session;
mod throttle;
mod user;

pub use account::{
    disguises, is_invisible_formatting, printable, validate_display_name, validate_slug, Account,
    Change, MfaPolicy,
};
pub use audit::{Actor, AuditAction, AuditEvent};
pub use client::{ClientCredentials, ClientKind, ClientRegistration};
pub use flow::{Browser, FlowStage, LoginFlow, PendingAuthorization};
pub use grant::{Issued, NewCode};
pub use mfa::TotpSettings;
pub use prompt::{Hinted, Prompt};
pub use reason::{Reason, ReasonError};
pub use role::{Role, Roles};
pub use session::{
    idle_deadline, AuthMethod, EndReason, EndedSession, LogoutListeners, OwnChange,
    SessionSettings, SsoSession, SweepReport, ACR_MFA, ACR_PASSWORD, AMR_MFA, AMR_OTP,
    AMR_PASSWORD,
};
pub use throttle::{
    address_key, ClientAuthFailure, Counter, CounterState, KnownBrowser, Limit, LimitKind, Locked,
    ThrottleSettings, KNOWN_BROWSER_TTL_SECS,
};
pub(crate) use throttle::{PasswordLane, PASSWORD_AT_PREFIX};
pub use user::{new_address, normalise_email, EmailError, Purpose, User, UserStatus};

/// One page of a list, and the opaque cursor of the next (none on the last page).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when this one is the last.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from the rows read for it: up to `limit + 1`, the extra one (left out) saying that
    /// a next page exists, which starts after the `cursor` of this page's last item.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more.then(|| rows.last().map(&cursor)).flatten();
        Page { items: rows, next }
    }
}
