//! The validated configuration: what the rest of the server reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::raw::{MailSection, RawConfig};
use arc_swap::ArcSwap;

use crate::alg::SigningAlg;
use idp_core::model::{ClientKind, ClientRegistration};

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: `{key}`: {reason}")]
    Invalid {
        path: String,
        key: String,
        reason: String,
    },
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: String,
    pub issuer: String,
    pub listen: SocketAddr,
    pub database_url: String,
    /// How the pages look when no app is known (`[ui]`); its `product` names the provider in
    /// mails too.
    pub brand: Brand,
    /// `[ui] default_locale`: the language of pages and mails when nothing else chooses one.
    pub default_locale: crate::i18n::Lang,
    pub key_dir: PathBuf,
    /// Peers whose `X-Forwarded-For` is believed (see `web::client_addr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub pool_size: u32,
    pub db_connect_timeout: Duration,
    /// Idle timeout and absolute lifetime of sessions, as the domain takes them.
    pub sessions: idp_core::model::SessionSettings,
    pub sweep_interval: Duration,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub code_ttl: Duration,
    pub access_token_alg: SigningAlg,
    pub mfa_issuer: String,
    pub mfa_drift_steps: u8,
    /// `[mfa] relink_requires_email`.
    pub relink_requires_email: bool,
    /// `[support] disconnects_per_hour`.
    pub disconnects_per_hour: u32,
    pub password_min_length: usize,
    pub argon2: idp_core::Argon2Params,
    pub secure_cookies: bool,
    pub mail: MailSection,
    /// The relying parties and admin clients: the part of the file a reload (SIGHUP) replaces.
    pub clients: Clients,
    /// `[admin] calls_per_minute`: the admin API call rate of each admin client.
    pub admin_calls_per_minute: u32,
    /// `[server] sign_ins_per_minute`: login flows each client address may start per minute.
    pub sign_ins_per_minute: u32,
    /// `[server] metrics_listen`: `/metrics` only there, not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
}

/// The configured clients, shared by every copy of the configuration and replaced as a whole
/// when the file is reloaded: a request sees the old list or the new one, never a mix, and
/// reads it without a lock.
#[derive(Clone, Default)]
pub struct Clients(Arc<ArcSwap<Vec<Arc<Client>>>>);

impl Clients {
    pub fn new(list: Vec<Client>) -> Self {
        Clients(Arc::new(ArcSwap::from_pointee(
            list.into_iter().map(Arc::new).collect(),
        )))
    }

    /// The client with this id, as configured now.
    pub fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        self.0
            .load()
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned()
    }

    /// Every client, as configured now.
    pub fn all(&self) -> Arc<Vec<Arc<Client>>> {
        self.0.load_full()
    }

    pub fn len(&self) -> usize {
        self.0.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The apps told of ended sessions: those with a `backchannel_logout_uri`.
    pub fn logout_listeners(&self) -> idp_core::sessions::LogoutListeners {
        idp_core::sessions::LogoutListeners::only(
            self.0
                .load()
                .iter()
                .filter(|c| c.backchannel_logout_uri.is_some())
                .map(|c| c.client_id.clone()),
        )
    }

    /// Takes the list `other` holds now (a freshly loaded configuration's), for every copy of
    /// the configuration at once.
    pub fn replace_with(&self, other: &Clients) {
        self.0.store(other.all());
    }
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.all().iter().map(|c| &c.client_id))
            .finish()
    }
}

/// A relying party.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub public: bool,
    /// SHA-256 of the secret (confidential clients).
    pub secret_sha256: Option<[u8; 32]>,
    pub id_token_alg: SigningAlg,
    pub require_pkce: bool,
    /// `Some` for an admin client (`grant_types = ["client_credentials"]`): what it may do. Such
    /// a client can never use /authorize, and no other client can get admin scopes.
    pub admin: Option<AdminAccess>,
    /// A resource server (`introspect = true`): it introspects tokens and does nothing else.
    pub introspect: bool,
    /// How the pages look for this app (`[ui]` with its own `ui` keys over it).
    pub brand: Brand,
}

/// What an admin client may do through the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAccess {
    /// Its scopes.
    pub scopes: Vec<AdminScope>,
    /// The accounts it may act on (slugs); `None`: every account.
    pub accounts: Option<Vec<String>>,
}

impl AdminAccess {
    /// Whether it may act on the account with this slug.
    pub fn may_act_on(&self, slug: &str) -> bool {
        self.accounts
            .as_ref()
            .is_none_or(|a| a.iter().any(|s| s == slug))
    }
}

/// A scope of the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminScope {
    /// Read everything the API shows (accounts, users, MFA, sessions, audit).
    Read,
    /// Create and rename accounts.
    Accounts,
    /// Create, change, disable, enable, unlock users; send them links.
    Users,
    /// Turn an account's MFA on or off; disconnect a user's app.
    Mfa,
    /// End a user's sessions.
    Sessions,
}

impl AdminScope {
    /// Every scope.
    pub const ALL: [AdminScope; 5] = [
        AdminScope::Read,
        AdminScope::Accounts,
        AdminScope::Users,
        AdminScope::Mfa,
        AdminScope::Sessions,
    ];

    /// As written in the config and in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminScope::Read => "admin:read",
            AdminScope::Accounts => "admin:accounts",
            AdminScope::Users => "admin:users",
            AdminScope::Mfa => "admin:mfa",
            AdminScope::Sessions => "admin:sessions",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl Client {
    /// The client as the core's protocol use cases see it (from this, the current,
    /// configuration).
    pub fn registration(&self) -> ClientRegistration<'_> {
        let kind = match &self.admin {
            Some(admin) => ClientKind::Admin {
                scopes: admin.scopes.iter().map(|s| s.as_str()).collect(),
            },
            None if self.introspect => ClientKind::ResourceServer,
            None => ClientKind::App {
                redirect_uris: &self.redirect_uris,
            },
        };
        ClientRegistration {
            client_id: &self.client_id,
            secret_sha256: self.secret_sha256.as_ref(),
            public: self.public,
            kind,
        }
    }

    /// An app people sign in to (not an admin client, not a resource server).
    pub fn signs_users_in(&self) -> bool {
        self.admin.is_none() && !self.introspect
    }

    /// Exact, character-for-character match (OAuth 2.0 Security BCP 4.1.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
    pub fn has_post_logout_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

/// The environment values a configuration names (the secrets of `secret_env`), read once before
/// validation.
#[derive(Debug, Default)]
pub struct Environment {
    values: HashMap<String, String>,
    /// An operator's command (not `serve`, not `check-config`): a secret the file names but this
    /// shell lacks (an app's `secret_env`, the SMTP credentials) is no error; the command cannot
    /// use it (it authenticates no app; a mail it sends fails naming the variable).
    operator: bool,
}

impl Environment {
    /// Reads the variables `raw` names from the process environment (client secrets, the
    /// SMTP host and credentials).
    pub fn read(raw: &RawConfig) -> Self {
        Environment {
            operator: false,
            values: raw
                .clients
                .iter()
                .filter_map(|c| c.secret_env.as_ref())
                .chain(raw.mail.smtp_host_env.as_ref())
                .chain(raw.mail.smtp_username_env.as_ref())
                .chain(raw.mail.smtp_password_env.as_ref())
                .filter_map(|var| std::env::var(var).ok().map(|v| (var.clone(), v)))
                .collect(),
        }
    }

    /// This environment for an operator's command (see `operator`).
    pub fn for_operator(self) -> Self {
        Environment {
            operator: true,
            ..self
        }
    }

    /// A variable the file names is unset, and that is no error here (an operator's command).
    pub(super) fn may_lack(&self, var: &str) -> bool {
        self.operator && self.get(var).is_none()
    }
    /// A fixed set of values (tests).
    pub fn of(pairs: &[(&str, &str)]) -> Self {
        Environment {
            operator: false,
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
    pub(super) fn get(&self, var: &str) -> Option<&str> {
        self.values.get(var).map(String::as_str)
    }
}

impl Config {
    /// A development set-up: the issuer is on this machine (localhost, 127.0.0.1, ::1).
    pub fn is_development(&self) -> bool {
        url::Url::parse(&self.issuer).is_ok_and(|u| is_loopback(&u))
    }

    /// What an operator must hear about mail: outside development, a file outbox means that
    /// invitations and reset links reach nobody.
    pub fn mail_warning(&self) -> Option<String> {
        (self.mail.transport == super::raw::MailTransport::File && !self.is_development()).then(|| {
            format!(
                "mail goes to the file outbox {}: invitations and reset links reach nobody; configure [mail] transport = \"smtp\"",
                self.mail.outbox_dir.display()
            )
        })
    }

    /// How long a retired signing key stays published: the longest token lifetime plus a margin.
    pub fn publish_retired_for(&self) -> i64 {
        self.id_token_ttl.max(self.access_token_ttl).as_secs() as i64 + 60
    }

    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.clients.get(client_id)
    }

    /// The domain settings this configuration implies.
    pub fn core_settings(&self) -> idp_core::Settings {
        idp_core::Settings {
            argon2: self.argon2,
            password_min_length: self.password_min_length,
            totp: idp_core::mfa::TotpSettings {
                issuer: self.mfa_issuer.clone(),
                drift_steps: self.mfa_drift_steps,
                relink_requires_email: self.relink_requires_email,
            },
            sessions: self.sessions.clone(),
            code_ttl_secs: self.code_ttl.as_secs().max(1) as i64,
            throttle: idp_core::model::ThrottleSettings {
                admin_per_client: idp_core::model::Limit::rate(
                    self.admin_calls_per_minute as i32,
                    60,
                ),
                login_flows_per_ip: idp_core::model::Limit::rate(
                    self.sign_ins_per_minute as i32,
                    60,
                ),
                disconnects_per_actor: idp_core::model::Limit::rate(
                    self.disconnects_per_hour as i32,
                    60 * 60,
                ),
                ..idp_core::model::ThrottleSettings::default()
            },
            ..idp_core::Settings::default()
        }
    }
}

/// A host on this machine: localhost, 127.0.0.0/8, ::1.
pub(super) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A file the provider serves under `/branding/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// `/branding/<digest>.<ext>`.
    pub href: String,
    pub content_type: &'static str,
    pub bytes: Arc<Vec<u8>>,
}

/// What the pages of one app (or of none) look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub product: String,
    pub logo: Option<Asset>,
    /// The stylesheet that sets the accent colour.
    pub theme: Option<Asset>,
}

impl std::fmt::Display for Brand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.product)
    }
}
