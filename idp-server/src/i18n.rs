//! The languages of the pages and mails, and their words: Fluent catalogues under `locales/`
//! (one folder per language, compiled into the binary), which language a request gets, and
//! messages as values (an id and its arguments) that are put into words only where the
//! language is known.
//!
//! A message missing from a catalogue falls back to English on the page and is logged; the
//! tests below fail on it first (every id the code names exists in every catalogue, with the
//! same variables, and no catalogue holds an id nobody uses).

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::LanguageIdentifier;

fluent_templates::static_loader! {
    static CATALOGUES = {
        locales: "./locales",
        fallback_language: "en",
        // Pages and mails escape what they insert; bidi isolation marks would only show up as
        // stray characters in mail subjects and plain text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language the pages and mails are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Es,
}

static EN: LanguageIdentifier = fluent_templates::langid!("en");
static ES: LanguageIdentifier = fluent_templates::langid!("es");

impl Lang {
    /// Every language, in the order discovery lists them (`ui_locales_supported`).
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    /// The BCP 47 tag: what `lang` attributes, cookies and discovery say.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The language's name in itself ("Español"), as a list of languages to choose from shows
    /// it whatever the page's language.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
        }
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::Es => &ES,
        }
    }

    /// The language of a BCP 47 tag, by its primary subtag: `es`, `es-MX` and `ES-419` are
    /// Spanish; a language we do not have is `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The first language we have of an OIDC `ui_locales` value (space-separated tags, most
    /// preferred first).
    pub fn from_ui_locales(value: &str) -> Option<Lang> {
        value
            .split_ascii_whitespace()
            .take(MAX_TAGS)
            .find_map(Lang::from_tag)
    }

    /// The language we have that an `Accept-Language` header (RFC 9110 section 12.5.4) weighs
    /// highest; among equal weights the first listed. `*` and weight 0 choose nothing.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u16)> = None;
        for item in value.split(',').take(MAX_TAGS) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let weight = parts
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("q").then_some(v.trim())
                })
                .map_or(Some(1000), quality)
                .unwrap_or(0);
            if weight > 0 && best.is_none_or(|(_, w)| weight > w) {
                best = Some((lang, weight));
            }
        }
        best.map(|(l, _)| l)
    }
}

/// How many tags of a header or parameter are looked at (the rest cannot change the answer
/// in practice, and a long list costs nothing).
const MAX_TAGS: usize = 32;

/// A quality value `0`-`1` with up to three decimals, in thousandths; malformed is `None`.
fn quality(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// An argument of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Number(i64),
    /// Text a page shows emphasised (`<strong>`, see [`Tr::html`]); plain elsewhere.
    Strong(String),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Number(n)
    }
}
impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// A message not yet in words: a catalogue id and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    id: &'static str,
    args: Vec<(&'static str, Arg)>,
}

/// The message `id` (a literal: the catalogue tests find every id the code names by it).
pub fn msg(id: &'static str) -> Msg {
    Msg {
        id,
        args: Vec::new(),
    }
}

impl Msg {
    /// This message with the variable `name` set.
    pub fn with(mut self, name: &'static str, value: impl Into<Arg>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    /// This message with the variable `name` set to `value`, emphasised on a page.
    pub fn with_strong(mut self, name: &'static str, value: &str) -> Self {
        self.args.push((name, Arg::Strong(value.to_string())));
        self
    }

    pub fn id(&self) -> &'static str {
        self.id
    }
}

/// Puts messages into the words of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tr {
    lang: Lang,
}

/// The first private-use character, which marks where an emphasised value goes while a
/// sentence is escaped ([`Tr::html`]).
const SLOT: u32 = 0xE000;

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Tr { lang }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The `lang` attribute of a page.
    pub fn tag(&self) -> &'static str {
        self.lang.tag()
    }

    /// A message in words. A message this language lacks (or cannot format) is logged and
    /// shown in English; one no catalogue has shows its id.
    pub fn show(&self, m: &Msg) -> String {
        let values = m.args.iter().map(|(_, a)| match a {
            Arg::Text(s) | Arg::Strong(s) => FluentValue::from(s.as_str()),
            Arg::Number(n) => FluentValue::from(*n),
        });
        self.format(m, values.collect())
    }

    /// `m` formatted with `values`, one per argument of `m`, in order.
    fn format(&self, m: &Msg, values: Vec<FluentValue<'_>>) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = m
            .args
            .iter()
            .zip(values)
            .map(|((k, _), v)| (Cow::Borrowed(*k), v))
            .collect();
        let args = (!args.is_empty()).then_some(&args);
        let mut langs = vec![self.lang];
        if self.lang != Lang::En {
            langs.push(Lang::En);
        }
        for lang in langs {
            match CATALOGUES.lookup_single_language(lang.id(), m.id, args) {
                Ok(text) => return text,
                Err(e) => {
                    tracing::error!(id = m.id, lang = lang.tag(), error = %e, "message not in words")
                }
            }
        }
        m.id.to_string()
    }

    /// A message without arguments, in words.
    pub fn tr(&self, id: &'static str) -> String {
        self.show(&msg(id))
    }

    /// A message with one argument, in words.
    pub fn tr1(&self, id: &'static str, name: &'static str, value: impl Into<Arg>) -> String {
        self.show(&msg(id).with(name, value))
    }

    /// A message with one argument, as HTML with that argument in `<strong>` (see
    /// [`Tr::html`]).
    pub fn strong1(&self, id: &'static str, name: &'static str, value: &str) -> String {
        self.html(&msg(id).with_strong(name, value))
    }

    /// A message as HTML for a page to insert unescaped: everything escaped, the values set
    /// with [`Msg::with_strong`] in `<strong>`.
    pub fn html(&self, m: &Msg) -> String {
        // Each emphasised value is first a private-use character (which no catalogue and no
        // escaping produces) so that the sentence can be escaped around it.
        let slot = |i: usize| char::from_u32(SLOT + i as u32).unwrap_or('\u{E000}');
        let strong: Vec<&str> = m
            .args
            .iter()
            .filter_map(|(_, a)| match a {
                Arg::Strong(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let mut slots = (0..strong.len()).map(|i| slot(i).to_string());
        let values = m.args.iter().map(|(_, a)| match a {
            Arg::Text(s) => FluentValue::from(s.as_str()),
            Arg::Number(n) => FluentValue::from(*n),
            Arg::Strong(_) => FluentValue::from(slots.next().unwrap_or_default()),
        });
        let sentence = self.format(m, values.collect());
        let mut html = escape_html(&sentence);
        for (i, value) in strong.iter().enumerate() {
            html = html.replacen(
                slot(i),
                &format!("<strong>{}</strong>", escape_html(value)),
                1,
            );
        }
        html
    }

    /// A link's lifetime in words ("7 days", "1 hour", "30 minutes"), from its real value.
    pub fn lifetime(&self, secs: i64) -> String {
        if secs >= 86_400 && secs % 86_400 == 0 {
            self.tr1("lifetime-days", "n", secs / 86_400)
        } else if secs >= 3_600 && secs % 3_600 == 0 {
            self.tr1("lifetime-hours", "n", secs / 3_600)
        } else {
            self.tr1("lifetime-minutes", "n", (secs + 59) / 60)
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
