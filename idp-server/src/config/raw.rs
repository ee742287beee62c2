//! The configuration file as written: typed with serde, unknown keys refused, defaults filled
//! in. `validate` turns it into a `Config`.

use std::path::PathBuf;

use serde::Deserialize;

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_database_url() -> String {
    "sqlite://data/idp.db".into()
}
fn default_key_dir() -> PathBuf {
    PathBuf::from("data/keys")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub issuer: String,
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Shown on every page and in mails: the older spelling of `[ui] product_name`.
    pub product_name: Option<String>,
    /// Holds `master.key` when no `IDP_MASTER_KEY` is given.
    #[serde(default = "default_key_dir")]
    pub key_dir: PathBuf,
    /// Replaced by `[server] trusted_proxies`; kept only to refuse it with that advice.
    #[serde(default)]
    pub trust_forwarded_headers: Option<toml::Value>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub session: SessionSection,
    #[serde(default)]
    pub tokens: TokensSection,
    #[serde(default)]
    pub mfa: MfaSection,
    #[serde(default)]
    pub passwords: PasswordsSection,
    #[serde(default)]
    pub cookies: CookiesSection,
    #[serde(default)]
    pub mail: MailSection,
    #[serde(default)]
    pub admin: AdminSection,
    /// What the help desk may do how often (the console and the admin API).
    #[serde(default)]
    pub support: SupportSection,
    /// Product name, logo and accent colour of the pages.
    #[serde(default)]
    pub ui: UiSection,
    #[serde(default)]
    pub clients: Vec<ClientSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Reverse proxies (CIDRs or addresses) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Sign-ins (login flows) each client address may start per minute.
    #[serde(default = "ServerSection::default_sign_ins_per_minute")]
    pub sign_ins_per_minute: u32,
    /// Serve `/metrics` on this address only (not on `listen`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}
impl ServerSection {
    /// 20 a second from one address, sustained: a company behind one NAT address signing in at
    /// nine o'clock, while one address still cannot fill the flows table (a flow lives 10
    /// minutes, so at most 12,000 rows of ~200 bytes).
    fn default_sign_ins_per_minute() -> u32 {
        1200
    }
}
impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            trusted_proxies: Vec::new(),
            sign_ins_per_minute: Self::default_sign_ins_per_minute(),
            metrics_listen: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    #[serde(default = "DatabaseSection::default_pool_size")]
    pub pool_size: u32,
    #[serde(default = "DatabaseSection::default_timeout")]
    pub connect_timeout: String,
}
impl DatabaseSection {
    /// Twice the cores plus two, at most 10: 6 on two cores. A request's database work is short,
    /// so a process rarely has more useful work in flight than that; on a small machine that
    /// shares its cores with PostgreSQL, more connections only made the database's backends
    /// compete for the cores (2 cores: a pool of 10 gave /userinfo a p99 of 60-250 ms, a pool of
    /// 6 gave 11 ms at the same rate; docs/performance.md point 19).
    fn default_pool_size() -> u32 {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        u32::try_from(cores.saturating_mul(2).saturating_add(2))
            .unwrap_or(u32::MAX)
            .min(10)
    }
    fn default_timeout() -> String {
        "5s".into()
    }
}
impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            pool_size: Self::default_pool_size(),
            connect_timeout: Self::default_timeout(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// Unset: the domain's default (`SessionSettings::default`, 30 minutes).
    #[serde(default)]
    pub idle_timeout: Option<String>,
    /// Unset: the domain's default (12 hours).
    #[serde(default)]
    pub max_lifetime: Option<String>,
    /// How often the sweeper ends sessions whose time is up (and tells their apps).
    #[serde(default = "SessionSection::default_sweep")]
    pub sweep_interval: String,
}
impl SessionSection {
    fn default_sweep() -> String {
        "15s".into()
    }
}
impl Default for SessionSection {
    fn default() -> Self {
        SessionSection {
            idle_timeout: None,
            max_lifetime: None,
            sweep_interval: Self::default_sweep(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensSection {
    #[serde(default = "TokensSection::default_access")]
    pub access_token_ttl: String,
    #[serde(default = "TokensSection::default_id")]
    pub id_token_ttl: String,
    #[serde(default = "TokensSection::default_code")]
    pub code_ttl: String,
    /// RS256 (default), ES256 or EdDSA for access tokens.
    pub access_token_alg: Option<String>,
}
impl TokensSection {
    fn default_access() -> String {
        "5m".into()
    }
    fn default_id() -> String {
        "5m".into()
    }
    fn default_code() -> String {
        "60s".into()
    }
}
impl Default for TokensSection {
    fn default() -> Self {
        TokensSection {
            access_token_ttl: Self::default_access(),
            id_token_ttl: Self::default_id(),
            code_ttl: Self::default_code(),
            access_token_alg: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MfaSection {
    /// Label shown in authenticator apps; defaults to `product_name`.
    pub issuer: Option<String>,
    /// 30-second steps of clock drift tolerated either side (0-2).
    pub drift_steps: Option<u8>,
    /// After a help-desk disconnect, link a new app only through a link mailed to the user.
    #[serde(default)]
    pub relink_requires_email: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PasswordsSection {
    pub min_length: Option<usize>,
    pub argon2_memory_kib: Option<u32>,
    pub argon2_iterations: Option<u32>,
    pub argon2_parallelism: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// Secure (and `__Host-` prefixed) when the issuer is https.
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CookiesSection {
    #[serde(default)]
    pub secure: SecureCookies,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// One `.eml` file per message in `outbox_dir` (development).
    #[default]
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (only for a local relay or tests).
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    #[serde(default)]
    pub transport: MailTransport,
    #[serde(default = "MailSection::default_from")]
    pub from: String,
    #[serde(default = "MailSection::default_outbox")]
    pub outbox_dir: PathBuf,
    pub smtp_host: Option<String>,
    /// Name of an environment variable holding the SMTP host (instead of `smtp_host`).
    pub smtp_host_env: Option<String>,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    /// Names of environment variables holding the SMTP credentials.
    pub smtp_username_env: Option<String>,
    pub smtp_password_env: Option<String>,
}
impl MailSection {
    fn default_from() -> String {
        "Identity Provider <no-reply@localhost>".into()
    }
    fn default_outbox() -> PathBuf {
        PathBuf::from("data/outbox")
    }
}
impl Default for MailSection {
    fn default() -> Self {
        MailSection {
            transport: MailTransport::File,
            from: Self::default_from(),
            outbox_dir: Self::default_outbox(),
            smtp_host: None,
            smtp_host_env: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username_env: None,
            smtp_password_env: None,
        }
    }
}

/// `[admin]`: the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Calls per minute allowed to each admin client (default 600).
    #[serde(default = "AdminSection::default_calls_per_minute")]
    pub calls_per_minute: u32,
}
impl AdminSection {
    fn default_calls_per_minute() -> u32 {
        600
    }
}
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportSection {
    /// Authenticator disconnects each console user and each admin client may make per hour.
    #[serde(default = "SupportSection::default_disconnects_per_hour")]
    pub disconnects_per_hour: u32,
}
impl SupportSection {
    fn default_disconnects_per_hour() -> u32 {
        20
    }
}
impl Default for SupportSection {
    fn default() -> Self {
        SupportSection {
            disconnects_per_hour: Self::default_disconnects_per_hour(),
        }
    }
}
impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            calls_per_minute: Self::default_calls_per_minute(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub public: bool,
    /// Hex SHA-256 of a high-entropy secret (at least 32 random bytes).
    pub secret_sha256: Option<String>,
    /// Name of an environment variable holding the secret.
    pub secret_env: Option<String>,
    /// RS256 (default), ES256 or EdDSA.
    pub id_token_signed_response_alg: Option<String>,
    /// PKCE (S256) is required of every client (RFC 9700); `false` only for a legacy app that
    /// cannot send it.
    #[serde(default = "ClientSection::default_require_pkce")]
    pub require_pkce: bool,
    /// `["authorization_code"]` (the default: an app users sign in to, with refresh) or
    /// `["client_credentials"]` (a program calling the admin API).
    pub grant_types: Option<Vec<String>>,
    /// The admin scopes of a `client_credentials` client.
    pub scopes: Option<Vec<String>>,
    /// The accounts an admin client may act on (by slug); all when absent.
    pub admin_accounts: Option<Vec<String>>,
    /// A resource server (an API): it introspects any app's tokens at `/introspect` and uses
    /// no grant, no redirect and no page.
    #[serde(default)]
    pub introspect: bool,
    /// This app's product name, logo and accent colour on the pages it sends people to.
    pub ui: Option<UiSection>,
}
impl ClientSection {
    fn default_require_pkce() -> bool {
        true
    }
}

/// Parses the TOML text (unknown keys refused, with their line).
pub(super) fn parse(path: &str, text: &str) -> Result<RawConfig, super::ConfigError> {
    toml::from_str(text).map_err(|e| super::ConfigError::Parse {
        path: path.into(),
        message: e
            .to_string()
            .trim()
            .replace('\n', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// `[ui]`, or a client's `ui = {...}`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSection {
    /// Shown on every page and in mails (the top-level `product_name` is the older spelling).
    pub product_name: Option<String>,
    /// A PNG or SVG file, relative to the configuration file's directory.
    pub logo: Option<String>,
    /// `#rrggbb`: buttons and links (white text on it must reach WCAG AA's 4.5:1).
    pub accent_color: Option<String>,
    /// The pages' and mails' language when neither the app (`ui_locales`) nor the browser
    /// (`Accept-Language`) names one we have: `en` (the default) or `es`. `[ui]` only.
    pub default_locale: Option<String>,
}
