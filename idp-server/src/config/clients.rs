//! `[[clients]]`: the relying parties, each validated (ids, exact redirect URIs in canonical
//! form, secrets, algorithms, PKCE).

use std::collections::HashSet;

use url::Url;

use super::check::Check;
use super::raw::ClientSection;
use super::types::is_loopback;
use super::types::{AdminAccess, AdminScope};
use super::{Client, ConfigError, Environment};
use crate::alg::SigningAlg;
use idp_core::roles::CONSOLE_CLIENT_ID;

pub(super) fn validate(
    check: &Check<'_>,
    raw: &[ClientSection],
    env: &Environment,
    brand: &super::Brand,
) -> Result<Vec<Client>, ConfigError> {
    let mut clients = Vec::new();
    let mut seen = HashSet::new();
    for (i, c) in raw.iter().enumerate() {
        let client = one(check, i, c, env, brand)?;
        if !seen.insert(client.client_id.clone()) {
            return Err(check.bad(
                &format!("clients[{i}].client_id"),
                &format!("{:?} is configured twice", client.client_id),
            ));
        }
        clients.push(client);
    }
    Ok(clients)
}

fn one(
    check: &Check<'_>,
    i: usize,
    c: &ClientSection,
    env: &Environment,
    brand: &super::Brand,
) -> Result<Client, ConfigError> {
    let k = |field: &str| format!("clients[{i}].{field}");
    let bad = |field: &str, reason: &str| check.bad(&k(field), reason);
    let id = c.client_id.trim();
    if id == CONSOLE_CLIENT_ID {
        return Err(bad(
            "client_id",
            "\"console\" is reserved for the provider's built-in console",
        ));
    }
    if id.is_empty()
        || id.len() > 100
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(bad(
            "client_id",
            "must be 1-100 characters of letters, digits, '-', '_' or '.'",
        ));
    }
    let admin = admin_access(c, &bad)?;
    if c.introspect {
        resource_server(c, admin.is_some(), &bad)?;
    } else if admin.is_none() && c.redirect_uris.is_empty() {
        return Err(bad(
            "redirect_uris",
            "at least one redirect URI is required",
        ));
    }
    for (j, uri) in c.redirect_uris.iter().enumerate() {
        check_redirect_uri(uri).map_err(|r| bad(&format!("redirect_uris[{j}]"), &r.to_string()))?;
    }
    for (j, uri) in c.post_logout_redirect_uris.iter().enumerate() {
        check_redirect_uri(uri)
            .map_err(|r| bad(&format!("post_logout_redirect_uris[{j}]"), &r.to_string()))?;
    }
    if let Some(uri) = &c.backchannel_logout_uri {
        check_redirect_uri(uri).map_err(|r| bad("backchannel_logout_uri", &r.to_string()))?;
    }
    let secret_sha256 = match (c.public, &c.secret_sha256, &c.secret_env) {
        (true, None, None) => None,
        (true, _, _) => {
            return Err(bad(
                "public",
                "a public client has no secret: remove secret_sha256/secret_env",
            ))
        }
        (false, Some(_), Some(_)) => {
            return Err(bad(
                "secret_sha256",
                "give either secret_sha256 or secret_env, not both",
            ))
        }
        (false, None, None) => {
            return Err(bad(
                "secret_sha256",
                if admin.is_some() {
                    "an admin client needs secret_sha256 or secret_env"
                } else {
                    "a confidential client needs secret_sha256 or secret_env (or set public = true)"
                },
            ))
        }
        (false, Some(h), None) => {
            // What `sha256sum` prints after the digest, pasted with it.
            let hint = if h.trim_end().ends_with('-') {
                " (the digest alone, without the \"  -\" sha256sum prints after it)"
            } else {
                ""
            };
            let bytes = hex::decode(h.trim())
                .map_err(|_| bad("secret_sha256", &format!("must be 64 hex digits{hint}")))?;
            Some(
                bytes
                    .try_into()
                    .map_err(|_| bad("secret_sha256", "must be 64 hex digits"))?,
            )
        }
        // An operator's command without the app's secret: the app cannot authenticate here.
        (false, None, Some(var)) if env.may_lack(var) => None,
        (false, None, Some(var)) => {
            let secret = env.get(var).ok_or_else(|| {
                bad(
                    "secret_env",
                    &format!("environment variable {var} is not set"),
                )
            })?;
            if secret.len() < 32 {
                return Err(bad(
                    "secret_env",
                    &format!("the secret in {var} must be at least 32 characters"),
                ));
            }
            Some(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()).into())
        }
    };
    if c.public && !c.require_pkce {
        return Err(bad(
            "require_pkce",
            "a public client always uses PKCE (it has no secret to prove itself with)",
        ));
    }
    let id_token_alg = match c.id_token_signed_response_alg.as_deref() {
        None => SigningAlg::Rs256,
        Some(a) => SigningAlg::parse(a).ok_or_else(|| {
            bad(
                "id_token_signed_response_alg",
                "must be RS256, ES256 or EdDSA",
            )
        })?,
    };
    let brand = match &c.ui {
        Some(_) if admin.is_some() => {
            return Err(bad("ui", "an admin client has no pages to brand"));
        }
        Some(ui) if ui.default_locale.is_some() => {
            return Err(bad(
                "ui.default_locale",
                "is set in [ui] only (an app chooses the language of its sign-ins with ui_locales)",
            ));
        }
        Some(ui) => brand.for_client(check, &format!("clients[{i}]"), ui)?,
        None => brand.clone(),
    };
    Ok(Client {
        brand,
        client_id: id.to_string(),
        name: super::branding::shown_name(check, &k("name"), &c.name)?,
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        public: c.public,
        secret_sha256,
        id_token_alg,
        require_pkce: c.require_pkce,
        admin,
        introspect: c.introspect,
    })
}

/// The built-in console (`/console`), added to the clients at every load and reload so that
/// it signs in through `/authorize` like any app and its session is an app session of the SSO
/// session (idle timeout, logout, revoke, a revoked role end it). Public with PKCE S256 (the
/// server redeems its code in-process, holding no secret worth the name); its one redirect URI
/// is the issuer's `/console/callback`; no back-channel URI (its session is the grant, which
/// ends with the SSO session); the provider's brand; `name` is what the sign-in page shows.
pub(super) fn console(issuer: &str, brand: &super::Brand, name: String) -> Client {
    Client {
        client_id: CONSOLE_CLIENT_ID.to_string(),
        name,
        redirect_uris: vec![console_redirect_uri(issuer)],
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        public: true,
        secret_sha256: None,
        id_token_alg: SigningAlg::Rs256,
        require_pkce: true,
        admin: None,
        introspect: false,
        brand: brand.clone(),
    }
}

/// The console's redirect URI: exactly `{issuer}/console/callback`.
pub fn console_redirect_uri(issuer: &str) -> String {
    format!("{issuer}/console/callback")
}

/// A resource server (`introspect = true`): client credentials only (a secret), no grant, no
/// browser use (no redirect, logout or back-channel URIs, no pages to brand).
fn resource_server(
    c: &ClientSection,
    admin: bool,
    bad: &impl Fn(&str, &str) -> ConfigError,
) -> Result<(), ConfigError> {
    let why = "a resource server (introspect = true) only introspects tokens: it has no grant \
               types, redirect, logout or back-channel URIs, or pages";
    for (key, given) in [
        ("grant_types", c.grant_types.is_some() || admin),
        ("redirect_uris", !c.redirect_uris.is_empty()),
        (
            "post_logout_redirect_uris",
            !c.post_logout_redirect_uris.is_empty(),
        ),
        ("backchannel_logout_uri", c.backchannel_logout_uri.is_some()),
        ("ui", c.ui.is_some()),
    ] {
        if given {
            return Err(bad(key, why));
        }
    }
    if c.public {
        return Err(bad(
            "public",
            "a resource server must be confidential (a secret): introspection tells who is signed in",
        ));
    }
    Ok(())
}

/// The admin access of a `client_credentials` client (`None` for an app users sign in to). The
/// two kinds never mix: an admin client has no redirect URIs and is confidential; no other
/// client has scopes.
fn admin_access(
    c: &ClientSection,
    bad: &impl Fn(&str, &str) -> ConfigError,
) -> Result<Option<AdminAccess>, ConfigError> {
    let grants: Vec<&str> = c.grant_types.iter().flatten().map(String::as_str).collect();
    for g in &grants {
        if !matches!(
            *g,
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(bad(
                "grant_types",
                &format!("{g:?} is not supported: use authorization_code (with refresh_token) or client_credentials"),
            ));
        }
    }
    if !grants.contains(&"client_credentials") {
        for (key, given) in [
            ("scopes", c.scopes.is_some()),
            ("admin_accounts", c.admin_accounts.is_some()),
        ] {
            if given {
                return Err(bad(
                    key,
                    "scopes and admin_accounts are for admin clients (grant_types = [\"client_credentials\"])",
                ));
            }
        }
        // An app users sign in to: a list, when given, must say so.
        if c.grant_types.is_some() && !grants.contains(&"authorization_code") {
            return Err(bad(
                "grant_types",
                "an app users sign in to needs authorization_code (refresh_token is optional)",
            ));
        }
        return Ok(None);
    }
    if grants.len() > 1 {
        return Err(bad(
            "grant_types",
            "an admin client has only client_credentials: it never signs users in",
        ));
    }
    for (key, given) in [
        ("redirect_uris", !c.redirect_uris.is_empty()),
        (
            "post_logout_redirect_uris",
            !c.post_logout_redirect_uris.is_empty(),
        ),
        ("backchannel_logout_uri", c.backchannel_logout_uri.is_some()),
    ] {
        if given {
            return Err(bad(
                key,
                "an admin client has no redirect, logout or back-channel URIs",
            ));
        }
    }
    if c.public {
        return Err(bad(
            "public",
            "an admin client must be confidential (a secret)",
        ));
    }
    let names = c.scopes.as_deref().unwrap_or_default();
    if names.is_empty() {
        return Err(bad(
            "scopes",
            "an admin client needs scopes: admin:read, admin:accounts, admin:users, admin:mfa, admin:sessions",
        ));
    }
    let mut scopes = Vec::new();
    for s in names {
        let scope = AdminScope::parse(s.trim()).ok_or_else(|| {
            bad(
                "scopes",
                &format!("{s:?} is not an admin scope (admin:read, admin:accounts, admin:users, admin:mfa, admin:sessions)"),
            )
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.sort();
    let accounts = match &c.admin_accounts {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(bad(
                "admin_accounts",
                "an empty list allows nothing: omit it for every account",
            ))
        }
        Some(list) => {
            for slug in list {
                if !idp_core::model::validate_slug(slug) {
                    return Err(bad(
                        "admin_accounts",
                        &format!("{slug:?} is not an account slug"),
                    ));
                }
            }
            Some(list.clone())
        }
    };
    Ok(Some(AdminAccess { scopes, accounts }))
}

/// What is wrong with a URI to be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum UriProblem {
    #[error("{0:?} is not an absolute URL: {1}")]
    NotAbsolute(String, url::ParseError),
    #[error("{0:?} must use https (http only for localhost)")]
    NotHttps(String),
    #[error("{0:?}: scheme {1:?} is not allowed")]
    Scheme(String, String),
    #[error("{0:?} must not contain a fragment")]
    Fragment(String),
    #[error("{0:?} must not contain user info")]
    UserInfo(String),
    #[error("{0:?} is not in canonical form; write it as {1:?}")]
    NotCanonical(String, String),
}

/// A registered redirect URI: absolute, https (http only on loopback), no fragment, no user info,
/// and already in the canonical form the URL parser would give, so exact matching is meaningful.
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), UriProblem> {
    let url = Url::parse(uri).map_err(|e| UriProblem::NotAbsolute(uri.into(), e))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(UriProblem::NotHttps(uri.into())),
        other => return Err(UriProblem::Scheme(uri.into(), other.into())),
    }
    if url.fragment().is_some() {
        return Err(UriProblem::Fragment(uri.into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UriProblem::UserInfo(uri.into()));
    }
    if url.as_str() != uri {
        return Err(UriProblem::NotCanonical(uri.into(), url.as_str().into()));
    }
    Ok(())
}
