//! `validate_request`: what is accepted, what goes back to the app, what is a page.

use super::*;
use crate::config::Config;

const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CB: &str = "http%3A%2F%2F127.0.0.1%3A9000%2Fcb";

fn config() -> Config {
    Config::parse(
        "t.toml",
        r#"
issuer = "http://127.0.0.1:8080"
[[clients]]
client_id = "spa"
name = "SPA"
redirect_uris = ["http://127.0.0.1:9000/cb"]
public = true
[[clients]]
client_id = "web"
name = "Web"
redirect_uris = ["http://127.0.0.1:9000/cb"]
secret_sha256 = "d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146"
[[clients]]
client_id = "legacy"
name = "Legacy"
redirect_uris = ["http://127.0.0.1:9000/cb"]
secret_sha256 = "d080a55c0f0ff06c87f2471e5a94740e43240e555caa251643a19200fc421146"
require_pkce = false
"#,
    )
    .unwrap()
}

fn good(client: &str) -> String {
    format!(
        "client_id={client}&redirect_uri={CB}&response_type=code&scope=openid%20email&state=s1\
         &nonce=n1&code_challenge={CH}&code_challenge_method=S256"
    )
}

fn validate(query: &str) -> Result<ValidRequest, Refusal> {
    validate_request(&config(), query.as_bytes())
}

/// The error the app gets back (and the redirect it goes to, which must be the registered one).
fn redirected(query: &str) -> &'static str {
    match validate(query) {
        Err(Refusal::Redirect {
            redirect_uri,
            error,
            state,
            ..
        }) => {
            assert_eq!(redirect_uri, "http://127.0.0.1:9000/cb");
            assert_eq!(
                state.as_deref(),
                Some("s1"),
                "state goes back with the error"
            );
            error
        }
        other => panic!("expected a redirect for {query}, got {other:?}"),
    }
}

fn shown(query: &str) -> String {
    match validate(query) {
        Err(Refusal::Page(message)) => crate::i18n::Tr::default().show(&message),
        other => panic!("expected an error page for {query}, got {other:?}"),
    }
}

#[test]
fn a_complete_request_is_accepted_as_asked() {
    let v = validate(&format!("{}&login_hint=ann%40example.com", good("spa"))).unwrap();
    assert_eq!(v.pending.client_id, "spa");
    assert_eq!(v.pending.redirect_uri, "http://127.0.0.1:9000/cb");
    assert_eq!(v.pending.scope, "openid email");
    assert_eq!(v.pending.state.as_deref(), Some("s1"));
    assert_eq!(v.pending.nonce.as_deref(), Some("n1"));
    assert_eq!(v.pending.code_challenge.as_deref(), Some(CH));
    assert_eq!(v.pending.login_hint.as_deref(), Some("ann@example.com"));
    assert!(!v.prompt_none && !v.force_login);
    assert_eq!(v.max_age, None);
}

#[test]
fn an_unknown_client_or_redirect_uri_is_never_redirected_to() {
    let q = good("spa");
    assert!(shown(&q.replace("client_id=spa", "client_id=nope")).contains("not registered"));
    assert!(shown(&q.replace("client_id=spa&", "")).contains("client_id"));
    assert!(shown(&q.replace(&format!("redirect_uri={CB}&"), "")).contains("redirect_uri"));
    // Exact match only: no prefix, suffix, case, port or query games.
    for uri in [
        "http%3A%2F%2F127.0.0.1%3A9000%2Fcb%2F",
        "http%3A%2F%2F127.0.0.1%3A9000%2Fcb%3Fx%3D1",
        "http%3A%2F%2F127.0.0.1%3A9000%2FCB",
        "http%3A%2F%2F127.0.0.1%3A9001%2Fcb",
        "http%3A%2F%2F127.0.0.1%3A9000%2Fcb%23f",
        "http%3A%2F%2F127.0.0.1%3A9000%2Fc",
    ] {
        let message = shown(&q.replace(CB, uri));
        assert!(message.contains("not registered"), "{uri}: {message}");
    }
    // Even an otherwise broken request is not redirected when the URI is wrong.
    let broken = "client_id=spa&redirect_uri=http%3A%2F%2Fevil.example%2Fcb&response_type=token";
    assert!(matches!(validate(broken), Err(Refusal::Page(_))));
    // A repeated parameter is malformed, not "the first one wins".
    let twice = format!("{q}&redirect_uri=http%3A%2F%2Fevil.example%2Fcb");
    assert!(matches!(validate(&twice), Err(Refusal::Page(_))));
    let twice = format!("{q}&client_id=spa");
    assert!(matches!(validate(&twice), Err(Refusal::Page(_))));
    // Another parameter repeated, with the client and its URI beyond doubt: back to the app
    // (RFC 6749 4.1.2.1), with its state when that is not the one repeated.
    assert_eq!(redirected(&format!("{q}&scope=openid")), "invalid_request");
    match validate(&format!("{q}&state=s2")) {
        Err(Refusal::Redirect {
            redirect_uri,
            state,
            error,
            ..
        }) => assert_eq!(
            (redirect_uri.as_str(), state, error),
            ("http://127.0.0.1:9000/cb", None, "invalid_request")
        ),
        other => panic!("{other:?}"),
    }
    // One nobody reads is ignored (RFC 6749 3.1).
    assert!(validate(&format!("{q}&foo=1&foo=2")).is_ok());
}

#[test]
fn later_errors_go_back_to_the_app() {
    let q = good("spa");
    assert_eq!(
        redirected(&q.replace("response_type=code", "response_type=token")),
        "unsupported_response_type"
    );
    assert_eq!(
        redirected(&q.replace("response_type=code&", "")),
        "invalid_request"
    );
    assert_eq!(
        redirected(&q.replace("scope=openid%20email", "scope=email")),
        "invalid_scope"
    );
    assert_eq!(
        redirected(&format!("{q}&response_mode=fragment")),
        "invalid_request"
    );
    assert_eq!(
        redirected(&format!("{q}&request=eyJ")),
        "request_not_supported"
    );
    assert_eq!(
        redirected(&format!("{q}&request_uri=https%3A%2F%2Fx")),
        "request_uri_not_supported"
    );
    assert_eq!(
        redirected(&format!("{q}&registration=%7B%7D")),
        "registration_not_supported"
    );
    assert_eq!(
        redirected(&q.replace("nonce=n1", &format!("nonce={}", "n".repeat(513)))),
        "invalid_request"
    );
}

#[test]
fn pkce_is_s256_and_required_unless_a_confidential_client_opts_out() {
    let q = good("spa");
    let without = q.replace(
        &format!("&code_challenge={CH}&code_challenge_method=S256"),
        "",
    );
    assert_eq!(redirected(&without), "invalid_request", "public client");
    assert_eq!(
        redirected(&without.replace("client_id=spa", "client_id=web")),
        "invalid_request",
        "confidential client, PKCE by default"
    );
    let legacy = validate(&without.replace("client_id=spa", "client_id=legacy")).unwrap();
    assert_eq!(legacy.pending.code_challenge, None);
    for bad in [
        q.replace("code_challenge_method=S256", "code_challenge_method=plain"),
        q.replace("&code_challenge_method=S256", ""),
        q.replace(&format!("code_challenge={CH}&"), ""),
        q.replace(CH, &CH[..42]),
        q.replace(CH, &format!("{}=", &CH[..42])),
    ] {
        assert_eq!(redirected(&bad), "invalid_request", "{bad}");
    }
}

#[test]
fn prompt_and_max_age_are_read_strictly() {
    let q = good("spa");
    let v = validate(&format!("{q}&prompt=login&max_age=0")).unwrap();
    assert!(v.force_login && !v.prompt_none);
    assert_eq!(v.max_age, Some(0));
    assert!(validate(&format!("{q}&prompt=none")).unwrap().prompt_none);
    assert!(
        !validate(&format!("{q}&prompt=consent"))
            .unwrap()
            .force_login
    );
    assert!(
        validate(&format!("{q}&prompt=select_account"))
            .unwrap()
            .force_login
    );
    for bad in [
        "prompt=none%20login",
        "prompt=bogus",
        "max_age=-1",
        "max_age=ten",
    ] {
        assert_eq!(
            redirected(&format!("{q}&{bad}")),
            "invalid_request",
            "{bad}"
        );
    }
}

#[test]
fn unsupported_scopes_are_dropped_and_odd_hints_ignored() {
    let q = good("spa").replace("scope=openid%20email", "scope=openid%20admin%20profile");
    let v = validate(&format!("{q}&login_hint=a%0Ab")).unwrap();
    assert_eq!(v.pending.scope, "openid profile");
    assert_eq!(
        v.pending.login_hint, None,
        "a hint with a control character"
    );
}
