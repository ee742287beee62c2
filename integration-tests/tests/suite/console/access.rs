//! Who may use the console: a role is needed (403 without), a forged cookie signs in again, an
//! account admin acts only in their own account, and a revoked role or session ends console
//! access at once.

use idp_core::model::Role;
use idp_core::{MfaPolicy, UserStatus};

use super::{console_sign_in, csrf, land, last_event, person, with_role};
use crate::harness::*;
use crate::on_both_backends;
use crate::rp::*;

/// Nobody without a role sees anything (403, no data); a cookie the server did not seal (or
/// sealed for something else) is no session: the browser is sent to sign in.
fn a_user_without_a_role_gets_403_and_a_forged_cookie_signs_in_again(db: Db) {
    let server = TestServer::start(db);
    person(&server, "acme", "ann@example.com");
    person(&server, "globex", "gil@example.com");
    let (browser, _, page) = console_sign_in(&server, "ann@example.com", SecondFactor::None, None);
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("No access"), "{}", page.body);
    for data in ["Acme", "Globex", "gil@example.com", "/console/accounts"] {
        assert!(!page.body.contains(data), "no data on the 403 page: {data}");
    }
    assert_eq!(browser.get(&server.url("/console/audit")).status, 403);
    assert_eq!(browser.get(&server.url("/console/audit.csv")).status, 403);

    let stranger = Browser::new();
    let start = stranger.get(&server.url("/console/users/x"));
    assert_eq!(start.status, 303);
    let to = start.location.clone().unwrap();
    assert!(
        to.contains("/authorize?") && to.contains("client_id=console"),
        "{to}"
    );
    assert!(to.contains("code_challenge_method=S256"), "{to}");
    let sign_in_cookie = start
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("idp_console_sign_in="))
        .unwrap();
    let sealed_for_another_use = sign_in_cookie
        .trim_start_matches("idp_console_sign_in=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    for forged in [
        "garbage".to_string(),
        sealed_for_another_use,
        "k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
    ] {
        let page = Browser::new().get_with(
            &server.url("/console"),
            &[("cookie", &format!("idp_console={forged}"))],
        );
        assert_eq!(page.status, 303, "{forged}: {}", page.body);
        assert!(page.location.unwrap().contains("client_id=console"));
    }
    // A callback without the sign-in cookie, or with another state, redeems nothing.
    assert_eq!(
        Browser::new()
            .get(&server.url("/console/callback?code=x&state=y"))
            .status,
        400
    );
}

/// An account-admin sees and changes only their own account, never a user with a role, and
/// cannot turn MFA off; each refusal changes nothing.
fn an_account_admin_acts_only_in_their_own_account(db: Db) {
    let server = TestServer::start(db);
    let boss = person(&server, "acme", "boss@example.com");
    let boss = with_role(&server, &boss, Role::AccountAdmin);
    let ann = person(&server, "acme", "ann@example.com");
    let peer = person(&server, "acme", "peer@example.com");
    with_role(&server, &peer, Role::AccountAdmin);
    let gil = person(&server, "globex", "gil@example.com");
    let (browser, _, home) =
        console_sign_in(&server, "boss@example.com", SecondFactor::Enroll, None);
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Acme Ltd") && !home.body.contains("Globex"));
    let token = csrf(&home);
    let get = |path: &str| browser.get(&server.url(path));
    let post = |path: &str, form: &[(&str, &str)]| browser.post(&server.url(path), form);
    for other in [
        "/console/accounts/globex".to_string(),
        format!("/console/users/{}", gil.id),
        format!("/console/users/{}/disable", gil.id),
        "/console/audit?account=globex".into(),
    ] {
        assert_eq!(get(&other).status, 404, "{other}");
    }
    let search = get("/console/search?q=gil");
    assert!(!search.body.contains("gil@example.com"));
    let gone = post(
        &format!("/console/users/{}/disable", gil.id),
        &[("csrf", &token), ("reason", "T-1")],
    );
    assert_eq!(gone.status, 404);
    assert_eq!(
        server.rt.idp.user_by_id(&gil.id).unwrap().unwrap().status,
        UserStatus::Active
    );
    // MFA off is support's; MFA on is theirs.
    server
        .rt
        .idp
        .set_mfa_policy("acme", MfaPolicy::Required, &op())
        .unwrap();
    let account = get("/console/accounts/acme");
    assert!(!account.body.contains("/console/accounts/acme/mfa-off"));
    assert_eq!(get("/console/accounts/acme/mfa-off").status, 403);
    let refused = post(
        "/console/accounts/acme/mfa-off",
        &[("csrf", &token), ("reason", "T-2")],
    );
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("Only support can turn MFA off"),
        "{}",
        refused.body
    );
    assert_eq!(
        server.rt.idp.account_by_slug("acme").unwrap().mfa_policy,
        MfaPolicy::Required
    );
    // A colleague with a role goes to support; their own user is nobody's to change here.
    let peer_page = get(&format!("/console/users/{}", peer.id));
    assert!(
        peer_page.body.contains("holds a role"),
        "{}",
        peer_page.body
    );
    assert!(!peer_page
        .body
        .contains(&format!("/console/users/{}/disable", peer.id)));
    for target in [&peer, &boss] {
        let page = post(
            &format!("/console/users/{}/disable", target.id),
            &[("csrf", &token), ("reason", "T-3")],
        );
        assert_eq!(page.status, 403, "{}", page.body);
        assert_eq!(
            server
                .rt
                .idp
                .user_by_id(&target.id)
                .unwrap()
                .unwrap()
                .status,
            UserStatus::Active
        );
    }
    // What they may do, they do, and it is audited with them as the actor.
    let done = post(
        &format!("/console/users/{}/disable", ann.id),
        &[("csrf", &token), ("reason", "T-4 left the company")],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/console/users/{}", ann.id).as_str())
    );
    let after = get(&format!("/console/users/{}", ann.id));
    assert!(
        after.body.contains("ann@example.com is disabled"),
        "{}",
        after.body
    );
    assert!(
        !get(&format!("/console/users/{}", ann.id))
            .body
            .contains("is disabled and"),
        "the notice is shown once"
    );
    let ev = last_event(&server, &ann);
    assert_eq!(
        (ev.action.as_str(), ev.actor, ev.ip, ev.reason),
        (
            "user.disabled",
            format!("console:{}", boss.id),
            Some("127.0.0.1".to_string()),
            Some("T-4 left the company".to_string())
        )
    );
}

/// The console is an app session of the SSO session: a revoked role or an operator's revoke
/// ends it at the next request.
fn a_revoked_role_or_session_ends_console_access_at_once(db: Db) {
    let server = TestServer::start(db);
    let help = person(&server, "vendor", "help@example.com");
    let help = with_role(&server, &help, Role::Support);
    let (browser, activation, home) =
        console_sign_in(&server, "help@example.com", SecondFactor::Enroll, None);
    assert_eq!(home.status, 200);
    server
        .rt
        .idp
        .set_role(&help, Role::Support, false, &op())
        .unwrap();
    let next = browser.get(&server.url("/console"));
    assert_eq!(next.status, 303, "the console's grant ended with the role");
    // Back through /authorize: the SSO session still lives, so no page, and then no access.
    let callback = browser.follow(&server.base, next);
    let page = land(&server, &browser, callback);
    assert_eq!(page.status, 403, "{}", page.body);

    let help = with_role(&server, &help, Role::Support);
    let (browser, _, home) = console_sign_in(
        &server,
        "help@example.com",
        SecondFactor::Code,
        activation.as_deref(),
    );
    assert_eq!(home.status, 200, "{}", home.body);
    server.rt.idp.end_user_sessions(&help, &op(), None).unwrap();
    let next = browser.get(&server.url("/console"));
    assert_eq!(next.status, 303);
    let page = browser.follow(&server.base, next);
    assert!(
        page.body.contains("autocomplete=\"current-password\""),
        "signed out: {}",
        page.body
    );
}

on_both_backends!(
    a_user_without_a_role_gets_403_and_a_forged_cookie_signs_in_again,
    an_account_admin_acts_only_in_their_own_account,
    a_revoked_role_or_session_ends_console_access_at_once,
);
