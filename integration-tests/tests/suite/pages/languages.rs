//! The pages' and mails' language through the real server: an app's `ui_locales` holds for
//! the whole sign-in (and the pages the browser opens next), else the browser's
//! `Accept-Language`, else `[ui] default_locale`; error pages follow the request; a mail is in
//! the language of the page that caused it; discovery lists the languages.

use crate::harness::*;
use crate::mail::{decoded, link_in, wait_for_exactly};
use crate::rp::{authorize_url, http, seed};

/// `GET url` with an `Accept-Language`, following redirects on the server.
fn get_in(server: &TestServer, browser: &Browser, url: &str, accept: &str) -> Page {
    let h = [("accept-language", accept)];
    browser.follow_with(&server.base, browser.get_with(url, &h), &h)
}

fn lang_of(page: &Page) -> &str {
    let at = page.body.find("<html lang=\"").expect("a lang attribute") + 12;
    &page.body[at..at + page.body[at..].find('"').unwrap()]
}

#[test]
fn discovery_lists_the_languages_of_the_pages() {
    let server = TestServer::start(Db::Sqlite);
    let doc: serde_json::Value = http()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["ui_locales_supported"], serde_json::json!(["en", "es"]));
}

#[test]
fn an_apps_ui_locales_hold_for_the_whole_sign_in_and_its_mails() {
    let server = TestServer::start(Db::Sqlite);
    seed(&server, "acme", "ann@example.com", true);
    let browser = Browser::new();
    // The first language we have wins; no Accept-Language is sent at all.
    let url = authorize_url(&server, "&ui_locales=fr-CA%20es-MX%20en");
    let first = browser.get(&url);
    assert_eq!(first.status, 303);
    let cookie = first
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("idp_locale="))
        .expect("the language is remembered for the browser");
    assert!(
        cookie.starts_with("idp_locale=es;") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let login = browser.follow(&server.base, first);
    assert_eq!(lang_of(&login), "es");
    assert_eq!(login.headers.get("content-language").unwrap(), "es");
    assert!(
        login.body.contains("<h1>Iniciar sesión</h1>"),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("para continuar en Demo App"),
        "{}",
        login.body
    );

    let wrong = post_password(
        &server,
        &browser,
        &login,
        "ann@example.com",
        "not the password",
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.by_id("form-error").as_deref(),
        Some("El correo electrónico o la contraseña no son correctos.")
    );
    let enroll = browser.follow(
        &server.base,
        post_password(&server, &browser, &wrong, "ann@example.com", PASSWORD),
    );
    assert_eq!(lang_of(&enroll), "es");
    assert!(
        enroll
            .body
            .contains("<h1>Configure su aplicación de autenticación</h1>")
            && enroll
                .body
                .contains("sesión con <strong>ann@example.com</strong>."),
        "{}",
        enroll.body
    );
    let refused = browser.post(
        &server.url("/login/totp"),
        &[("csrf", &enroll.csrf()), ("code", "12345")],
    );
    assert_eq!(
        refused.by_id("form-error").as_deref(),
        Some("Introduzca el código de 6 dígitos de su aplicación de autenticación.")
    );

    // The code links the app: the notice goes out in the language of the page.
    let activation = enroll.by_id("activation-code").unwrap();
    wait_for_fresh_step(5);
    let done = browser.post(
        &server.url("/login/totp"),
        &[
            ("csrf", &refused.csrf()),
            ("code", &oathtool(&activation, 0)),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let mails = wait_for_exactly(&server.outbox(), 1);
    let linked = decoded(&mails[0]);
    assert!(
        linked.contains("Se vinculó una aplicación de autenticación a su cuenta"),
        "{linked}"
    );
    assert!(linked.contains("<div lang=\"es\">"), "{linked}");

    // Pages outside the sign-in follow the app's choice too, and so do the mails they cause.
    let forgot = browser.get(&server.url("/forgot"));
    assert_eq!(lang_of(&forgot), "es");
    let sent = browser.post(
        &server.url("/forgot"),
        &[("csrf", &forgot.csrf()), ("email", "ann@example.com")],
    );
    assert!(
        sent.body.contains("<h1>Revise su correo</h1>"),
        "{}",
        sent.body
    );
    assert!(sent.body.contains("válido durante 1 hora"), "{}", sent.body);
    let mails = wait_for_exactly(&server.outbox(), 2);
    let mail = decoded(&mails[1]);
    assert!(
        mail.contains("Alguien ha pedido restablecer la contraseña"),
        "{mail}"
    );
    assert!(mail.contains("Establecer una nueva contraseña"), "{mail}");
    let link = link_in(&mails[1], &server.base, "/reset");
    // The link opened in another browser (no cookie, no Accept-Language): the default.
    let elsewhere = Browser::new().get(&link);
    assert_eq!(lang_of(&elsewhere), "en");
    assert!(elsewhere.body.contains("<h1>Set a new password</h1>"));
    // In this browser: Spanish, and so is the notice that the password changed.
    let form = browser.get(&link);
    assert!(form
        .body
        .contains("<h1>Establezca una nueva contraseña</h1>"));
    let reset = browser.post(
        &server.url("/reset"),
        &[
            ("csrf", &form.csrf()),
            ("token", &form.input("token").unwrap()),
            ("new_password", "a new and long passphrase 42"),
            ("confirm_password", "a new and long passphrase 42"),
        ],
    );
    assert!(
        reset.body.contains("<h1>Su contraseña se ha cambiado</h1>"),
        "{}",
        reset.body
    );
    let mails = wait_for_exactly(&server.outbox(), 3);
    let changed = decoded(&mails[2]);
    assert!(changed.contains("se acaba de cambiar"), "{changed}");
}

#[test]
fn refusals_and_the_logout_pages_speak_the_requests_language() {
    let server = TestServer::start(Db::Sqlite);
    let b = Browser::new();
    // A form that does not verify (no flow, wrong CSRF), one that cannot be read (a field twice).
    let login = get_in(&server, &b, &server.url("/login"), "es");
    let res = b
        .client
        .post(server.url("/login/password"))
        .header("accept-language", "es")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=forged&email=a%40b.example&password=x")
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers().get("content-language").unwrap(), "es");
    let body = res.text().unwrap();
    assert!(
        body.contains("<h1>Este formulario ha caducado</h1>"),
        "{body}"
    );
    let twice = format!("csrf={}&email=a&email=b&password=x", login.csrf());
    let res = b
        .client
        .post(server.url("/login/password"))
        .header("accept-language", "es")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(twice)
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().unwrap();
    assert!(
        body.contains("El formulario envió el campo email más de una vez."),
        "{body}"
    );
    // POST /authorize takes ui_locales from the form.
    let res = Browser::new()
        .client
        .post(server.url("/authorize"))
        .form(&[("client_id", "demo"), ("ui_locales", "es")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().unwrap().contains("lang=\"es\""));
    // RP-Initiated Logout's ui_locales: the confirmation, and the page after it.
    seed(&server, "acme", "ann@example.com", false);
    let b = Browser::new();
    let signed = submit_password(
        &server,
        &b,
        &authorize_url(&server, ""),
        "ann@example.com",
        PASSWORD,
    );
    assert_eq!(signed.status, 303);
    let confirm = get_in(&server, &b, &server.url("/end_session?ui_locales=es"), "en");
    assert_eq!(lang_of(&confirm), "es");
    assert!(
        confirm.body.contains("<h1>¿Cerrar sesión?</h1>"),
        "{}",
        confirm.body
    );
    assert_eq!(confirm.input("ui_locales").as_deref(), Some("es"));
    let res = b
        .client
        .post(server.url("/end_session"))
        .header("accept-language", "en")
        .form(&[("csrf", confirm.csrf().as_str()), ("ui_locales", "es")])
        .send()
        .unwrap();
    let body = res.text().unwrap();
    assert!(body.contains("<h1>Ha cerrado la sesión</h1>"), "{body}");
    // Without a session there is nothing to confirm: signed out, in the app's language.
    let done = get_in(
        &server,
        &Browser::new(),
        &server.url("/end_session?ui_locales=es"),
        "en",
    );
    assert!(
        done.body.contains("<h1>Ha cerrado la sesión</h1>"),
        "{}",
        done.body
    );
}

#[test]
fn accept_language_chooses_when_no_app_did_and_the_default_otherwise() {
    let server = TestServer::start(Db::Sqlite);
    let b = Browser::new();
    let login = get_in(
        &server,
        &b,
        &server.url("/login"),
        "es-ES,es;q=0.9,en;q=0.8",
    );
    assert_eq!((login.status, lang_of(&login)), (200, "es"));
    assert!(
        login.body.contains("<title>Iniciar sesión · "),
        "{}",
        login.body
    );
    let login = get_in(
        &server,
        &b,
        &server.url("/login"),
        "fr-FR, en;q=0.3, es;q=0.5",
    );
    assert_eq!(lang_of(&login), "es");
    for accept in ["fr, de;q=0.9", "*", "", "es;q=0", "es;q=abc"] {
        let login = get_in(&server, &Browser::new(), &server.url("/login"), accept);
        assert_eq!(lang_of(&login), "en", "{accept:?}");
    }
    // An app's ui_locales beat the browser's header.
    let app = get_in(
        &server,
        &Browser::new(),
        &authorize_url(&server, "&ui_locales=es"),
        "en-US,en;q=0.9",
    );
    assert_eq!(lang_of(&app), "es");
    // ui_locales with no language we have change nothing.
    let app = get_in(
        &server,
        &Browser::new(),
        &authorize_url(&server, "&ui_locales=fr%20de"),
        "es",
    );
    assert_eq!(lang_of(&app), "es");
    assert!(app
        .headers
        .get("set-cookie")
        .is_none_or(|c| !c.to_str().unwrap().contains("idp_locale")));

    // Error pages speak the request's language.
    let missing = get_in(&server, &Browser::new(), &server.url("/no/such/page"), "es");
    assert_eq!((missing.status, lang_of(&missing)), (404, "es"));
    assert_eq!(missing.headers.get("content-language").unwrap(), "es");
    assert!(
        missing.body.contains("<h1>Página no encontrada</h1>"),
        "{}",
        missing.body
    );
    let bad = get_in(
        &server,
        &Browser::new(),
        &format!(
            "{}?client_id=demo&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&ui_locales=es",
            server.url("/authorize")
        ),
        "en",
    );
    assert_eq!((bad.status, lang_of(&bad)), (400, "es"));
    assert!(
        bad.headers.get("set-cookie").is_none(),
        "a refused request does not change the browser's language"
    );
    assert!(
        bad.body
            .contains("El parámetro redirect_uri no está registrado para esta aplicación."),
        "{}",
        bad.body
    );
}

#[test]
fn the_configured_default_language_serves_browsers_that_name_none() {
    let server = TestServer::start_with(
        Db::Sqlite,
        Options {
            extra_toml: "\n[ui]\ndefault_locale = \"es\"\n".into(),
            ..Options::default()
        },
    );
    let page = get_in(&server, &Browser::new(), &server.url("/forgot"), "");
    assert_eq!(lang_of(&page), "es");
    let page = get_in(&server, &Browser::new(), &server.url("/forgot"), "en-GB");
    assert_eq!(lang_of(&page), "en");
    // An operator's invitation has no page behind it: the default language.
    seed(&server, "acme", "ann@example.com", false);
    let out = server.cli(
        &[
            "user",
            "create",
            "--account",
            "acme",
            "--email",
            "bo@example.com",
            "--name",
            "Bo",
            "--work-email",
            "bo@acme.example",
            "--invite",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mails = wait_for_exactly(&server.outbox(), 1);
    assert!(decoded(&mails[0]).contains("Hola, Bo:"), "{}", mails[0]);
}

#[test]
fn check_config_refuses_a_language_we_do_not_have() {
    let server = TestServer::start(Db::Sqlite);
    let text = std::fs::read_to_string(&server.config_path).unwrap();
    let bad = server.dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{text}\n[ui]\ndefault_locale = \"fr\"\n")).unwrap();
    let out = run_cli(&bad, &["check-config"], None);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("ui.default_locale") && out.stderr.contains("en, es"),
        "{}",
        out.stderr
    );
}
