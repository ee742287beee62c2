//! Configuration parsing and validation.

use std::time::Duration;

use super::clients::check_redirect_uri;
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
    assert_eq!(c.sessions.idle_timeout_secs, 1800);
    assert_eq!(c.sessions.max_lifetime_secs, 12 * 3600);
    assert_eq!(c.access_token_ttl, Duration::from_secs(300));
    assert_eq!(c.code_ttl, Duration::from_secs(60));
    assert_eq!(c.access_token_alg, crate::alg::SigningAlg::Rs256);
    assert_eq!(c.database_url, "sqlite://data/idp.db");
    assert!(!c.secure_cookies);
    assert!(c.client("app").unwrap().public);
    assert_eq!(c.sign_ins_per_minute, 1200);
    // Twice the cores plus two, at most 10.
    let cores = std::thread::available_parallelism().unwrap().get() as u32;
    assert_eq!(c.pool_size, (2 * cores + 2).min(10));
    let c = Config::parse("t.toml", &format!("{MIN}\n[database]\npool_size = 32\n")).unwrap();
    assert_eq!(c.pool_size, 32, "an explicit size is kept");
    // Outside 1-100 (the documented range) it is refused, not quietly clamped.
    for bad in [0, 101] {
        let err = Config::parse("t.toml", &format!("{MIN}\n[database]\npool_size = {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.pool_size"), "{err}");
    }
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
        // The default lifetime named with its value when a long idle timeout passes it.
        ("[session]\nidle_timeout = \"1day\"", "is 12h (12h unless set), shorter than session.idle_timeout (1day)"),
        ("[mfa]\nissuer = \"a:b\"", "mfa.issuer"),
        ("[passwords]\nmin_length = 6", "passwords.min_length"),
        (
            "[tokens]\naccess_token_alg = \"HS256\"",
            "tokens.access_token_alg",
        ),
        (
            "[server]\nsign_ins_per_minute = 0",
            "server.sign_ins_per_minute",
        ),
        ("[ui]\ndefault_locale = \"fr\"", "ui.default_locale"),
        ("[ui]\ndefault_locale = \"ES\"", "ui.default_locale"),
        // Values a start or a first sign-in could not survive (a panic, an allocation of TiB).
        ("[database]\nconnect_timeout = \"0s\"", "database.connect_timeout"),
        (
            "[passwords]\nargon2_memory_kib = 4000000000",
            "passwords.argon2_memory_kib",
        ),
        ("[passwords]\nargon2_iterations = 1000", "passwords.argon2_iterations"),
        ("[passwords]\nargon2_parallelism = 300", "passwords.argon2_parallelism"),
        (
            "[mail]\ntransport = \"smtp\"\nsmtp_host = \"smtp.example\"\nsmtp_username_env = \"NOT_SET_ANYWHERE\"\nsmtp_password_env = \"NOR_THIS\"",
            "mail.smtp_username_env",
        ),
        (
            "[mail]\ntransport = \"smtp\"\nsmtp_host = \"smtp.example\"\nsmtp_username_env = \"U\"",
            "mail.smtp_password_env",
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
    let err = Config::parse(
        "t.toml",
        &MIN.replace(
            "public = true",
            "public = true\nui = { default_locale = \"es\" }",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("clients[0].ui.default_locale"), "{err}");
    let c = Config::parse("t.toml", &format!("{MIN}\n[ui]\ndefault_locale = \"es\"\n")).unwrap();
    assert_eq!(c.default_locale, crate::i18n::Lang::Es);
    assert_eq!(
        Config::parse("t.toml", MIN).unwrap().default_locale,
        crate::i18n::Lang::En
    );
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
        id_token_alg: crate::alg::SigningAlg::Rs256,
        require_pkce: true,
        admin: None,
        introspect: false,
        brand: Brand {
            product: "Identity Provider".into(),
            logo: None,
            theme: None,
        },
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
        &format!("{MIN}\n[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n"),
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
    assert_eq!(c.sessions.idle_timeout_secs, 1800);
    Config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/container.toml"
    ))
    .unwrap();
    // deploy/idp.toml reads its client secret, SMTP host and credentials from the environment.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/idp.toml"))
        .unwrap();
    let secret = "s".repeat(32);
    let smtp = ("IDP_SMTP_HOST", "smtp.example.com");
    let (user, pass) = (("IDP_SMTP_USERNAME", "idp"), ("IDP_SMTP_PASSWORD", "pw"));
    let err = Config::parse_with(
        "deploy/idp.toml",
        &text,
        &Environment::of(&[smtp, user, pass]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("DEMO_CLIENT_SECRET"), "{err}");
    let err = Config::parse_with(
        "deploy/idp.toml",
        &text,
        &Environment::of(&[("DEMO_CLIENT_SECRET", &secret)]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mail.smtp_host_env") && err.contains("IDP_SMTP_HOST"),
        "{err}"
    );
    let err = Config::parse_with(
        "deploy/idp.toml",
        &text,
        &Environment::of(&[("DEMO_CLIENT_SECRET", &secret), smtp]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mail.smtp_username_env") && err.contains("IDP_SMTP_USERNAME"),
        "{err}"
    );
    let c = Config::parse_with(
        "deploy/idp.toml",
        &text,
        &Environment::of(&[("DEMO_CLIENT_SECRET", &secret), smtp, user, pass]),
    )
    .unwrap();
    assert!(c.client("demo").unwrap().secret_sha256.is_some());
    // An operator's command (unlock a user, say) from a shell without the app's secret or the
    // SMTP credentials: the file is taken; the app cannot authenticate through it.
    let c = Config::parse_with(
        "deploy/idp.toml",
        &text,
        &Environment::of(&[smtp]).for_operator(),
    )
    .unwrap();
    assert!(c.client("demo").unwrap().secret_sha256.is_none());
    assert_eq!(c.mail.smtp_host.as_deref(), Some("smtp.example.com"));
    assert_eq!(c.mail_warning(), None);
}

const ADMIN: &str = r#"
[[clients]]
client_id = "helpdesk"
name = "Help desk"
secret_sha256 = "d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146"
grant_types = ["client_credentials"]
scopes = ["admin:read", "admin:mfa", "admin:read"]
admin_accounts = ["acme"]
"#;

#[test]
fn admin_clients_have_scopes_and_nothing_of_a_browser_client() {
    let c = Config::parse("t.toml", &format!("{MIN}{ADMIN}")).unwrap();
    let admin = c.client("helpdesk").unwrap().admin.clone().unwrap();
    assert_eq!(admin.scopes, vec![AdminScope::Read, AdminScope::Mfa]);
    assert!(admin.may_act_on("acme") && !admin.may_act_on("other"));
    assert!(c.client("app").unwrap().admin.is_none());
    // Each of these breaks one rule (appended keys override the admin client's).
    let with = |line: &str| ADMIN.replace("admin_accounts = [\"acme\"]\n", &format!("{line}\n"));
    for (text, key) in [
        (
            ADMIN.replace("\"admin:mfa\", \"admin:read\"]", "\"openid\"]"),
            "clients[1].scopes",
        ),
        (with("redirect_uris = [\"https://x.example/cb\"]"), "clients[1].redirect_uris"),
        (with("admin_accounts = []"), "clients[1].admin_accounts"),
        (with("admin_accounts = [\"Not A Slug\"]"), "clients[1].admin_accounts"),
        (
            ADMIN.replace("[\"client_credentials\"]", "[\"client_credentials\", \"authorization_code\"]"),
            "clients[1].grant_types",
        ),
        (ADMIN.replace("[\"client_credentials\"]", "[\"password\"]"), "clients[1].grant_types"),
        (
            ADMIN.replace("scopes = [\"admin:read\", \"admin:mfa\", \"admin:read\"]\n", ""),
            "clients[1].scopes",
        ),
        (
            ADMIN.replace(
                "secret_sha256 = \"d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146\"\n",
                "public = true\n",
            ),
            "clients[1].public",
        ),
    ] {
        let err = Config::parse("t.toml", &format!("{MIN}{text}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{text}\n{err}");
    }
    // An admin client without a secret is not told to become public (it may not).
    let err = Config::parse(
        "t.toml",
        &format!(
            "{MIN}{}",
            ADMIN.replace(
                "secret_sha256 = \"d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146\"\n",
                ""
            )
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("clients[1].secret_sha256") && !err.contains("public"),
        "{err}"
    );
    // A whole `sha256sum` line pasted: the refusal says what to leave out.
    let err = Config::parse(
        "t.toml",
        &format!("{MIN}{}", ADMIN.replace("421146\"", "421146  -\"")),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("without the \"  -\""), "{err}");
    // A browser client cannot be given admin scopes.
    let err = Config::parse("t.toml", &format!("{MIN}scopes = [\"admin:read\"]\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("clients[0].scopes"), "{err}");
    // Each refusal names the key at fault.
    for (extra, key) in [
        ("admin_accounts = [\"acme\"]", "clients[0].admin_accounts"),
        (
            "grant_types = [\"refresh_token\"]",
            "clients[0].grant_types",
        ),
    ] {
        let err = Config::parse("t.toml", &format!("{MIN}{extra}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{extra}\n{err}");
    }
    let err = Config::parse(
        "t.toml",
        &format!(
            "{MIN}{}",
            with("backchannel_logout_uri = \"https://x.example/bc\"")
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("clients[1].backchannel_logout_uri"), "{err}");
}

#[test]
fn a_file_outbox_outside_development_is_warned_about() {
    let c = Config::parse("t.toml", MIN).unwrap();
    assert!(c.is_development());
    assert_eq!(c.mail_warning(), None, "loopback issuer: development");
    let public = MIN.replace("http://127.0.0.1:8080", "https://id.example.com");
    let c = Config::parse("t.toml", &public).unwrap();
    let warning = c.mail_warning().unwrap();
    assert!(
        warning.contains("file outbox") && warning.contains("smtp"),
        "{warning}"
    );
    let smtp =
        format!("{public}\n[mail]\ntransport = \"smtp\"\nsmtp_host = \"smtp.example.com\"\n");
    // (the [mail] table lands after the client: TOML allows tables in any order)
    let c = Config::parse("t.toml", &smtp).unwrap();
    assert_eq!(c.mail_warning(), None);
}

/// Any product name the documentation allows (1-100 characters, ':' included) gives the
/// authenticator apps' label when `[mfa] issuer` is unset: without ':', at most 64 bytes.
#[test]
fn a_long_product_name_gives_the_authenticator_label() {
    let long = format!("Acme: {}", "Fuel ".repeat(18));
    let c = Config::parse(
        "t.toml",
        &format!("{MIN}\n[ui]\nproduct_name = \"{long}\"\n"),
    )
    .unwrap();
    assert!(
        !c.mfa_issuer.contains(':') && c.mfa_issuer.len() <= 64,
        "{}",
        c.mfa_issuer
    );
    assert!(c.mfa_issuer.starts_with("Acme Fuel"), "{}", c.mfa_issuer);
    assert_eq!(c.brand.product, long.trim());
}

#[test]
fn the_console_is_a_built_in_public_client_and_its_id_is_reserved() {
    let c = Config::parse(
        "t.toml",
        &format!("{MIN}\n[ui]\nproduct_name = \"Acme ID\"\ndefault_locale = \"es\"\n"),
    )
    .unwrap();
    let console = c
        .client("console")
        .expect("the console is always configured");
    assert!(console.public && console.require_pkce && console.signs_users_in());
    assert_eq!(
        console.redirect_uris,
        ["http://127.0.0.1:8080/console/callback"]
    );
    assert!(console.backchannel_logout_uri.is_none());
    assert_eq!(
        console.name, "Consola de Acme ID",
        "named in the provider's language"
    );
    let err = Config::parse(
        "t.toml",
        &format!("{MIN}\n[[clients]]\nclient_id = \"console\"\nname = \"Mine\"\nredirect_uris = [\"http://127.0.0.1:9000/cb\"]\npublic = true\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("clients[1].client_id") && err.contains("reserved"),
        "{err}"
    );
}
