//! Every mail in every language: written from the catalogues, the link in both parts, and
//! nothing a user controls reaching the HTML part unescaped.

use super::*;

fn all<'a>(link: &'a str) -> Vec<Mail<'a>> {
    vec![
        Mail::Invitation {
            name: "Ana <b>",
            link,
        },
        Mail::PasswordReset { link },
        Mail::PasswordChanged,
        Mail::AppLinked {
            at: 1_700_000_000,
            ip: Some("203.0.113.9"),
            browser: Some("Firefox <script>"),
        },
        Mail::AppLinked {
            at: 1_700_000_000,
            ip: None,
            browser: None,
        },
        Mail::AppDisconnected { at: 1_700_000_000 },
    ]
}

#[test]
fn every_mail_is_written_in_each_language_with_its_link_and_escaped_html() {
    let link = "https://id.example/reset?token=abc&x=1";
    for lang in Lang::ALL {
        for mail in all(link) {
            let w = write(Tr::new(lang), "Acme & Co", &mail);
            assert!(w.subject.contains("Acme & Co"), "{}", w.subject);
            assert!(!w.subject.contains('\n') && !w.subject.contains('{'));
            assert!(
                w.text.ends_with('\n') && !w.text.contains('{'),
                "{}",
                w.text
            );
            let open = format!("<div lang=\"{}\"><p>", lang.tag());
            assert!(
                w.html.starts_with(&open) && w.html.ends_with("</p></div>"),
                "{}",
                w.html
            );
            assert!(
                !w.html.contains("<b>") && !w.html.contains("<script>"),
                "{}",
                w.html
            );
            assert!(w.html.contains("Acme &amp; Co") || !w.text.contains("Acme"));
            if matches!(mail, Mail::Invitation { .. } | Mail::PasswordReset { .. }) {
                assert!(w.text.contains(&format!("\n\n{link}\n\n")), "{}", w.text);
                assert!(w
                    .html
                    .contains("href=\"https://id.example/reset?token=abc&amp;x=1\""));
            }
            if let Mail::AppLinked { ip: None, .. } = mail {
                let t = Tr::new(lang);
                for unknown in [t.tr("mail-unknown-address"), t.tr("mail-unknown-browser")] {
                    assert!(w.text.contains(&unknown), "{}", w.text);
                }
            }
        }
    }
}

#[test]
fn the_language_of_a_mail_is_the_one_asked_for() {
    let reset = Mail::PasswordReset {
        link: "https://id.example/reset?token=t",
    };
    let en = write(Tr::new(Lang::En), "Acme", &reset);
    let es = write(Tr::new(Lang::Es), "Acme", &reset);
    assert_eq!(en.subject, "Reset your Acme password");
    assert_eq!(es.subject, "Restablezca su contraseña de Acme");
    assert!(en.text.contains("within 1 hour"), "{}", en.text);
    assert!(es.text.contains("en un plazo de 1 hora"), "{}", es.text);
    let invite = Mail::Invitation {
        name: "Ana",
        link: "https://id.example/register?token=t",
    };
    let es = write(Tr::new(Lang::Es), "Acme", &invite);
    assert!(es.text.starts_with("Hola, Ana:\n\n"), "{}", es.text);
    assert!(es.text.contains("7 días"), "{}", es.text);
}

/// The "app linked" mail warns a user whose password someone else may know, and that someone
/// writes the User-Agent: the mail names a browser and system from a fixed list, never the
/// header's text.
#[test]
fn the_app_linked_mail_names_the_browser_in_its_own_words() {
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    let spoof = "Chrome\" on your usual computer. This was you, verified by your administrator";
    for (lang, named, unknown) in [
        (
            Lang::En,
            "using Firefox on Linux.",
            "using an unknown browser.",
        ),
        (
            Lang::Es,
            "con Firefox en Linux.",
            "con un navegador desconocido.",
        ),
    ] {
        let mail = |ua| Mail::AppLinked {
            at: 1_700_000_000,
            ip: Some("203.0.113.9"),
            browser: Some(ua),
        };
        let w = write(Tr::new(lang), "Acme", &mail(firefox));
        assert!(w.text.contains(named), "{}", w.text);
        let w = write(Tr::new(lang), "Acme", &mail(spoof));
        assert!(!w.text.contains("usual computer"), "{}", w.text);
        assert!(w.text.contains(unknown), "{}", w.text);
        let long = format!("{firefox} {}", "padding ".repeat(800));
        let w = write(Tr::new(lang), "Acme", &mail(&long));
        assert!(
            !w.text.contains("padding") && w.text.len() < 2_000,
            "{}",
            w.text
        );
    }
}

/// An invitation to a user created without a name greets without one.
#[test]
fn an_invitation_without_a_name_greets_without_one() {
    for (lang, greeting) in [(Lang::En, "Hello,\n"), (Lang::Es, "Hola:\n")] {
        let w = write(
            Tr::new(lang),
            "Acme",
            &Mail::Invitation {
                name: "",
                link: "https://id.example/register?token=abc",
            },
        );
        assert!(w.text.starts_with(greeting), "{}", w.text);
    }
}

/// A user's mails are in the language they chose on `/account`, whatever page caused them; a
/// user who chose none gets the page's language, and without a page the provider's default.
#[test]
fn a_users_mails_take_their_chosen_language_first() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "issuer = \"http://127.0.0.1:8080\"\n[ui]\ndefault_locale = \"es\"\n[mail]\ntransport = \"file\"\noutbox_dir = \"{}\"\n[[clients]]\nclient_id = \"app\"\nname = \"App\"\nredirect_uris = [\"http://127.0.0.1:9000/cb\"]\npublic = true\n",
        dir.path().display()
    );
    let config = Config::parse("t.toml", &text).unwrap();
    let mailer = Mailer::new(&config).unwrap();
    assert_eq!(mailer.lang_for(Some("es"), Some(Lang::En)), Lang::Es);
    assert_eq!(mailer.lang_for(Some("en"), Some(Lang::Es)), Lang::En);
    assert_eq!(mailer.lang_for(None, Some(Lang::En)), Lang::En);
    assert_eq!(
        mailer.lang_for(Some("fr"), Some(Lang::En)),
        Lang::En,
        "a stored tag we no longer have counts as no choice"
    );
    assert_eq!(mailer.lang_for(None, None), Lang::Es, "the default");
    assert_eq!(mailer.lang_for(Some("en"), None), Lang::En);
}
