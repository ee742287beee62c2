//! Throttle limits and what a lockout says, every counter and its key, and what a known
//! browser is.

use std::net::{IpAddr, Ipv6Addr};

use super::User;

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
///
/// Password sign-in (and the current password at a password change) is counted on one of two
/// lanes, so that nobody's failures refuse somebody else:
/// - a browser *known* for the user (it completed a sign-in as them before: [`KnownBrowser`])
///   counts only on its own key, `password_per_known_browser`; what others do, at any address,
///   never refuses it;
/// - any other browser counts on the email at its address (`password_per_email_and_ip`: the only
///   hard lock), on the email from anywhere (`password_per_email`: past its threshold a growing
///   delay for browsers not known for the user) and on its address (`password_per_ip`: slows
///   guessing across many emails from one address).
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Wrong passwords for one authentication email (known or not) from one client address:
    /// the hard lock, which a stranger elsewhere cannot set for the user's own address.
    pub password_per_email_and_ip: Limit,
    /// Wrong passwords for one authentication email from browsers not known for its user, from
    /// any address: past the limit each further attempt from such a browser waits a growing
    /// delay. A known browser neither counts here nor waits.
    pub password_per_email: Limit,
    /// Wrong passwords from one client address by browsers not known for the user they tried
    /// (many users may share the address; a known browser is never refused by it).
    pub password_per_ip: Limit,
    /// Wrong passwords from one known browser (its own key: a stolen known-browser cookie guesses
    /// no faster than one more address would).
    pub password_per_known_browser: Limit,
    /// Wrong TOTP codes per user (enrollment confirmation and sign-in).
    pub totp_per_user: Limit,
    /// Failed client authentications at the token endpoint per client and address together, so
    /// a stranger cannot lock an app out of its own code exchanges.
    pub client_auth: Limit,
    /// Forgot-password requests for one email from one client address: the user's budget at
    /// their own address, which a stranger elsewhere cannot spend.
    pub forgot_per_email_and_ip: Limit,
    /// Forgot-password requests for one email from anywhere by browsers not known for its user
    /// (a ceiling on the mail a distributed flood can send to one mailbox).
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
            self.password_per_email_and_ip,
            self.password_per_email,
            self.password_per_ip,
            self.password_per_known_browser,
            self.totp_per_user,
            self.client_auth,
            self.forgot_per_email_and_ip,
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
            password_per_email_and_ip: Limit::failures(5),
            // Above the hard lock's five: one address alone reaches it only past its own lock,
            // a stranger needs several addresses (or a quarter of an hour of waiting) to make a
            // new browser of the user wait.
            password_per_email: Limit::failures(10),
            password_per_ip: Limit::failures(50),
            password_per_known_browser: Limit::failures(5),
            totp_per_user: Limit::failures(5),
            client_auth: Limit::failures(20),
            forgot_per_email_and_ip: Limit::rate(3, 60 * 60),
            forgot_per_email: Limit::rate(10, 60 * 60),
            forgot_per_ip: Limit::rate(20, 60 * 60),
            login_flows_per_ip: Limit::rate(1200, 60),
            admin_per_client: Limit::rate(600, 60),
            disconnects_per_actor: Limit::rate(20, 60 * 60),
        }
    }
}

/// What a per-address counter keys a client address on: an IPv4 address as it is (an
/// IPv4-mapped IPv6 address as the IPv4 address it maps), an IPv6 address by its /64 prefix.
/// One IPv6 subscriber or host holds a whole /64 (RFC 7421; SLAAC and privacy addresses,
/// RFC 8981, change the rest at will), so a limit per full address would be a limit per guess.
/// Every per-address counter goes through here ([`Counter::key`]). Something that is not an
/// address (the server only passes addresses) is kept as it is.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
        Err(_) => ip.to_string(),
    }
}

/// What a counter counts, and for whom: every counter the provider keeps, its key in the
/// `attempt_counters` table and its limit in [`ThrottleSettings`], in this one place. Every
/// address in a key is [`address_key`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// Wrong passwords for this (normalised) authentication email from browsers not known for
    /// its user, from anywhere.
    Password(&'a str),
    /// Wrong passwords for this email from this address (empty when the address is unknown).
    PasswordAt {
        /// The normalised email.
        email: &'a str,
        /// The address.
        ip: &'a str,
    },
    /// Wrong passwords from this client address.
    PasswordFromIp(&'a str),
    /// Wrong passwords from this known browser (by the id its cookie carries).
    PasswordFromKnownBrowser(&'a str),
    /// Wrong TOTP codes of this user (by id).
    Totp(&'a str),
    /// Failed client authentications of this client from this address.
    ClientAuth {
        /// The client.
        client_id: &'a str,
        /// The address.
        ip: &'a str,
    },
    /// Forgot-password requests for this (normalised) email from browsers not known for its
    /// user, from anywhere.
    Forgot(&'a str),
    /// Forgot-password requests for this email from this address (empty when unknown).
    ForgotAt {
        /// The normalised email.
        email: &'a str,
        /// The address.
        ip: &'a str,
    },
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

/// The prefix of the keys of [`Counter::PasswordAt`]: after it the address key (which holds no
/// `|`), a `|`, then the email, so the keys of one email are found by their ending.
pub(crate) const PASSWORD_AT_PREFIX: &str = "pwd-at:";

impl Counter<'_> {
    /// The counter's key in the database. Each kind has its own prefix, none a prefix of
    /// another's, so a chosen email or address can never make one counter's key another's.
    pub fn key(&self) -> String {
        let a = |ip: &str| address_key(ip);
        match self {
            Counter::Password(email) => format!("pwd:{email}"),
            Counter::PasswordAt { email, ip } => format!("{PASSWORD_AT_PREFIX}{}|{email}", a(ip)),
            Counter::PasswordFromIp(ip) => format!("ip:{}", a(ip)),
            Counter::PasswordFromKnownBrowser(id) => format!("pwd-browser:{id}"),
            Counter::Totp(user_id) => format!("totp:{user_id}"),
            Counter::ClientAuth { client_id, ip } => format!("client-auth:{client_id}:{}", a(ip)),
            Counter::Forgot(email) => format!("forgot:{email}"),
            Counter::ForgotAt { email, ip } => format!("forgot-at:{}|{email}", a(ip)),
            Counter::ForgotFromIp(ip) => format!("forgot-ip:{}", a(ip)),
            Counter::LoginFlowsFromIp(ip) => format!("flows-ip:{}", a(ip)),
            Counter::AdminCalls(client_id) => format!("admin:{client_id}"),
            Counter::Disconnects(actor) => format!("disconnects:{actor}"),
            Counter::RelinkMails(user_id) => format!("relink:{user_id}"),
        }
    }

    /// A key many people share (a client address; an email that strangers guess for too): a
    /// success gives its attempt back (`attempts::refund`) instead of forgetting the key, so its
    /// failure time is stamped when a failure is confirmed (`attempts::failed`), never by the
    /// reservation, and successes, even overlapping ones, never keep its count alive. (Were a
    /// success to forget the email's failures, each sign-in of the user would hand a stranger
    /// a fresh threshold of guesses.)
    pub fn is_shared(&self) -> bool {
        matches!(self, Counter::PasswordFromIp(_) | Counter::Password(_))
    }

    /// The counter's limit.
    pub fn limit<'s>(&self, s: &'s ThrottleSettings) -> &'s Limit {
        match self {
            Counter::Password(_) => &s.password_per_email,
            Counter::PasswordAt { .. } => &s.password_per_email_and_ip,
            Counter::PasswordFromIp(_) => &s.password_per_ip,
            Counter::PasswordFromKnownBrowser(_) => &s.password_per_known_browser,
            Counter::Totp(_) => &s.totp_per_user,
            Counter::ClientAuth { .. } => &s.client_auth,
            Counter::Forgot(_) => &s.forgot_per_email,
            Counter::ForgotAt { .. } => &s.forgot_per_email_and_ip,
            Counter::ForgotFromIp(_) => &s.forgot_per_ip,
            Counter::LoginFlowsFromIp(_) => &s.login_flows_per_ip,
            Counter::AdminCalls(_) => &s.admin_per_client,
            Counter::Disconnects(_) => &s.disconnects_per_actor,
            Counter::RelinkMails(_) => &s.forgot_per_email,
        }
    }
}

/// Where a password attempt is counted (see `ThrottleSettings`): a browser known for the user
/// the email names on its own key only, so that nobody else's failures refuse it; any other on
/// the email at its address (the hard lock), the email from anywhere (the growing delay) and its
/// address.
pub(crate) struct PasswordLane {
    /// The normalised email the attempt is for.
    pub(crate) email: String,
    /// The client address it comes from.
    pub(crate) ip: Option<String>,
    /// The browser's id, when it is known for this email's user.
    pub(crate) known_browser: Option<String>,
}

impl PasswordLane {
    /// The counters an attempt on this lane takes, in one order (the reservation's).
    pub(crate) fn counters(&self) -> Vec<Counter<'_>> {
        if let Some(id) = &self.known_browser {
            return vec![Counter::PasswordFromKnownBrowser(id)];
        }
        let ip = self.ip.as_deref();
        let mut counters = vec![
            Counter::PasswordAt {
                email: &self.email,
                ip: ip.unwrap_or(""),
            },
            Counter::Password(&self.email),
        ];
        counters.extend(ip.map(Counter::PasswordFromIp));
        counters
    }
}

/// How long a browser stays known after the sign-in that made it so (180 days): the cookie's
/// `Max-Age`, and checked again here, since a browser may keep a cookie as long as it likes.
pub const KNOWN_BROWSER_TTL_SECS: i64 = 180 * 24 * 60 * 60;

/// What a known-browser cookie says once its tag has been verified (`Idp::known_browser`, the
/// only maker): this browser completed a sign-in as this user at this time. It is not a
/// credential: the password (and the code, when required) are asked as ever. It only keeps the
/// browser out of lockouts that others' failures set ([`ThrottleSettings`]).
///
/// Bound to the user id (an email is only a name the user signs in with), and void once the
/// user's password changed after it was issued: a cookie copied before a change (the answer to
/// a compromise) exempts its thief from nothing afterwards. The browser that changes the
/// password, or resets it by link, is given a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBrowser {
    user_id: String,
    issued_at: i64,
    id: String,
}

impl KnownBrowser {
    /// The format's version, first in the text.
    const VERSION: &'static str = "v1";

    pub(crate) fn new(user_id: &str, issued_at: i64, id: String) -> Self {
        KnownBrowser {
            user_id: user_id.to_string(),
            issued_at,
            id,
        }
    }

    /// The text the tag covers: `v1.<user id>.<issued at>.<browser id>` (ids are hex).
    pub(crate) fn payload(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            Self::VERSION,
            self.user_id,
            self.issued_at,
            self.id
        )
    }

    /// Reads `<payload>.<tag>`; the tag is not checked here.
    pub(crate) fn parse(text: &str) -> Option<(KnownBrowser, &str)> {
        let mut parts = text.split('.');
        let (Some(Self::VERSION), Some(user_id), Some(at), Some(id), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let hex =
            |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(user_id) || !hex(id) {
            return None;
        }
        let issued_at = at.parse().ok()?;
        Some((KnownBrowser::new(user_id, issued_at, id.to_string()), tag))
    }

    /// Whether it vouches for `user` as stored now: the same user, and no password change since
    /// it was issued.
    pub fn vouches_for(&self, user: &User) -> bool {
        self.user_id == user.id
            && user
                .password_changed_at
                .is_none_or(|changed| self.issued_at >= changed)
    }

    /// When it was issued (Unix seconds).
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// The browser's id: the key of its own password counter.
    pub fn id(&self) -> &str {
        &self.id
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 client holds a whole /64 (SLAAC, privacy addresses): every per-address counter
    /// counts the /64 as one address. IPv4 stays per address, and an IPv4-mapped IPv6 address
    /// is the IPv4 address it maps.
    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let keys = |ip: &'static str| {
            [
                Counter::PasswordFromIp(ip).key(),
                Counter::PasswordAt { email: "a@b.c", ip }.key(),
                Counter::ForgotFromIp(ip).key(),
                Counter::ForgotAt { email: "a@b.c", ip }.key(),
                Counter::LoginFlowsFromIp(ip).key(),
                Counter::ClientAuth {
                    client_id: "app",
                    ip,
                }
                .key(),
            ]
        };
        assert_eq!(
            keys("2001:db8:1:2::1"),
            keys("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(keys("2001:db8:1:2::1"), keys("2001:0DB8:0001:0002:0:0:0:0"));
        assert_ne!(keys("2001:db8:1:2::1"), keys("2001:db8:1:3::1"));
        assert_eq!(keys("::ffff:192.0.2.7"), keys("192.0.2.7"));
        assert_ne!(keys("192.0.2.7"), keys("192.0.2.8"));
        assert_eq!(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    }

    /// No email or address makes one counter's key another's (an email naming an address).
    #[test]
    fn keys_of_different_counters_never_meet() {
        let at = Counter::PasswordAt {
            email: "ann@example.com",
            ip: "192.0.2.7",
        };
        assert_ne!(
            at.key(),
            Counter::Password("192.0.2.7|ann@example.com").key()
        );
        assert_ne!(
            Counter::Password("x").key(),
            Counter::PasswordFromKnownBrowser("x").key()
        );
    }
}
