//! The operator's TOML file, parsed into typed structs (unknown keys are refused) and validated
//! at start-up. Every error names the key and the reason.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

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

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_database_url() -> String {
    "sqlite://data/idp.db".into()
}
fn default_product_name() -> String {
    "Identity Provider".into()
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
    /// Shown on every page and in mails.
    #[serde(default = "default_product_name")]
    pub product_name: String,
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
    pub clients: Vec<ClientSection>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Reverse proxies (CIDRs or addresses) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
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
    #[serde(default = "SessionSection::default_idle")]
    pub idle_timeout: String,
    #[serde(default = "SessionSection::default_max")]
    pub max_lifetime: String,
    /// How often the sweeper ends sessions whose time is up (and tells their apps).
    #[serde(default = "SessionSection::default_sweep")]
    pub sweep_interval: String,
}
impl SessionSection {
    fn default_idle() -> String {
        "30m".into()
    }
    fn default_max() -> String {
        "12h".into()
    }
    fn default_sweep() -> String {
        "15s".into()
    }
}
impl Default for SessionSection {
    fn default() -> Self {
        SessionSection {
            idle_timeout: Self::default_idle(),
            max_lifetime: Self::default_max(),
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
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username_env: None,
            smtp_password_env: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    pub client_id: String,
    pub name: String,
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
}
impl ClientSection {
    fn default_require_pkce() -> bool {
        true
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: String,
    pub issuer: String,
    pub listen: SocketAddr,
    pub database_url: String,
    pub product_name: String,
    pub key_dir: PathBuf,
    /// Peers whose `X-Forwarded-For` is believed (see `web::client_addr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub pool_size: u32,
    pub db_connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub sweep_interval: Duration,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub code_ttl: Duration,
    pub access_token_alg: crate::keys::SigningAlg,
    pub mfa_issuer: String,
    pub mfa_drift_steps: u8,
    pub password_min_length: usize,
    pub argon2: idp_core::Argon2Params,
    pub secure_cookies: bool,
    pub mail: MailSection,
    pub clients: Vec<Client>,
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
    pub id_token_alg: crate::keys::SigningAlg,
    pub require_pkce: bool,
}

impl Client {
    /// Exact, character-for-character match (OAuth 2.0 Security BCP 4.1.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
    pub fn has_post_logout_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

impl Config {
    pub fn load(path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e
                .to_string()
                .trim()
                .replace('\n', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        Self::validate(path, raw)
    }

    fn validate(path: &str, raw: RawConfig) -> Result<Self, ConfigError> {
        let bad = |key: &str, reason: &str| ConfigError::Invalid {
            path: path.into(),
            key: key.into(),
            reason: reason.into(),
        };
        let duration = |key: &str, value: &str| -> Result<Duration, ConfigError> {
            humantime::parse_duration(value.trim()).map_err(|e| {
                bad(
                    key,
                    &format!("{value:?} is not a duration like \"30m\" or \"12h\" ({e})"),
                )
            })
        };

        let issuer = raw.issuer.trim().trim_end_matches('/').to_string();
        let issuer_url =
            Url::parse(&issuer).map_err(|e| bad("issuer", &format!("not a URL: {e}")))?;
        if !matches!(issuer_url.scheme(), "https" | "http") {
            return Err(bad(
                "issuer",
                "must be an https:// URL (http:// only for localhost)",
            ));
        }
        if issuer_url.scheme() == "http" && !is_loopback(&issuer_url) {
            return Err(bad(
                "issuer",
                "must use https unless the host is localhost or a loopback address",
            ));
        }
        if issuer_url.query().is_some()
            || issuer_url.fragment().is_some()
            || !issuer_url.username().is_empty()
        {
            return Err(bad(
                "issuer",
                "must not contain a query, fragment or user info",
            ));
        }
        let listen: SocketAddr = raw
            .listen
            .trim()
            .parse()
            .map_err(|_| bad("listen", "expected an address like 127.0.0.1:8080"))?;
        idp_core::store::Backend::from_url(&raw.database_url)
            .map_err(|e| bad("database_url", &e.to_string()))?;
        if raw.product_name.trim().is_empty() || raw.product_name.len() > 100 {
            return Err(bad("product_name", "must be 1-100 characters"));
        }

        if raw.trust_forwarded_headers.is_some() {
            return Err(bad(
                "trust_forwarded_headers",
                "was replaced by [server] trusted_proxies: list the addresses (CIDRs) of your reverse proxies, e.g. trusted_proxies = [\"10.0.0.0/8\"]",
            ));
        }
        let mut trusted_proxies = Vec::new();
        for (i, p) in raw.server.trusted_proxies.iter().enumerate() {
            trusted_proxies.push(parse_cidr(p).ok_or_else(|| {
                bad(
                    &format!("server.trusted_proxies[{i}]"),
                    &format!("{p:?} is not an address or CIDR like \"10.0.0.0/8\" or \"::1\""),
                )
            })?);
        }
        let idle_timeout = duration("session.idle_timeout", &raw.session.idle_timeout)?;
        let sweep_interval = duration("session.sweep_interval", &raw.session.sweep_interval)?;
        if sweep_interval < Duration::from_secs(1) || sweep_interval > Duration::from_secs(3600) {
            return Err(bad("session.sweep_interval", "must be between 1s and 1h"));
        }
        let max_lifetime = duration("session.max_lifetime", &raw.session.max_lifetime)?;
        if idle_timeout < Duration::from_secs(1) {
            return Err(bad("session.idle_timeout", "must be at least 1s"));
        }
        if max_lifetime < idle_timeout {
            return Err(bad(
                "session.max_lifetime",
                "must not be shorter than session.idle_timeout",
            ));
        }
        let access_token_ttl = duration("tokens.access_token_ttl", &raw.tokens.access_token_ttl)?;
        let id_token_ttl = duration("tokens.id_token_ttl", &raw.tokens.id_token_ttl)?;
        let code_ttl = duration("tokens.code_ttl", &raw.tokens.code_ttl)?;
        if access_token_ttl.is_zero() || access_token_ttl > Duration::from_secs(3600) {
            return Err(bad("tokens.access_token_ttl", "must be between 1s and 1h"));
        }
        if id_token_ttl.is_zero() || id_token_ttl > Duration::from_secs(24 * 3600) {
            return Err(bad("tokens.id_token_ttl", "must be between 1s and 24h"));
        }
        if code_ttl.is_zero() || code_ttl > Duration::from_secs(600) {
            return Err(bad(
                "tokens.code_ttl",
                "must be between 1s and 10m (RFC 6749 4.1.2)",
            ));
        }

        let access_token_alg = match raw.tokens.access_token_alg.as_deref() {
            None => crate::keys::SigningAlg::Rs256,
            Some(a) => crate::keys::SigningAlg::parse(a)
                .ok_or_else(|| bad("tokens.access_token_alg", "must be RS256, ES256 or EdDSA"))?,
        };

        let mfa_issuer = raw
            .mfa
            .issuer
            .clone()
            .unwrap_or_else(|| raw.product_name.clone())
            .trim()
            .to_string();
        if mfa_issuer.is_empty() || mfa_issuer.contains(':') || mfa_issuer.len() > 64 {
            return Err(bad(
                "mfa.issuer",
                "must be 1-64 characters without ':' (the otpauth URI uses ':' as separator)",
            ));
        }
        let mfa_drift_steps = raw.mfa.drift_steps.unwrap_or(1);
        if mfa_drift_steps > 2 {
            return Err(bad(
                "mfa.drift_steps",
                "must be 0, 1 or 2 (each step is 30 seconds either side)",
            ));
        }

        let password_min_length = raw
            .passwords
            .min_length
            .unwrap_or(idp_core::password::DEFAULT_MIN_LENGTH);
        idp_core::PasswordPolicy::new(password_min_length)
            .map_err(|e| bad("passwords.min_length", &e))?;
        let defaults = idp_core::Argon2Params::default();
        let argon2 = idp_core::Argon2Params {
            memory_kib: raw
                .passwords
                .argon2_memory_kib
                .unwrap_or(defaults.memory_kib),
            iterations: raw
                .passwords
                .argon2_iterations
                .unwrap_or(defaults.iterations),
            parallelism: raw
                .passwords
                .argon2_parallelism
                .unwrap_or(defaults.parallelism),
        };
        if argon2.memory_kib < 8 * argon2.parallelism.max(1)
            || argon2.iterations < 1
            || argon2.parallelism < 1
        {
            return Err(bad("passwords.argon2_*", "invalid argon2 parameters"));
        }

        let secure_cookies = match raw.cookies.secure {
            SecureCookies::Auto => issuer_url.scheme() == "https",
            SecureCookies::Always => true,
            SecureCookies::Never => false,
        };

        if raw.mail.transport == MailTransport::Smtp
            && raw
                .mail
                .smtp_host
                .as_deref()
                .is_none_or(|h| h.trim().is_empty())
        {
            return Err(bad(
                "mail.smtp_host",
                "is required when mail.transport = \"smtp\"",
            ));
        }
        if raw.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(bad(
                "mail.from",
                "must be an address like \"Acme <no-reply@acme.example>\"",
            ));
        }

        let mut clients = Vec::new();
        let mut seen = HashSet::new();
        for (i, c) in raw.clients.iter().enumerate() {
            let k = |field: &str| format!("clients[{i}].{field}");
            let id = c.client_id.trim();
            if id.is_empty()
                || id.len() > 100
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(bad(
                    &k("client_id"),
                    "must be 1-100 characters of letters, digits, '-', '_' or '.'",
                ));
            }
            if !seen.insert(id.to_string()) {
                return Err(bad(&k("client_id"), &format!("{id:?} is configured twice")));
            }
            if c.redirect_uris.is_empty() {
                return Err(bad(
                    &k("redirect_uris"),
                    "at least one redirect URI is required",
                ));
            }
            for (j, uri) in c.redirect_uris.iter().enumerate() {
                check_redirect_uri(uri)
                    .map_err(|r| bad(&format!("clients[{i}].redirect_uris[{j}]"), &r))?;
            }
            for (j, uri) in c.post_logout_redirect_uris.iter().enumerate() {
                check_redirect_uri(uri).map_err(|r| {
                    bad(&format!("clients[{i}].post_logout_redirect_uris[{j}]"), &r)
                })?;
            }
            if let Some(uri) = &c.backchannel_logout_uri {
                check_redirect_uri(uri).map_err(|r| bad(&k("backchannel_logout_uri"), &r))?;
            }
            let secret_sha256 = match (c.public, &c.secret_sha256, &c.secret_env) {
                (true, None, None) => None,
                (true, _, _) => return Err(bad(&k("public"), "a public client has no secret: remove secret_sha256/secret_env")),
                (false, Some(_), Some(_)) => return Err(bad(&k("secret_sha256"), "give either secret_sha256 or secret_env, not both")),
                (false, None, None) => return Err(bad(&k("secret_sha256"), "a confidential client needs secret_sha256 or secret_env (or set public = true)")),
                (false, Some(h), None) => {
                    let bytes = hex::decode(h.trim()).map_err(|_| bad(&k("secret_sha256"), "must be 64 hex digits"))?;
                    Some(bytes.try_into().map_err(|_| bad(&k("secret_sha256"), "must be 64 hex digits"))?)
                }
                (false, None, Some(var)) => {
                    let secret = std::env::var(var).map_err(|_| bad(&k("secret_env"), &format!("environment variable {var} is not set")))?;
                    if secret.len() < 32 {
                        return Err(bad(&k("secret_env"), &format!("the secret in {var} must be at least 32 characters")));
                    }
                    let digest = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes());
                    Some(digest.into())
                }
            };
            if c.public && !c.require_pkce {
                return Err(bad(
                    &k("require_pkce"),
                    "a public client always uses PKCE (it has no secret to prove itself with)",
                ));
            }
            let id_token_alg = match c.id_token_signed_response_alg.as_deref() {
                None => crate::keys::SigningAlg::Rs256,
                Some(a) => crate::keys::SigningAlg::parse(a).ok_or_else(|| {
                    bad(
                        &k("id_token_signed_response_alg"),
                        "must be RS256, ES256 or EdDSA",
                    )
                })?,
            };
            clients.push(Client {
                client_id: id.to_string(),
                name: c.name.trim().to_string(),
                redirect_uris: c.redirect_uris.clone(),
                post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                backchannel_logout_uri: c.backchannel_logout_uri.clone(),
                public: c.public,
                secret_sha256,
                id_token_alg,
                require_pkce: c.require_pkce,
            });
        }

        Ok(Config {
            path: path.into(),
            issuer,
            listen,
            database_url: raw.database_url.trim().to_string(),
            product_name: raw.product_name.trim().to_string(),
            key_dir: raw.key_dir.clone(),
            trusted_proxies,
            pool_size: raw.database.pool_size.clamp(1, 100),
            db_connect_timeout: duration(
                "database.connect_timeout",
                &raw.database.connect_timeout,
            )?,
            idle_timeout,
            max_lifetime,
            sweep_interval,
            access_token_ttl,
            id_token_ttl,
            code_ttl,
            access_token_alg,
            mfa_issuer,
            mfa_drift_steps,
            password_min_length,
            argon2,
            secure_cookies,
            mail: raw.mail.clone(),
            clients,
        })
    }

    /// How long a retired signing key stays published: the longest token lifetime plus a margin.
    pub fn publish_retired_for(&self) -> i64 {
        self.id_token_ttl.max(self.access_token_ttl).as_secs() as i64 + 60
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The domain settings this configuration implies.
    pub fn core_settings(&self) -> idp_core::Settings {
        idp_core::Settings {
            argon2: self.argon2,
            password_min_length: self.password_min_length,
            totp: idp_core::mfa::TotpSettings {
                issuer: self.mfa_issuer.clone(),
                drift_steps: self.mfa_drift_steps,
            },
            sessions: idp_core::sessions::SessionSettings {
                idle_timeout_secs: self.idle_timeout.as_secs() as i64,
                max_lifetime_secs: self.max_lifetime.as_secs() as i64,
            },
            throttle: idp_core::throttle::ThrottleSettings::default(),
            code_ttl_secs: self.code_ttl.as_secs().max(1) as i64,
            login_flow_ttl_secs: 600,
        }
    }
}

/// `10.0.0.0/8`, `::1/128`, or a bare address (one host).
fn parse_cidr(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .map(|n| n.trunc())
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A registered redirect URI: absolute, https (http only on loopback), no fragment, no user info,
/// and already in the canonical form the URL parser would give, so exact matching is meaningful.
fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(format!("{uri:?} must use https (http only for localhost)")),
        other => return Err(format!("{uri:?}: scheme {other:?} is not allowed")),
    }
    if url.fragment().is_some() {
        return Err(format!("{uri:?} must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} must not contain user info"));
    }
    if url.as_str() != uri {
        return Err(format!(
            "{uri:?} is not in canonical form; write it as {:?}",
            url.as_str()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
issuer = "http://127.0.0.1:8080"
[[clients]]
client_id = "app"
name = "App"
redirect_uris = ["http://127.0.0.1:9000/cb"]
public = true
"#;

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let c = Config::parse("t.toml", MIN).unwrap();
        assert_eq!(c.idle_timeout, Duration::from_secs(1800));
        assert_eq!(c.max_lifetime, Duration::from_secs(12 * 3600));
        assert_eq!(c.access_token_ttl, Duration::from_secs(300));
        assert_eq!(c.code_ttl, Duration::from_secs(60));
        assert_eq!(c.access_token_alg, crate::keys::SigningAlg::Rs256);
        assert_eq!(c.database_url, "sqlite://data/idp.db");
        assert!(!c.secure_cookies);
        assert!(c.client("app").unwrap().public);
        // Twice the cores plus two, at most 10.
        let cores = std::thread::available_parallelism().unwrap().get() as u32;
        assert_eq!(c.pool_size, (2 * cores + 2).min(10));
        let c = Config::parse("t.toml", &format!("{MIN}\n[database]\npool_size = 32\n")).unwrap();
        assert_eq!(c.pool_size, 32, "an explicit size is kept");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_line() {
        let err = Config::parse("t.toml", &format!("{MIN}\nidle_timeout = \"5m\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("idle_timeout"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key() {
        for (extra, key) in [
            ("[session]\nidle_timeout = \"soon\"", "session.idle_timeout"),
            ("[mfa]\nissuer = \"a:b\"", "mfa.issuer"),
            ("[passwords]\nmin_length = 6", "passwords.min_length"),
            (
                "[tokens]\naccess_token_alg = \"HS256\"",
                "tokens.access_token_alg",
            ),
        ] {
            let err = Config::parse("t.toml", &format!("{MIN}\n{extra}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
        let err = Config::parse(
            "t.toml",
            &MIN.replace("http://127.0.0.1:9000/cb", "http://evil.example/cb"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("clients[0].redirect_uris[0]"), "{err}");
        let err = Config::parse(
            "t.toml",
            &MIN.replace("http://127.0.0.1:8080", "http://idp.example"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("issuer"), "{err}");
        let err = Config::parse("t.toml", &MIN.replace("public = true", "public = false"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("secret"), "{err}");
    }

    #[test]
    fn redirect_uris_must_be_canonical_absolute_and_fragment_free() {
        assert!(check_redirect_uri("https://app.example/cb").is_ok());
        assert!(check_redirect_uri("https://app.example/cb#x").is_err());
        assert!(check_redirect_uri("https://user@app.example/cb").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("https://APP.example/cb").is_err());
        assert!(check_redirect_uri("/cb").is_err());
    }

    fn client_with(uri: &str) -> Client {
        Client {
            client_id: "app".into(),
            name: "App".into(),
            redirect_uris: vec![uri.to_string()],
            post_logout_redirect_uris: vec![uri.to_string()],
            backchannel_logout_uri: None,
            public: true,
            secret_sha256: None,
            id_token_alg: crate::keys::SigningAlg::Rs256,
            require_pkce: true,
        }
    }

    proptest::proptest! {
        /// Redirect URIs match exactly: any other string, however close, is refused.
        #[test]
        fn only_the_exact_registered_uri_matches(path in "[a-z/]{0,12}", other in "\\PC{0,40}") {
            let registered = format!("https://app.example/{path}");
            let client = client_with(&registered);
            proptest::prop_assert!(client.has_redirect_uri(&registered));
            proptest::prop_assert_eq!(client.has_redirect_uri(&other), other == registered);
            for variant in [format!("{registered}/"), format!("{registered}?x=1"), format!("{registered}#f"),
                registered.to_uppercase(), registered.replacen("https://", "https://user@", 1),
                registered.replacen("app.example", "app.example.", 1), registered.replacen("https", "http", 1)] {
                proptest::prop_assert_eq!(client.has_redirect_uri(&variant), variant == registered);
                proptest::prop_assert_eq!(client.has_post_logout_uri(&variant), variant == registered);
            }
        }
    }

    #[test]
    fn trusted_proxies_replace_the_old_switch_and_name_the_bad_entry() {
        let c = Config::parse("t.toml", MIN).unwrap();
        assert!(c.trusted_proxies.is_empty(), "nobody is trusted by default");
        let c = Config::parse(
            "t.toml",
            &format!(
                "{MIN}\n[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n"
            ),
        )
        .unwrap();
        let nets: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
        let err = Config::parse(
            "t.toml",
            &format!("{MIN}\n[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.local\"]\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("server.trusted_proxies[1]"), "{err}");
        let err = Config::parse("t.toml", &format!("trust_forwarded_headers = true\n{MIN}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trust_forwarded_headers") && err.contains("trusted_proxies"),
            "{err}"
        );
    }

    #[test]
    fn sweep_interval_and_pkce_have_safe_defaults() {
        let c = Config::parse("t.toml", MIN).unwrap();
        assert_eq!(c.sweep_interval, Duration::from_secs(15));
        assert!(c.client("app").unwrap().require_pkce);
        let err = Config::parse(
            "t.toml",
            &format!("{MIN}\n[session]\nsweep_interval = \"0s\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("session.sweep_interval"), "{err}");
        let err = Config::parse("t.toml", &format!("{MIN}require_pkce = false\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("clients[0].require_pkce"), "{err}");
    }

    #[test]
    fn shipped_configs_are_valid() {
        let c = Config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/idp.toml")).unwrap();
        assert!(!c.clients.is_empty());
        assert_eq!(c.idle_timeout, Duration::from_secs(1800));
        Config::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/container.toml"
        ))
        .unwrap();
        // deploy/idp.toml reads its client secret from the environment.
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/idp.toml"))
                .unwrap();
        let err = Config::parse("deploy/idp.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("DEMO_CLIENT_SECRET"), "{err}");
        Config::parse(
            "deploy/idp.toml",
            &text.replace("secret_env = \"DEMO_CLIENT_SECRET\"", "public = true"),
        )
        .unwrap();
    }
}
