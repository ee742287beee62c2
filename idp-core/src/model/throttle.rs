//! Throttle limits and what a lockout says.

/// What a key is counted for, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Failed guesses with exponential lockout.
    Failures {
        /// The first lockout, doubled with each further failure.
        base_lockout_secs: i64,
        /// No lockout lasts longer.
        max_lockout_secs: i64,
    },
    /// A plain rate: so many per window.
    Rate,
}

/// One limit: how many attempts a key gets, over which window, and what happens after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts a key gets before it is locked.
    pub limit: i32,
    /// For failures: a quiet period after which the count starts again; for rates: the window.
    pub window_secs: i64,
    /// What happens at the limit.
    pub kind: LimitKind,
}

impl Limit {
    pub(crate) const fn failures(limit: i32) -> Self {
        Limit {
            limit,
            window_secs: 60 * 60,
            kind: LimitKind::Failures {
                base_lockout_secs: 30,
                max_lockout_secs: 15 * 60,
            },
        }
    }
    /// At most `limit` attempts per fixed window of `window_secs`.
    pub const fn rate(limit: i32, window_secs: i64) -> Self {
        Limit {
            limit,
            window_secs,
            kind: LimitKind::Rate,
        }
    }
}

/// Every limit the provider enforces, and its default.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Wrong passwords per authentication email (known or not), at sign-in and at password change.
    pub password_per_email: Limit,
    /// Wrong passwords per client address (many users may share one).
    pub password_per_ip: Limit,
    /// Wrong TOTP codes per user (enrollment confirmation and sign-in).
    pub totp_per_user: Limit,
    /// Failed client authentications at the token endpoint per client and address together, so
    /// a stranger cannot lock an app out of its own code exchanges.
    pub client_auth: Limit,
    /// Forgot-password requests per address (mailbox flooding).
    pub forgot_per_email: Limit,
    /// Forgot-password requests per client address.
    pub forgot_per_ip: Limit,
    /// Sign-ins started (login flows stored) per client address.
    pub login_flows_per_ip: Limit,
    /// Admin API calls per admin client.
    pub admin_per_client: Limit,
    /// Authenticator disconnects per console user and per admin client (`[support]
    /// disconnects_per_hour`): one stolen operator account cannot strip MFA from a whole
    /// company quietly.
    pub disconnects_per_actor: Limit,
}

impl ThrottleSettings {
    /// The longest window of any limit: a counter older than that says nothing.
    pub fn longest_window_secs(&self) -> i64 {
        [
            self.password_per_email,
            self.password_per_ip,
            self.totp_per_user,
            self.client_auth,
            self.forgot_per_email,
            self.forgot_per_ip,
            self.login_flows_per_ip,
            self.admin_per_client,
            self.disconnects_per_actor,
        ]
        .iter()
        .map(|l| l.window_secs)
        .max()
        .unwrap_or(0)
    }
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            password_per_email: Limit::failures(5),
            password_per_ip: Limit::failures(50),
            totp_per_user: Limit::failures(5),
            client_auth: Limit::failures(20),
            forgot_per_email: Limit::rate(3, 60 * 60),
            forgot_per_ip: Limit::rate(20, 60 * 60),
            login_flows_per_ip: Limit::rate(1200, 60),
            admin_per_client: Limit::rate(600, 60),
            disconnects_per_actor: Limit::rate(20, 60 * 60),
        }
    }
}

/// What a throttle counts, and for whom: every counter the provider keeps, its key in the
/// `attempt_counters` table and its limit in [`ThrottleSettings`], in this one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// Wrong passwords for this (normalised) authentication email.
    Password(&'a str),
    /// Wrong passwords from this client address.
    PasswordFromIp(&'a str),
    /// Wrong TOTP codes of this user (by id).
    Totp(&'a str),
    /// Failed client authentications of this client from this address.
    ClientAuth {
        /// The client.
        client_id: &'a str,
        /// The address.
        ip: &'a str,
    },
    /// Forgot-password requests for this (normalised) email.
    Forgot(&'a str),
    /// Forgot-password requests from this address.
    ForgotFromIp(&'a str),
    /// Sign-ins started from this address.
    LoginFlowsFromIp(&'a str),
    /// Calls of the admin API by this client.
    AdminCalls(&'a str),
    /// Authenticator disconnects by this actor (`Actor::render`: a console user, an admin
    /// client).
    Disconnects(&'a str),
    /// Relink links sent to this user (by id) on their own request, with `forgot_per_email`'s
    /// limit.
    RelinkMails(&'a str),
}

impl Counter<'_> {
    /// The counter's key in the database.
    pub fn key(&self) -> String {
        match self {
            Counter::Password(email) => format!("pwd:{email}"),
            Counter::PasswordFromIp(ip) => format!("ip:{ip}"),
            Counter::Totp(user_id) => format!("totp:{user_id}"),
            Counter::ClientAuth { client_id, ip } => format!("client-auth:{client_id}:{ip}"),
            Counter::Forgot(email) => format!("forgot:{email}"),
            Counter::ForgotFromIp(ip) => format!("forgot-ip:{ip}"),
            Counter::LoginFlowsFromIp(ip) => format!("flows-ip:{ip}"),
            Counter::AdminCalls(client_id) => format!("admin:{client_id}"),
            Counter::Disconnects(actor) => format!("disconnects:{actor}"),
            Counter::RelinkMails(user_id) => format!("relink:{user_id}"),
        }
    }

    /// A key many people share (a client address): a success gives its attempt back
    /// (`attempts::refund`) instead of forgetting the key, so its failure time is stamped when a
    /// failure is confirmed (`attempts::failed`), never by the reservation, and successes, even
    /// overlapping ones, never keep its count alive.
    pub fn is_shared(&self) -> bool {
        matches!(self, Counter::PasswordFromIp(_))
    }

    /// The counter's limit.
    pub fn limit<'s>(&self, s: &'s ThrottleSettings) -> &'s Limit {
        match self {
            Counter::Password(_) => &s.password_per_email,
            Counter::PasswordFromIp(_) => &s.password_per_ip,
            Counter::Totp(_) => &s.totp_per_user,
            Counter::ClientAuth { .. } => &s.client_auth,
            Counter::Forgot(_) => &s.forgot_per_email,
            Counter::ForgotFromIp(_) => &s.forgot_per_ip,
            Counter::LoginFlowsFromIp(_) => &s.login_flows_per_ip,
            Counter::AdminCalls(_) => &s.admin_per_client,
            Counter::Disconnects(_) => &s.disconnects_per_actor,
            Counter::RelinkMails(_) => &s.forgot_per_email,
        }
    }
}

/// A key is locked until this Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Unix seconds.
    pub until: i64,
}

/// Current state of one counter, for `user show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CounterState {
    /// The counter's name (`pwd:EMAIL`, `totp:USER`, ...).
    pub key: String,
    /// Attempts counted in the current window.
    pub failures: i32,
    /// The lock in force, if any.
    pub locked_until: Option<i64>,
}

/// Client authentication at the token endpoint. Client secrets are high-entropy, so the lockout
/// only keeps a guessing loop from costing work; it is keyed on the client *and* the address.
/// The secret is a SHA-256 digest compared in constant time by the server before it asks here:
/// a failure is counted atomically right after that comparison and that count decides the
/// answer, which is what reserving first would give, without a write on every good request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    /// Counted; the caller may try again (perhaps not for long).
    Counted,
    /// The client and address are locked out.
    Locked(Locked),
}
