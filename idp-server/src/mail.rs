//! Outgoing mail with lettre: a file outbox (one `.eml` per message, for development) or SMTP.
//! A failed send is returned to the caller, which logs it and tells the operator or the page;
//! the token in the message stays valid so the send can be retried.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{FileTransport, Message, SmtpTransport, Transport};

use idp_core::email_tokens::Purpose;

use crate::config::{Config, MailTransport, SmtpTls};

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
        })
    }

    /// An absolute link to a page of ours.
    pub fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.issuer)
    }

    /// Mails an email-token link: an invitation (registration completion) or a reset link.
    pub fn send_link(
        &self,
        user: &idp_core::User,
        purpose: Purpose,
        token: &str,
    ) -> Result<(), MailError> {
        match purpose {
            Purpose::Invite => {
                let link = self.link("/register", token);
                self.send(
                    &user.email,
                    Mail::Invitation {
                        name: &user.display_name,
                        link: &link,
                    },
                )
            }
            Purpose::Reset => {
                let link = self.link("/reset", token);
                self.send(&user.email, Mail::PasswordReset { link: &link })
            }
        }
    }

    pub fn send(&self, to: &str, mail: Mail<'_>) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        let p = &self.product;
        let invite_for = lifetime(Purpose::Invite.ttl_secs());
        let reset_for = lifetime(Purpose::Reset.ttl_secs());
        let (subject, text, html) = match mail {
            Mail::Invitation { name, link } => (
                format!("Complete your {p} registration"),
                format!(
                    "Hello {name},\n\nAn account on {p} was created for you. To confirm this email address and set your permanent password, open this link within {invite_for}:\n\n{link}\n\nIf you did not expect this message, you can ignore it.\n"
                ),
                format!(
                    "<p>Hello {},</p><p>An account on {} was created for you. To confirm this email address and set your permanent password, open this link within {}:</p><p><a href=\"{}\">Complete registration</a></p><p>If you did not expect this message, you can ignore it.</p>",
                    escape(name), escape(p), invite_for, escape(link)
                ),
            ),
            Mail::PasswordReset { link } => (
                format!("Reset your {p} password"),
                format!(
                    "Someone asked to reset the password of this {p} account. To set a new password, open this link within {reset_for}:\n\n{link}\n\nIf it was not you, ignore this message: your password stays as it is.\n"
                ),
                format!(
                    "<p>Someone asked to reset the password of this {} account. To set a new password, open this link within {}:</p><p><a href=\"{}\">Set a new password</a></p><p>If it was not you, ignore this message: your password stays as it is.</p>",
                    escape(p), reset_for, escape(link)
                ),
            ),
            Mail::AppLinked { at, ip, browser } => {
                let at = when(at);
                let ip = ip.unwrap_or("unknown");
                let browser = browser.unwrap_or("unknown");
                (
                    format!("An authenticator app was linked to your {p} account"),
                    format!(
                        "An authenticator app was linked to your {p} account on {at}, from the address {ip} with the browser \"{browser}\". From now on its codes are your second factor.\n\nIf this was not you, someone knows your password: contact your administrator at once, so they can disconnect that app and reset your password.\n"
                    ),
                    format!(
                        "<p>An authenticator app was linked to your {} account on {}, from the address {} with the browser &quot;{}&quot;. From now on its codes are your second factor.</p><p><strong>If this was not you</strong>, someone knows your password: contact your administrator at once, so they can disconnect that app and reset your password.</p>",
                        escape(p), escape(&at), escape(ip), escape(browser)
                    ),
                )
            }
            Mail::AppDisconnected { at } => {
                let at = when(at);
                (
                    format!("The authenticator app of your {p} account was disconnected"),
                    format!(
                        "Your administrator disconnected the authenticator app of your {p} account on {at}. At your next sign-in you will link a new app by scanning a QR code.\n\nIf you did not ask for this, contact your administrator at once.\n"
                    ),
                    format!(
                        "<p>Your administrator disconnected the authenticator app of your {} account on {}. At your next sign-in you will link a new app by scanning a QR code.</p><p>If you did not ask for this, contact your administrator at once.</p>",
                        escape(p), escape(&at)
                    ),
                )
            }
            Mail::PasswordChanged => (
                format!("Your {p} password was changed"),
                format!("The password of your {p} account was just changed. If you did not do this, contact your administrator at once.\n"),
                format!("<p>The password of your {} account was just changed. If you did not do this, contact your administrator at once.</p>", escape(p)),
            ),
        };
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A link's lifetime in words ("7 days", "1 hour", "30 minutes"), from its real value.
pub fn lifetime(secs: i64) -> String {
    let (n, unit) = if secs >= 86_400 && secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs >= 3_600 && secs % 3_600 == 0 {
        (secs / 3_600, "hour")
    } else {
        ((secs + 59) / 60, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod lifetime_tests {
    use super::*;

    #[test]
    fn link_lifetimes_read_as_their_real_values() {
        assert_eq!(lifetime(Purpose::Invite.ttl_secs()), "7 days");
        assert_eq!(lifetime(Purpose::Reset.ttl_secs()), "1 hour");
        assert_eq!(lifetime(2 * 3_600), "2 hours");
        assert_eq!(lifetime(90 * 60), "90 minutes");
        assert_eq!(lifetime(60), "1 minute");
    }
}
