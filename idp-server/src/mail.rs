//! Outgoing mail with lettre: a file outbox (one `.eml` per message, for development) or SMTP.
//! A failed send is returned to the caller, which logs it and tells the operator or the page;
//! the token in the message stays valid so the send can be retried.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use idp_core::email_tokens::Purpose;

use crate::config::{Config, MailTransport, SmtpTls};
use crate::i18n::{escape_html, msg, Lang, Msg, Tr};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("could not send the message: {0}")]
    Send(String),
    #[error("mail configuration: {0}")]
    Config(String),
}

enum Outbox {
    File(FileTransport),
    Smtp(Box<SmtpTransport>),
}

pub struct Mailer {
    outbox: Outbox,
    from: Mailbox,
    product: String,
    issuer: String,
    default_lang: Lang,
}

/// The messages we send.
pub enum Mail<'a> {
    /// Registration completion: confirm the authentication email and set a permanent password.
    Invitation {
        name: &'a str,
        link: &'a str,
    },
    PasswordReset {
        link: &'a str,
    },
    PasswordChanged,
    /// An authenticator app was linked to the account (at enrollment).
    AppLinked {
        /// Unix time.
        at: i64,
        ip: Option<&'a str>,
        browser: Option<&'a str>,
    },
    /// The linked authenticator app was disconnected by an administrator.
    AppDisconnected {
        at: i64,
    },
    /// To an account's administrators: a user's authenticator app was disconnected.
    AppDisconnectedNotice {
        at: i64,
        user: &'a str,
        reason: &'a str,
    },
    /// After a disconnect with `relink_requires_email`: the only way to link a new app.
    RelinkLink {
        link: &'a str,
    },
}

/// The browser and system a User-Agent names, in words from a fixed list ("Firefox on
/// Linux"); `None` when it names none we know. Never the header's own text: whoever signs in
/// writes it, and the mail that quotes it warns the user about that very person.
pub fn browser_of(t: &Tr, user_agent: &str) -> Option<String> {
    let found = woothee::parser::Parser::new().parse(user_agent)?;
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match (known(found.name), known(found.os)) {
        (true, true) => Some(
            t.show(
                &msg("mail-browser-on-system")
                    .with("browser", found.name)
                    .with("system", found.os),
            ),
        ),
        (true, false) => Some(found.name.to_string()),
        _ => None,
    }
}

/// A time as mails show it.
fn when(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// Sends a mail on the blocking pool without making the caller wait; a failure is logged.
pub fn send_in_background<F>(mailer: &std::sync::Arc<Mailer>, to: String, f: F)
where
    F: FnOnce(&Mailer, String) -> Result<(), MailError> + Send + 'static,
{
    let mailer = mailer.clone();
    actix_web::rt::task::spawn_blocking(move || {
        if let Err(e) = f(&mailer, to) {
            tracing::error!(error = %e, "mail not sent");
        }
    });
}

impl Mailer {
    pub fn new(config: &Config) -> Result<Self, MailError> {
        let m = &config.mail;
        let from: Mailbox = m
            .from
            .parse()
            .map_err(|_| MailError::Address(m.from.clone()))?;
        let outbox = match m.transport {
            MailTransport::File => {
                std::fs::create_dir_all(&m.outbox_dir).map_err(|e| {
                    MailError::Config(format!("cannot create {}: {e}", m.outbox_dir.display()))
                })?;
                Outbox::File(FileTransport::new(&m.outbox_dir))
            }
            MailTransport::Smtp => {
                let host = m
                    .smtp_host
                    .clone()
                    .ok_or_else(|| MailError::Config("mail.smtp_host is missing".into()))?;
                let mut builder = match m.smtp_tls {
                    SmtpTls::Tls => {
                        SmtpTransport::relay(&host).map_err(|e| MailError::Config(e.to_string()))?
                    }
                    SmtpTls::Starttls => SmtpTransport::starttls_relay(&host)
                        .map_err(|e| MailError::Config(e.to_string()))?,
                    SmtpTls::None => SmtpTransport::builder_dangerous(&host),
                };
                if let Some(port) = m.smtp_port {
                    builder = builder.port(port);
                }
                if let (Some(u), Some(p)) = (&m.smtp_username_env, &m.smtp_password_env) {
                    let user = std::env::var(u).map_err(|_| {
                        MailError::Config(format!("environment variable {u} is not set"))
                    })?;
                    let pass = std::env::var(p).map_err(|_| {
                        MailError::Config(format!("environment variable {p} is not set"))
                    })?;
                    builder = builder.credentials(Credentials::new(user, pass));
                }
                Outbox::Smtp(Box::new(
                    builder
                        .timeout(Some(std::time::Duration::from_secs(10)))
                        .build(),
                ))
            }
        };
        Ok(Mailer {
            outbox,
            from,
            product: config.brand.product.clone(),
            issuer: config.issuer.clone(),
            default_lang: config.default_locale,
        })
    }

    /// An absolute link to a page of ours.
    pub fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.issuer)
    }

    /// The language of mails no page caused (an operator's invitation or disconnection).
    pub fn default_lang(&self) -> Lang {
        self.default_lang
    }

    /// Mails an email-token link: an invitation (registration completion) or a reset link.
    pub fn send_link(
        &self,
        user: &idp_core::User,
        purpose: Purpose,
        token: &str,
        lang: Lang,
    ) -> Result<(), MailError> {
        match purpose {
            Purpose::Invite => {
                let link = self.link("/register", token);
                self.send(
                    &user.email,
                    lang,
                    Mail::Invitation {
                        name: &user.display_name,
                        link: &link,
                    },
                )
            }
            Purpose::Reset => {
                let link = self.link("/reset", token);
                self.send(&user.email, lang, Mail::PasswordReset { link: &link })
            }
            Purpose::Relink => {
                let link = self.link("/relink", token);
                self.send(&user.email, lang, Mail::RelinkLink { link: &link })
            }
        }
    }

    /// The language a user chose for their mails, else the provider's default.
    pub fn lang_of(&self, locale: Option<&str>) -> Lang {
        locale.and_then(Lang::from_tag).unwrap_or(self.default_lang)
    }

    /// Tells of a disconnect: the user (with the relink link when one was made) and their
    /// account's administrators (with the reason). Each failure is returned with its address;
    /// the others are still sent.
    pub fn send_disconnect_notices(
        &self,
        user: &idp_core::User,
        done: &idp_core::mfa::Disconnected,
        reason: &str,
        at: i64,
    ) -> Vec<(String, MailError)> {
        let mut failed = Vec::new();
        for r in &done.notify {
            let lang = self.lang_of(r.locale.as_deref());
            let mail = if r.is_subject {
                Mail::AppDisconnected { at }
            } else {
                Mail::AppDisconnectedNotice {
                    at,
                    user: &user.email,
                    reason,
                }
            };
            if let Err(e) = self.send(&r.email, lang, mail) {
                failed.push((r.email.clone(), e));
            }
        }
        if let Some(token) = &done.relink_token {
            let lang = self.lang_of(user.locale.as_deref());
            if let Err(e) = self.send_link(user, Purpose::Relink, token, lang) {
                failed.push((user.email.clone(), e));
            }
        }
        failed
    }

    /// Sends `mail` in `lang`.
    pub fn send(&self, to: &str, lang: Lang, mail: Mail<'_>) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        let Written {
            subject,
            text,
            html,
        } = write(Tr::new(lang), &self.product, &mail);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.outbox {
            Outbox::File(t) => t
                .send(&message)
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
            Outbox::Smtp(t) => t
                .send(&message)
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
        }
    }
}

/// A mail in words: its subject, plain text and HTML.
struct Written {
    subject: String,
    text: String,
    html: String,
}

/// What a mail says, before it is put into words.
struct Parts<'a> {
    subject: Msg,
    paragraphs: Vec<Msg>,
    /// The link (for a link mail) and its label, after the paragraphs.
    link: Option<(&'a str, Msg)>,
    /// A paragraph after the link.
    last: Option<Msg>,
}

/// What `mail` says; `t` words the values that are themselves words (a lifetime, "unknown").
fn parts<'a>(t: Tr, product: &str, mail: &Mail<'a>) -> Parts<'a> {
    let plain = |subject: Msg, paragraphs: Vec<Msg>| Parts {
        subject,
        paragraphs,
        link: None,
        last: None,
    };
    match *mail {
        Mail::Invitation { name, link } => Parts {
            subject: msg("mail-invitation-subject").with("product", product),
            paragraphs: vec![
                // Without a name (none was given), a greeting without one.
                if name.trim().is_empty() {
                    msg("mail-hello-unnamed")
                } else {
                    msg("mail-hello").with("name", name)
                },
                msg("mail-invitation-body")
                    .with("product", product)
                    .with("lifetime", t.lifetime(Purpose::Invite.ttl_secs())),
            ],
            link: Some((link, msg("mail-invitation-link"))),
            last: Some(msg("mail-invitation-ignore")),
        },
        Mail::PasswordReset { link } => Parts {
            subject: msg("mail-reset-subject").with("product", product),
            paragraphs: vec![msg("mail-reset-body")
                .with("product", product)
                .with("lifetime", t.lifetime(Purpose::Reset.ttl_secs()))],
            link: Some((link, msg("mail-reset-link"))),
            last: Some(msg("mail-reset-ignore")),
        },
        Mail::PasswordChanged => plain(
            msg("mail-password-changed-subject").with("product", product),
            vec![msg("mail-password-changed-body").with("product", product)],
        ),
        Mail::AppLinked { at, ip, browser } => {
            let (no_ip, no_browser) = (t.tr("mail-unknown-address"), t.tr("mail-unknown-browser"));
            plain(
                msg("mail-app-linked-subject").with("product", product),
                vec![
                    msg("mail-app-linked-body")
                        .with("product", product)
                        .with("at", when(at))
                        .with("ip", ip.unwrap_or(&no_ip))
                        .with(
                            "browser",
                            browser
                                .and_then(|ua| browser_of(&t, ua))
                                .unwrap_or(no_browser),
                        ),
                    msg("mail-app-linked-warning"),
                ],
            )
        }
        Mail::AppDisconnected { at } => plain(
            msg("mail-app-disconnected-subject").with("product", product),
            vec![
                msg("mail-app-disconnected-body")
                    .with("product", product)
                    .with("at", when(at)),
                msg("mail-app-disconnected-warning"),
            ],
        ),
        Mail::AppDisconnectedNotice { at, user, reason } => plain(
            msg("mail-disconnect-notice-subject")
                .with("product", product)
                .with("user", user),
            vec![
                msg("mail-disconnect-notice-body")
                    .with("product", product)
                    .with("user", user)
                    .with("at", when(at))
                    .with("reason", reason),
                msg("mail-disconnect-notice-warning"),
            ],
        ),
        Mail::RelinkLink { link } => Parts {
            subject: msg("mail-relink-subject").with("product", product),
            paragraphs: vec![msg("mail-relink-body")
                .with("product", product)
                .with("lifetime", t.lifetime(Purpose::Relink.ttl_secs()))],
            link: Some((link, msg("mail-relink-link"))),
            last: Some(msg("mail-relink-ignore")),
        },
    }
}

/// Writes `mail` in `t`'s language: paragraphs, then (for a link mail) the link and a last
/// paragraph. Every paragraph is escaped for the HTML part.
fn write(t: Tr, product: &str, mail: &Mail<'_>) -> Written {
    let Parts {
        subject,
        paragraphs,
        link,
        last,
    } = parts(t, product, mail);
    let mut text = Vec::new();
    let mut html = String::new();
    for m in &paragraphs {
        let words = t.show(m);
        html.push_str(&format!("<p>{}</p>", escape_html(&words)));
        text.push(words);
    }
    if let Some((href, label)) = &link {
        text.push(href.to_string());
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape_html(href),
            escape_html(&t.show(label))
        ));
    }
    if let Some(m) = &last {
        let words = t.show(m);
        html.push_str(&format!("<p>{}</p>", escape_html(&words)));
        text.push(words);
    }
    Written {
        subject: t.show(&subject),
        text: text.join("\n\n") + "\n",
        html: format!("<div lang=\"{}\">{html}</div>", t.tag()),
    }
}

#[cfg(test)]
mod tests;
