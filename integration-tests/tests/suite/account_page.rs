//! `/account`, a signed-in user's own page, through the real server: it lists the user's live
//! sessions (browser and system in our words, address, times, the apps by name, this browser
//! marked); signing out another session tells its apps by back-channel logout and ends its
//! refresh tokens, "everywhere else" keeps this browser, another user's session and a form
//! without its CSRF token change nothing; the language chosen there is stored and the user's
//! mails follow it.

use std::time::Duration;

use serde_json::Value;

use crate::apps::{authorize_url, crm_client, redeem, sid_of, verified_logout};
use crate::harness::*;
use crate::mail::{decoded, link_in, wait_for_exactly};
use crate::on_both_backends;
use crate::rp::{exchange, refresh, seed, sign_in, SecondFactor};

/// What Firefox on Linux sends.
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

/// A browser that says it is Firefox on Linux.
fn firefox() -> Browser {
    Browser {
        client: reqwest::blocking::Client::builder()
            .cookie_store(true)
            .user_agent(FIREFOX)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    }
}

/// Signs `browser` in at the demo app as `email`; the app's tokens.
fn at_demo(server: &TestServer, browser: &Browser, email: &str) -> Value {
    let signed = sign_in(
        server,
        browser,
        &server.demo_authorize_url(),
        email,
        SecondFactor::None,
        None,
    );
    let (status, tokens) = exchange(server, &signed.callback.location_param("code").unwrap());
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// Signs `browser` in at the provider itself (no app): it lands on `/account`.
fn directly(server: &TestServer, browser: &Browser, email: &str) {
    let login = browser.get(&server.url("/login"));
    assert_eq!(login.status, 200, "{}", login.body);
    let done = post_password(server, browser, &login, email, PASSWORD);
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account")),
        "{}",
        done.body
    );
}

/// One session as the page lists it.
#[derive(Debug)]
struct Listed {
    sid: String,
    current: bool,
    html: String,
}

/// The sessions on an `/account` page, in its order.
fn listed(page: &Page) -> Vec<Listed> {
    page.body
        .split("<li class=\"session")
        .skip(1)
        .map(|item| {
            let html = item[..item.find("</li>").unwrap()].to_string();
            let at = html.find("data-sid=\"").unwrap() + 10;
            Listed {
                sid: html[at..at + html[at..].find('"').unwrap()].to_string(),
                current: html.starts_with(" current\""),
                html,
            }
        })
        .collect()
}

fn account(server: &TestServer, browser: &Browser) -> Page {
    let page = browser.get(&server.url("/account"));
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

fn lang_of(page: &Page) -> &str {
    let at = page.body.find("<html lang=\"").expect("a lang attribute") + 12;
    &page.body[at..at + page.body[at..].find('"').unwrap()]
}

fn refresh_status(server: &TestServer, tokens: &Value) -> u16 {
    refresh(server, tokens["refresh_token"].as_str().unwrap()).0
}

fn live(server: &TestServer, sid: &str) -> bool {
    server
        .rt
        .idp
        .session_by_id(sid)
        .unwrap()
        .is_some_and(|s| s.ended_at.is_none())
}

/// The page lists exactly this user's live sessions: the browser and system named in our words
/// (an unknown one as such), the address, when each started and was last active, the apps by
/// their configured names; this browser marked and first. `/` and a finished sign-in without
/// an app lead here; without a session it sends the browser to sign in.
fn the_page_lists_the_users_sessions_with_their_apps_and_marks_this_browser(db: Db) {
    let server = TestServer::start_with(
        db,
        Options {
            extra_toml: crm_client("http://127.0.0.1:9/unused"),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "acme", "bob@example.com", false);
    let anonymous = Browser::new();
    let home = anonymous.get(&server.url("/"));
    assert_eq!(
        (home.status, home.location.as_deref()),
        (303, Some("/account"))
    );
    let away = anonymous.get(&server.url("/account"));
    assert_eq!(
        (away.status, away.location.as_deref()),
        (303, Some("/login"))
    );

    // A laptop signed in to two apps, this browser to none, Bob elsewhere.
    let laptop = firefox();
    let demo = at_demo(&server, &laptop, "ann@example.com");
    let sso = laptop.get(&authorize_url(&server, "crm", 8083));
    redeem(&server, "crm", 8083, &sso.location_param("code").unwrap());
    let bob = Browser::new();
    at_demo(&server, &bob, "bob@example.com");
    let here = Browser::new();
    directly(&server, &here, "ann@example.com");
    assert_eq!(
        here.get(&server.url("/")).location.as_deref(),
        Some("/account")
    );
    assert_eq!(
        here.get(&server.url("/login")).location.as_deref(),
        Some("/account"),
        "a signed-in browser opening the sign-in page is sent to its page"
    );

    let page = account(&server, &here);
    assert_eq!(lang_of(&page), "en");
    assert!(page.body.contains("<h1>Your account</h1>"), "{}", page.body);
    assert!(
        page.body
            .contains("Signed in as <strong>Ann Lee</strong> (ann@example.com)."),
        "{}",
        page.body
    );
    let sessions = listed(&page);
    assert_eq!(sessions.len(), 2, "Ann's two, never Bob's: {sessions:#?}");
    assert!(sessions[0].current && !sessions[1].current, "{sessions:#?}");
    let (mine, other) = (&sessions[0], &sessions[1]);
    assert!(mine.html.contains("This browser"), "{}", mine.html);
    assert!(mine.html.contains("Unknown browser"), "{}", mine.html);
    assert!(mine.html.contains("none yet"), "{}", mine.html);
    assert!(
        mine.html.contains("action=\"/end_session\""),
        "this browser signs out the usual way: {}",
        mine.html
    );
    assert_eq!(other.sid, sid_of(&demo).as_str().unwrap());
    assert!(other.html.contains("Firefox on Linux"), "{}", other.html);
    assert!(
        !other.html.contains("Gecko"),
        "never the header's own text: {}",
        other.html
    );
    assert!(
        other.html.contains("<dd class=\"apps\">CRM, Demo App</dd>"),
        "{}",
        other.html
    );
    assert!(
        other.html.contains("<dd class=\"address\">127.0.0.1</dd>"),
        "{}",
        other.html
    );
    assert_eq!(other.html.matches("<time datetime=\"").count(), 2);
    assert!(other.html.contains(" UTC</time>"), "{}", other.html);
    assert!(
        other.html.contains("action=\"/account/sessions/end\""),
        "{}",
        other.html
    );
    assert!(page.body.contains("id=\"sign-out-others\""));
    assert!(
        page.body.contains("No authenticator app is linked."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Petrosoft Cloud support"),
        "how to have an app removed"
    );
    assert!(page.body.contains("href=\"/password/change\""));

    // In Spanish when the browser asks for it.
    let es = here.get_with(&server.url("/account"), &[("accept-language", "es")]);
    assert_eq!(lang_of(&es), "es");
    assert_eq!(es.headers.get("content-language").unwrap(), "es");
    for words in [
        "<h1>Su cuenta</h1>",
        "Este navegador",
        "Firefox en Linux",
        "Navegador desconocido",
        "No hay ninguna aplicación de autenticación vinculada.",
    ] {
        assert!(es.body.contains(words), "{words}: {}", es.body);
    }
    assert!(es.body.contains(" de 20"), "a date in Spanish: {}", es.body);
}

/// An account with MFA: the page shows when the app was linked and last gave a code.
fn the_page_shows_the_linked_authenticator(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    sign_in(
        &server,
        &browser,
        &server.demo_authorize_url(),
        "ann@example.com",
        SecondFactor::Enroll,
        None,
    );
    let page = account(&server, &browser);
    let app = page.body[page.body.find("id=\"authenticator\"").unwrap()..].to_string();
    let app = &app[..app.find("</ul>").unwrap()];
    assert!(app.contains("Linked since: "), "{app}");
    assert!(app.contains("Last used: "), "{app}");
    assert!(!app.contains("not yet"), "a code was given: {app}");
    assert!(app.contains(" UTC"), "{app}");
}

/// Signing out another session from the page ends it: its app receives a logout token at once
/// (verified: signature, issuer, audience, `sid`), its refresh token stops working, its browser
/// is signed out; this browser stays, and the page says what happened, once.
fn ending_another_session_tells_its_app_and_ends_its_refresh(db: Db) {
    let recorder = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(recorder.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let laptop = firefox();
    let laptops = at_demo(&server, &laptop, "ann@example.com");
    let here = Browser::new();
    let mine = at_demo(&server, &here, "ann@example.com");
    let sid = sid_of(&laptops).as_str().unwrap().to_string();

    let page = account(&server, &here);
    let done = here.post(
        &server.url("/account/sessions/end"),
        &[("csrf", &page.csrf()), ("sid", &sid)],
    );
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account")),
        "{}",
        done.body
    );
    let tokens = recorder.logout_tokens(Duration::from_secs(10), Duration::from_secs(2));
    assert_eq!(tokens.len(), 1, "one logout token, for that session's app");
    let claims = verified_logout(&server, &tokens[0], "demo");
    assert_eq!(claims["sid"], sid.as_str());
    assert!(!live(&server, &sid));
    assert_eq!(
        refresh_status(&server, &laptops),
        400,
        "its refresh is over"
    );
    assert_eq!(
        laptop.get(&server.url("/account")).location.as_deref(),
        Some("/login")
    );
    assert_eq!(
        refresh_status(&server, &mine),
        200,
        "this browser's app goes on"
    );
    let shown = here.follow(&server.base, done);
    assert_eq!(
        shown.by_id("notice").as_deref(),
        Some("That session was signed out, and its apps were told.")
    );
    assert_eq!(listed(&shown).len(), 1);
    assert!(shown.body.contains("You are signed in nowhere else."));
    assert!(
        account(&server, &here).by_id("notice").is_none(),
        "the notice shows once"
    );
    // The same again: nothing is left to end, and the page says so.
    let again = here.post(
        &server.url("/account/sessions/end"),
        &[("csrf", &page.csrf()), ("sid", &sid)],
    );
    assert_eq!(
        here.follow(&server.base, again).by_id("notice").as_deref(),
        Some("That session was no longer signed in; nothing changed.")
    );
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    let audit = server.rt.idp.audit_for_user(&user.id, 20).unwrap();
    assert!(
        audit.iter().any(|e| e.detail.as_deref().is_some_and(|d| {
            d.contains("by the user on /account") && d.contains(sid.as_str())
        }) && e.ip.as_deref() == Some("127.0.0.1")),
        "audited, with the address: {audit:#?}"
    );
}

/// "Sign out everywhere else" ends every other session of the user, each app told, and keeps
/// this browser's.
fn signing_out_everywhere_else_keeps_this_browser(db: Db) {
    let recorder = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(recorder.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    let (a, c) = (firefox(), Browser::new());
    let others = [
        at_demo(&server, &a, "ann@example.com"),
        at_demo(&server, &c, "ann@example.com"),
    ];
    let here = Browser::new();
    let mine = at_demo(&server, &here, "ann@example.com");
    let page = account(&server, &here);
    assert_eq!(listed(&page).len(), 3);
    let done = here.post(
        &server.url("/account/sessions/end-others"),
        &[("csrf", &page.csrf())],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let tokens = recorder.logout_tokens(Duration::from_secs(10), Duration::from_secs(2));
    let mut told: Vec<String> = tokens
        .iter()
        .map(|t| {
            verified_logout(&server, t, "demo")["sid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    told.sort();
    let mut ended: Vec<String> = others
        .iter()
        .map(|t| sid_of(t).as_str().unwrap().to_string())
        .collect();
    ended.sort();
    assert_eq!(told, ended, "each other session's app, once");
    for tokens in &others {
        assert_eq!(refresh_status(&server, tokens), 400);
    }
    assert!(live(&server, sid_of(&mine).as_str().unwrap()));
    assert_eq!(refresh_status(&server, &mine), 200);
    let shown = here.follow(&server.base, done);
    assert!(shown
        .by_id("notice")
        .unwrap()
        .starts_with("Every other session was signed out"));
    let left = listed(&shown);
    assert_eq!(left.len(), 1);
    assert!(left[0].current);
}

/// Nobody acts on someone else's sessions, and no form of the page works without its CSRF
/// token: another user's `sid` ends nothing (the answer is the one for a session already gone),
/// a missing or wrong token is refused, a browser without a session is sent to sign in.
fn another_users_session_and_a_form_without_its_token_change_nothing(db: Db) {
    let recorder = Recorder::start();
    let server = TestServer::start_with(
        db,
        Options {
            backchannel_logout_uri: Some(recorder.url.clone()),
            ..Options::default()
        },
    );
    seed(&server, "acme", "ann@example.com", false);
    seed(&server, "acme", "bob@example.com", false);
    let bob = Browser::new();
    let bobs = at_demo(&server, &bob, "bob@example.com");
    let bob_sid = sid_of(&bobs).as_str().unwrap().to_string();
    let laptop = Browser::new();
    let laptops = at_demo(&server, &laptop, "ann@example.com");
    let laptop_sid = sid_of(&laptops).as_str().unwrap().to_string();
    let here = Browser::new();
    directly(&server, &here, "ann@example.com");
    let csrf = account(&server, &here).csrf();

    let foreign = here.post(
        &server.url("/account/sessions/end"),
        &[("csrf", &csrf), ("sid", &bob_sid)],
    );
    assert_eq!(foreign.status, 303);
    assert_eq!(
        here.follow(&server.base, foreign)
            .by_id("notice")
            .as_deref(),
        Some("That session was no longer signed in; nothing changed.")
    );
    assert!(live(&server, &bob_sid));
    assert_eq!(refresh_status(&server, &bobs), 200);

    for form in [
        vec![("sid", laptop_sid.as_str())],
        vec![("csrf", "forged"), ("sid", laptop_sid.as_str())],
        vec![("csrf", ""), ("sid", laptop_sid.as_str())],
    ] {
        let refused = here.post(&server.url("/account/sessions/end"), &form);
        assert_eq!(refused.status, 403, "{form:?}: {}", refused.body);
        assert!(refused.body.contains("This form has expired"));
    }
    for path in ["/account/sessions/end-others", "/account/language"] {
        let refused = here.post(&server.url(path), &[("csrf", "forged"), ("locale", "es")]);
        assert_eq!(refused.status, 403, "{path}");
    }
    // Bob's own token, from Bob's own page, does not reach Ann's sessions through his browser.
    let bobs_csrf = account(&server, &bob).csrf();
    let crossed = bob.post(
        &server.url("/account/sessions/end"),
        &[("csrf", &bobs_csrf), ("sid", &laptop_sid)],
    );
    assert_eq!(crossed.status, 303);
    // Ann's CSRF token in a browser with no session: off to sign in, nothing ends.
    let stranger = Browser::new().post(
        &server.url("/account/sessions/end-others"),
        &[("csrf", &csrf)],
    );
    assert_eq!(
        (stranger.status, stranger.location.as_deref()),
        (303, Some("/login"))
    );
    assert!(live(&server, &laptop_sid));
    assert_eq!(refresh_status(&server, &laptops), 200);
    let user = server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert_eq!(server.rt.idp.live_sessions(&user.id).unwrap().len(), 2);
    assert_eq!(user.locale, None, "the language form was refused too");

    // What did end is told, and only it: Ann now ends her laptop's session herself.
    let mine = here.post(
        &server.url("/account/sessions/end"),
        &[("csrf", &csrf), ("sid", &laptop_sid)],
    );
    assert_eq!(mine.status, 303);
    let tokens = recorder.logout_tokens(Duration::from_secs(10), Duration::from_secs(2));
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        verified_logout(&server, &tokens[0], "demo")["sid"],
        laptop_sid.as_str()
    );
}

/// The language chosen on the page is stored for the user (only a language the provider has),
/// this browser keeps it, the page speaks it wherever the request names none, and the user's
/// mails are written in it even when a page in another language causes them.
fn the_chosen_language_is_stored_and_the_mails_follow_it(db: Db) {
    let server = TestServer::start(db);
    seed(&server, "acme", "ann@example.com", false);
    let here = Browser::new();
    directly(&server, &here, "ann@example.com");
    let page = account(&server, &here);
    assert_eq!(lang_of(&page), "en");
    assert!(page
        .body
        .contains("<option value=\"en\" lang=\"en\" selected>English</option>"));
    assert!(page
        .body
        .contains("<option value=\"es\" lang=\"es\">Español</option>"));

    let unknown = here.post(
        &server.url("/account/language"),
        &[("csrf", &page.csrf()), ("locale", "fr")],
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("That language is not available."));
    let user = || server.rt.idp.user_by_email("ann@example.com").unwrap();
    assert_eq!(user().locale, None);

    let chosen = here.post(
        &server.url("/account/language"),
        &[("csrf", &page.csrf()), ("locale", "es")],
    );
    assert_eq!(
        (chosen.status, chosen.location.as_deref()),
        (303, Some("/account"))
    );
    assert_eq!(user().locale.as_deref(), Some("es"));
    let shown = here.follow(&server.base, chosen);
    assert_eq!(lang_of(&shown), "es");
    assert_eq!(
        shown.by_id("notice").as_deref(),
        Some("Se guardó su idioma. Sus correos se escribirán en él.")
    );
    assert!(shown
        .body
        .contains("<option value=\"es\" lang=\"es\" selected>Español</option>"));
    // This browser keeps the choice even where its header says otherwise.
    let login_es = here.get_with(
        &server.url("/password/change"),
        &[("accept-language", "en")],
    );
    assert_eq!(lang_of(&login_es), "es");

    // Another browser: the stored choice where the request names no language, the request's
    // own where it names one.
    let other = Browser::new();
    directly(&server, &other, "ann@example.com");
    assert_eq!(lang_of(&account(&server, &other)), "es");
    let english = other.get_with(&server.url("/account"), &[("accept-language", "en-GB")]);
    assert_eq!(lang_of(&english), "en");

    // A forgot-password link asked for from an English page comes in Spanish.
    let stranger = Browser::new();
    let h = [("accept-language", "en")];
    let forgot = stranger.get_with(&server.url("/forgot"), &h);
    assert_eq!(lang_of(&forgot), "en");
    let sent = stranger.post(
        &server.url("/forgot"),
        &[("csrf", &forgot.csrf()), ("email", "ann@example.com")],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let mails = wait_for_exactly(&server.outbox(), 1);
    let mail = decoded(&mails[0]);
    assert!(mail.contains("<div lang=\"es\">"), "{mail}");
    assert!(
        mail.contains("Alguien ha pedido restablecer la contraseña"),
        "{mail}"
    );
    link_in(&mails[0], &server.base, "/reset");
    // Back to English: the next mail is in English.
    let page = account(&server, &here);
    let back = here.post(
        &server.url("/account/language"),
        &[("csrf", &page.csrf()), ("locale", "en")],
    );
    assert_eq!(back.status, 303);
    assert_eq!(user().locale.as_deref(), Some("en"));
    let forgot = stranger.get_with(&server.url("/forgot"), &[("accept-language", "es")]);
    stranger.post(
        &server.url("/forgot"),
        &[("csrf", &forgot.csrf()), ("email", "ann@example.com")],
    );
    let mails = wait_for_exactly(&server.outbox(), 2);
    let english: Vec<String> = mails
        .iter()
        .map(|m| decoded(m))
        .filter(|m| m.contains("<div lang=\"en\">"))
        .collect();
    assert_eq!(english.len(), 1, "{mails:#?}");
    assert!(english[0].contains("Set a new password"), "{}", english[0]);
}

on_both_backends!(
    the_page_lists_the_users_sessions_with_their_apps_and_marks_this_browser,
    the_page_shows_the_linked_authenticator,
    ending_another_session_tells_its_app_and_ends_its_refresh,
    signing_out_everywhere_else_keeps_this_browser,
    another_users_session_and_a_form_without_its_token_change_nothing,
    the_chosen_language_is_stored_and_the_mails_follow_it,
);
