//! Validation, one function per section: each checks its keys and names the one at fault.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::check::Check;
use super::raw::{
    MailSection, MailTransport, MfaSection, PasswordsSection, RawConfig, SecureCookies,
    ServerSection, SessionSection, TokensSection,
};
use super::types::is_loopback;
use super::{clients, Config, ConfigError, Environment};
use crate::alg::SigningAlg;
use idp_core::model::SessionSettings;

pub(super) fn validate(
    path: &str,
    raw: RawConfig,
    env: &Environment,
) -> Result<Config, ConfigError> {
    let check = Check::new(path);
    let (issuer, issuer_url) = issuer(&check, &raw.issuer)?;
    let listen: SocketAddr = raw
        .listen
        .trim()
        .parse()
        .map_err(|_| check.bad("listen", "expected an address like 127.0.0.1:8080"))?;
    idp_core::store::Backend::from_url(&raw.database_url)
        .map_err(|e| check.bad("database_url", &e.to_string()))?;
    let brand = super::Brand::global(&check, &raw.ui, raw.product_name.as_deref())?;
    let default_locale = match raw.ui.default_locale.as_deref() {
        None => crate::i18n::Lang::default(),
        Some(tag) => crate::i18n::Lang::ALL
            .into_iter()
            .find(|l| l.tag() == tag.trim())
            .ok_or_else(|| {
                let have: Vec<_> = crate::i18n::Lang::ALL.map(|l| l.tag()).into();
                check.bad(
                    "ui.default_locale",
                    &format!(
                        "{tag:?} is not a language of the pages; use one of {}",
                        have.join(", ")
                    ),
                )
            })?,
    };
    if raw.trust_forwarded_headers.is_some() {
        return Err(check.bad(
            "trust_forwarded_headers",
            "was replaced by [server] trusted_proxies: list the addresses (CIDRs) of your reverse proxies, e.g. trusted_proxies = [\"10.0.0.0/8\"]",
        ));
    }
    let trusted_proxies = server(&check, &raw.server)?;
    let sessions = session(&check, &raw.session)?;
    let tokens = tokens(&check, &raw.tokens)?;
    let (mfa_issuer, mfa_drift_steps) = mfa(&check, &raw.mfa, &brand.product)?;
    let (password_min_length, argon2) = passwords(&check, &raw.passwords)?;
    let mail = mail(&check, &raw.mail, env)?;
    let secure_cookies = match raw.cookies.secure {
        SecureCookies::Auto => issuer_url.scheme() == "https",
        SecureCookies::Always => true,
        SecureCookies::Never => false,
    };
    let mut clients = clients::validate(&check, &raw.clients, env, &brand)?;
    // Named in the provider's language: the client list is the same for every request.
    let console_name = crate::i18n::Tr::new(default_locale).tr1(
        "console-app-name",
        "product",
        brand.product.as_str(),
    );
    clients.push(clients::console(&issuer, &brand, console_name));
    if !(1..=10_000).contains(&raw.support.disconnects_per_hour) {
        return Err(check.bad("support.disconnects_per_hour", "must be 1-10000"));
    }
    if !(1..=100_000).contains(&raw.admin.calls_per_minute) {
        return Err(check.bad("admin.calls_per_minute", "must be 1-100000"));
    }
    if !(1..=100).contains(&raw.database.pool_size) {
        return Err(check.bad("database.pool_size", "must be 1-100"));
    }
    let metrics_listen = raw
        .server
        .metrics_listen
        .as_deref()
        .map(|a| {
            a.trim().parse::<SocketAddr>().map_err(|_| {
                check.bad(
                    "server.metrics_listen",
                    &format!("{a:?} is not an address and port like \"127.0.0.1:9090\""),
                )
            })
        })
        .transpose()?;
    if metrics_listen.is_some_and(|m| m == listen) {
        return Err(check.bad(
            "server.metrics_listen",
            "must differ from listen (the point is to keep /metrics off the public listener)",
        ));
    }
    if !(1..=100_000).contains(&raw.server.sign_ins_per_minute) {
        return Err(check.bad("server.sign_ins_per_minute", "must be 1-100000"));
    }
    Ok(Config {
        path: path.into(),
        issuer,
        listen,
        database_url: raw.database_url.trim().to_string(),
        brand,
        default_locale,
        key_dir: raw.key_dir.clone(),
        trusted_proxies,
        pool_size: raw.database.pool_size,
        db_connect_timeout: check.within(
            "database.connect_timeout",
            &raw.database.connect_timeout,
            Duration::from_millis(100),
            Duration::from_secs(300),
        )?,
        sessions: sessions.settings,
        sweep_interval: sessions.sweep,
        access_token_ttl: tokens.access_ttl,
        id_token_ttl: tokens.id_ttl,
        code_ttl: tokens.code_ttl,
        access_token_alg: tokens.access_alg,
        mfa_issuer,
        mfa_drift_steps,
        relink_requires_email: raw.mfa.relink_requires_email,
        disconnects_per_hour: raw.support.disconnects_per_hour,
        password_min_length,
        argon2,
        secure_cookies,
        mail,
        clients: super::types::Clients::new(clients),
        admin_calls_per_minute: raw.admin.calls_per_minute,
        sign_ins_per_minute: raw.server.sign_ins_per_minute,
        metrics_listen,
    })
}

fn issuer(check: &Check<'_>, raw: &str) -> Result<(String, Url), ConfigError> {
    let issuer = raw.trim().trim_end_matches('/').to_string();
    let url = Url::parse(&issuer).map_err(|e| check.bad("issuer", &format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(check.bad(
            "issuer",
            "must be an https:// URL (http:// only for localhost)",
        ));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(check.bad(
            "issuer",
            "must use https unless the host is localhost or a loopback address",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(check.bad("issuer", "must not contain a query, fragment or user info"));
    }
    Ok((issuer, url))
}

/// `10.0.0.0/8`, `::1/128`, or a bare address (one host).
fn parse_cidr(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .map(|n| n.trunc())
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

fn server(check: &Check<'_>, raw: &ServerSection) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            parse_cidr(p).ok_or_else(|| {
                check.bad(
                    &format!("server.trusted_proxies[{i}]"),
                    &format!("{p:?} is not an address or CIDR like \"10.0.0.0/8\" or \"::1\""),
                )
            })
        })
        .collect()
}

struct Sessions {
    settings: SessionSettings,
    sweep: Duration,
}

fn session(check: &Check<'_>, raw: &SessionSection) -> Result<Sessions, ConfigError> {
    // The defaults are the domain's (`SessionSettings::default`), written once there.
    let defaults = SessionSettings::default();
    let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
    let or_default = |key: &str, value: &Option<String>, default: i64| match value {
        Some(v) => check.duration(key, v),
        None => Ok(secs(default)),
    };
    let idle = or_default(
        "session.idle_timeout",
        &raw.idle_timeout,
        defaults.idle_timeout_secs,
    )?;
    if idle < Duration::from_secs(1) {
        return Err(check.bad("session.idle_timeout", "must be at least 1s"));
    }
    let max = or_default(
        "session.max_lifetime",
        &raw.max_lifetime,
        defaults.max_lifetime_secs,
    )?;
    if max < idle {
        return Err(check.bad(
            "session.max_lifetime",
            &format!(
                "is {} ({} unless set), shorter than session.idle_timeout ({}): raise it or \
                 shorten the idle timeout",
                humantime::format_duration(max),
                humantime::format_duration(secs(defaults.max_lifetime_secs)),
                humantime::format_duration(idle)
            ),
        ));
    }
    let as_secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let settings = SessionSettings {
        idle_timeout_secs: as_secs(idle),
        max_lifetime_secs: as_secs(max),
    };
    let sweep = check.within(
        "session.sweep_interval",
        &raw.sweep_interval,
        Duration::from_secs(1),
        Duration::from_secs(3600),
    )?;
    Ok(Sessions { settings, sweep })
}

struct Tokens {
    access_ttl: Duration,
    id_ttl: Duration,
    code_ttl: Duration,
    access_alg: SigningAlg,
}

fn tokens(check: &Check<'_>, raw: &TokensSection) -> Result<Tokens, ConfigError> {
    let second = Duration::from_secs(1);
    let access_ttl = check.within(
        "tokens.access_token_ttl",
        &raw.access_token_ttl,
        second,
        Duration::from_secs(3600),
    )?;
    let id_ttl = check.within(
        "tokens.id_token_ttl",
        &raw.id_token_ttl,
        second,
        Duration::from_secs(24 * 3600),
    )?;
    let code_ttl = check.duration("tokens.code_ttl", &raw.code_ttl)?;
    if code_ttl.is_zero() || code_ttl > Duration::from_secs(600) {
        return Err(check.bad(
            "tokens.code_ttl",
            "must be between 1s and 10m (RFC 6749 4.1.2)",
        ));
    }
    let access_alg = match raw.access_token_alg.as_deref() {
        None => SigningAlg::Rs256,
        Some(a) => SigningAlg::parse(a)
            .ok_or_else(|| check.bad("tokens.access_token_alg", "must be RS256, ES256 or EdDSA"))?,
    };
    Ok(Tokens {
        access_ttl,
        id_ttl,
        code_ttl,
        access_alg,
    })
}

fn mfa(
    check: &Check<'_>,
    raw: &MfaSection,
    product_name: &str,
) -> Result<(String, u8), ConfigError> {
    // Unset, the product's name (which may be longer and hold ':') gives it: without ':', cut
    // to 64 bytes, so a product name the documentation allows never fails as `mfa.issuer`.
    let issuer = match &raw.issuer {
        Some(i) => i.trim().to_string(),
        None => {
            let mut label = String::new();
            for c in product_name.chars().filter(|c| *c != ':') {
                if label.len() + c.len_utf8() > 64 {
                    break;
                }
                label.push(c);
            }
            label.trim().to_string()
        }
    };
    if issuer.is_empty()
        || issuer.contains(':')
        || issuer.len() > 64
        || issuer.chars().any(idp_core::model::disguises)
    {
        return Err(check.bad(
            "mfa.issuer",
            "must be 1-64 characters without ':' (the otpauth URI uses ':' as separator) or control characters",
        ));
    }
    let drift = raw.drift_steps.unwrap_or(1);
    if drift > 2 {
        return Err(check.bad(
            "mfa.drift_steps",
            "must be 0, 1 or 2 (each step is 30 seconds either side)",
        ));
    }
    Ok((issuer, drift))
}

fn passwords(
    check: &Check<'_>,
    raw: &PasswordsSection,
) -> Result<(usize, idp_core::Argon2Params), ConfigError> {
    let min_length = raw
        .min_length
        .unwrap_or(idp_core::password::DEFAULT_MIN_LENGTH);
    idp_core::PasswordPolicy::new(min_length)
        .map_err(|e| check.bad("passwords.min_length", &e.to_string()))?;
    let defaults = idp_core::Argon2Params::default();
    let argon2 = idp_core::Argon2Params {
        memory_kib: raw.argon2_memory_kib.unwrap_or(defaults.memory_kib),
        iterations: raw.argon2_iterations.unwrap_or(defaults.iterations),
        parallelism: raw.argon2_parallelism.unwrap_or(defaults.parallelism),
    };
    // Bounds a sign-in can afford: every one allocates the memory (on each hashing thread) and
    // spends the iterations, so an unbounded value is a crash or a denial of service.
    for (key, value, min, max) in [
        ("passwords.argon2_parallelism", argon2.parallelism, 1, 16),
        (
            "passwords.argon2_memory_kib",
            argon2.memory_kib,
            8 * argon2.parallelism.max(1),
            1024 * 1024,
        ),
        ("passwords.argon2_iterations", argon2.iterations, 1, 20),
    ] {
        if !(min..=max).contains(&value) {
            return Err(check.bad(key, &format!("{value} is outside {min}-{max}")));
        }
    }
    Ok((min_length, argon2))
}

/// `[mail]`, with the SMTP host taken from `smtp_host_env` when it names one.
fn mail(
    check: &Check<'_>,
    raw: &MailSection,
    env: &Environment,
) -> Result<MailSection, ConfigError> {
    let mut mail = raw.clone();
    if let Some(var) = &raw.smtp_host_env {
        if raw.smtp_host.is_some() {
            return Err(check.bad(
                "mail.smtp_host_env",
                "give either smtp_host or smtp_host_env, not both",
            ));
        }
        let host = env
            .get(var)
            .filter(|h| !h.trim().is_empty())
            .ok_or_else(|| {
                check.bad(
                    "mail.smtp_host_env",
                    &format!("environment variable {var} is not set"),
                )
            })?;
        mail.smtp_host = Some(host.trim().to_string());
    }
    if mail.transport == MailTransport::Smtp
        && mail
            .smtp_host
            .as_deref()
            .is_none_or(|h| h.trim().is_empty())
    {
        return Err(check.bad(
            "mail.smtp_host",
            "is required when mail.transport = \"smtp\" (or name a variable with smtp_host_env)",
        ));
    }
    // The credentials' variables, named together and set (the mailer reads them at start).
    match (&raw.smtp_username_env, &raw.smtp_password_env) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            let key = if raw.smtp_username_env.is_some() {
                "mail.smtp_password_env"
            } else {
                "mail.smtp_username_env"
            };
            return Err(check.bad(key, "name both smtp_username_env and smtp_password_env"));
        }
        (Some(user), Some(pass)) => {
            for (key, var) in [
                ("mail.smtp_username_env", user),
                ("mail.smtp_password_env", pass),
            ] {
                if env.get(var).is_none() && !env.may_lack(var) {
                    return Err(check.bad(key, &format!("environment variable {var} is not set")));
                }
            }
        }
    }
    match raw.from.parse::<lettre::message::Mailbox>() {
        Err(_) => {
            return Err(check.bad(
                "mail.from",
                "must be an address like \"Acme <no-reply@acme.example>\"",
            ))
        }
        // The sender's name is shown to every user like the product's.
        Ok(m) => {
            if let Some(name) = &m.name {
                super::branding::shown_name(check, "mail.from", name)?;
            }
        }
    }
    Ok(mail)
}
