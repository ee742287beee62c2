//! The catalogues against each other and against the code: a missing or misspelt message, a
//! translation that lost a variable, a dead message: each fails here, never on a page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::*;
use fluent_templates::Loader;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// Every message of one language's catalogue files, with the variables it uses.
fn catalogue(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(CRATE).join("locales").join(lang.tag());
    let mut messages = BTreeMap::new();
    for file in files(&dir, "ftl") {
        let text = std::fs::read_to_string(&file).unwrap();
        let resource = fluent_syntax::parser::parse(text.as_str())
            .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", file.display()));
        for entry in resource.body {
            match entry {
                Entry::Message(m) => {
                    let mut vars = BTreeSet::new();
                    if let Some(p) = &m.value {
                        pattern_vars(p, &mut vars);
                    }
                    assert!(m.attributes.is_empty(), "{}: attributes unused", m.id.name);
                    let previous = messages.insert(m.id.name.to_string(), vars);
                    assert!(previous.is_none(), "{} twice in {}", m.id.name, lang.tag());
                }
                Entry::Junk { content } => panic!("{}: cannot parse {content:?}", file.display()),
                _ => {}
            }
        }
    }
    assert!(!messages.is_empty(), "no catalogue in {}", dir.display());
    messages
}

fn pattern_vars(p: &Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &p.elements {
        if let PatternElement::Placeable { expression } = element {
            expression_vars(expression, out);
        }
    }
}

fn expression_vars(e: &Expression<&str>, out: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline_vars(selector, out);
            for v in variants {
                pattern_vars(&v.value, out);
            }
        }
        Expression::Inline(i) => inline_vars(i, out),
    }
}

fn inline_vars(i: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_string());
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, out),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, out);
            }
            for n in &arguments.named {
                inline_vars(&n.value, out);
            }
        }
        _ => {}
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The functions that take a message id as their first argument.
const LOOKUPS: [&str; 4] = ["msg(", "tr(", "tr1(", "strong1("];

/// A message the code names: its id, the variables it sets, where.
struct Named {
    id: String,
    vars: BTreeSet<String>,
    place: String,
}

/// A string literal at the start of `s` (after blanks): its text and the rest.
fn literal(s: &str) -> Option<(&str, &str)> {
    s.trim_start().strip_prefix('"')?.split_once('"')
}

/// `s` after the closing parenthesis that matches an opening one just before it (string
/// literals skipped).
fn after_call(s: &str) -> &str {
    let (mut depth, mut in_str, mut escaped) = (1, false, false);
    for (i, c) in s.char_indices() {
        match (in_str, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => in_str = false,
            (true, _) => {}
            (false, '"') => in_str = true,
            (false, '(') => depth += 1,
            (false, ')') => {
                depth -= 1;
                if depth == 0 {
                    return &s[i + 1..];
                }
            }
            _ => {}
        }
    }
    ""
}

/// One call at the start of `rest` (just after `lookup`): the id and the variables it sets
/// (`msg("id").with("a", ..).with_strong("b", ..)`, `tr1("id", "a", ..)`), or `None` when the
/// id is not a literal.
fn named_call(lookup: &str, rest: &str) -> Option<(String, BTreeSet<String>)> {
    let (id, after_id) = literal(rest)?;
    let mut vars = BTreeSet::new();
    match lookup {
        "tr1(" | "strong1(" => {
            let (name, _) = literal(after_id.trim_start().strip_prefix(',')?)?;
            vars.insert(name.to_string());
        }
        "msg(" => {
            let mut chain = after_call(after_id);
            loop {
                let t = chain.trim_start();
                let Some(args) = t
                    .strip_prefix(".with(")
                    .or_else(|| t.strip_prefix(".with_strong("))
                else {
                    break;
                };
                let (name, _) = literal(args)?;
                vars.insert(name.to_string());
                chain = after_call(args);
            }
        }
        _ => {}
    }
    Some((id.to_string(), vars))
}

/// Every message the code and the templates name; and the calls whose id is not a literal
/// (which the scan could not check).
fn named_in_code() -> (Vec<Named>, Vec<String>) {
    let mut named = Vec::new();
    let mut dynamic = Vec::new();
    let src = Path::new(CRATE).join("src");
    let sources = files(&src, "rs")
        .into_iter()
        .chain(files(&Path::new(CRATE).join("templates"), "html"))
        .filter(|p| !p.starts_with(src.join("i18n")) && *p != src.join("i18n.rs"));
    for file in sources {
        let text = std::fs::read_to_string(&file).unwrap();
        for lookup in LOOKUPS {
            for (at, _) in text.match_indices(lookup) {
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // another function whose name ends the same way
                }
                let line = text[..at].lines().count().max(1);
                let place = format!("{}:{line}", file.display());
                match named_call(lookup, &text[at + lookup.len()..]) {
                    Some((id, vars)) => named.push(Named { id, vars, place }),
                    None => dynamic.push(place),
                }
            }
        }
    }
    (named, dynamic)
}

#[test]
fn every_language_has_every_message_with_the_same_variables() {
    let english = catalogue(Lang::En);
    for lang in Lang::ALL {
        let other = catalogue(lang);
        let missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(missing.is_empty(), "missing in {}: {missing:?}", lang.tag());
        assert!(extra.is_empty(), "only in {}: {extra:?}", lang.tag());
        for (id, vars) in &english {
            assert_eq!(&other[id], vars, "variables of {id} in {}", lang.tag());
        }
    }
    let loaded: BTreeSet<String> = CATALOGUES.locales().map(|l| l.to_string()).collect();
    let ours: BTreeSet<String> = Lang::ALL.iter().map(|l| l.tag().to_string()).collect();
    assert_eq!(
        loaded, ours,
        "a locales/ folder without its Lang, or the reverse"
    );
}

#[test]
fn every_message_the_code_names_exists_with_its_variables_and_every_message_is_used() {
    let english = catalogue(Lang::En);
    let (named, dynamic) = named_in_code();
    assert!(
        dynamic.is_empty(),
        "message ids must be literals: {dynamic:#?}"
    );
    let mut wrong = Vec::new();
    for n in &named {
        match english.get(&n.id) {
            None => wrong.push(format!("{}: {} is not in the catalogues", n.place, n.id)),
            Some(vars) if *vars != n.vars => wrong.push(format!(
                "{}: {} sets {:?}, the catalogues use {vars:?}",
                n.place, n.id, n.vars
            )),
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Ids the code reaches through a helper of this module rather than a literal call.
    let by_helper = ["lifetime-days", "lifetime-hours", "lifetime-minutes"];
    let used: BTreeSet<&str> = named.iter().map(|n| n.id.as_str()).collect();
    let unused: Vec<_> = english
        .keys()
        .filter(|k| !used.contains(k.as_str()) && !by_helper.contains(&k.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "in the catalogues but never used: {unused:?}"
    );
    assert!(used.len() > 100, "the scan found only {} ids", used.len());
}

#[test]
fn every_message_formats_in_every_language_without_error_or_fallback() {
    for lang in Lang::ALL {
        for (id, vars) in catalogue(lang) {
            let args: HashMap<Cow<'static, str>, FluentValue<'_>> = vars
                .iter()
                .map(|v| (Cow::Owned(v.clone()), FluentValue::from(2)))
                .collect();
            let text = CATALOGUES
                .lookup_single_language(lang.id(), &id, Some(&args))
                .unwrap_or_else(|e| panic!("{id} in {}: {e}", lang.tag()));
            assert!(
                !text.trim().is_empty() && !text.contains('{'),
                "{id}: {text:?}"
            );
        }
    }
}

#[test]
fn spanish_is_spanish_and_plurals_follow_the_number() {
    let es = Tr::new(Lang::Es);
    let en = Tr::new(Lang::En);
    assert_eq!(es.tr("login-title"), "Iniciar sesión");
    assert_eq!(en.tr("login-title"), "Sign in");
    assert_eq!(
        en.tr1("too-many-wrong-codes", "minutes", 1_i64),
        "Too many wrong codes. Try again in 1 minute."
    );
    assert_eq!(
        es.tr1("too-many-wrong-codes", "minutes", 3_i64),
        "Demasiados códigos incorrectos. Vuelva a intentarlo dentro de 3 minutos."
    );
    assert_eq!(es.lifetime(7 * 86_400), "7 días");
    assert_eq!(en.lifetime(3_600), "1 hour");
    assert_eq!(en.lifetime(2 * 3_600), "2 hours");
    assert_eq!(en.lifetime(90 * 60), "90 minutes");
    assert_eq!(es.lifetime(60), "1 minuto");
}

#[test]
fn a_missing_message_shows_its_id_rather_than_failing_the_page() {
    assert_eq!(
        Tr::new(Lang::Es).show(&msg("no-such-message")),
        "no-such-message"
    );
}

#[test]
fn emphasis_escapes_the_value_and_the_sentence() {
    let html = Tr::new(Lang::En).strong1("enroll-intro", "email", "<a@b.example>");
    assert_eq!(
        html,
        "Your organisation requires a one-time code at every sign-in for <strong>&lt;a@b.example&gt;</strong>."
    );
    let m = msg("signed-in-as")
        .with_strong("name", "Ana \"Ñ\"")
        .with_strong("email", "x&y@b.example");
    assert_eq!(
        Tr::new(Lang::Es).html(&m),
        "Ha iniciado sesión como <strong>Ana &quot;Ñ&quot;</strong> (<strong>x&amp;y@b.example</strong>)."
    );
    // Plain words (a mail, a log) show the same values unadorned.
    assert_eq!(
        Tr::new(Lang::En).show(&m),
        "Signed in as Ana \"Ñ\" (x&y@b.example)."
    );
}

#[test]
fn ui_locales_take_the_first_language_we_have() {
    assert_eq!(Lang::from_ui_locales("es"), Some(Lang::Es));
    assert_eq!(Lang::from_ui_locales("fr-CA es-MX en"), Some(Lang::Es));
    assert_eq!(Lang::from_ui_locales("EN-gb es"), Some(Lang::En));
    assert_eq!(Lang::from_ui_locales("fr de"), None);
    assert_eq!(Lang::from_ui_locales(""), None);
    assert_eq!(Lang::from_ui_locales("   "), None);
    assert_eq!(Lang::from_tag("es-419"), Some(Lang::Es));
    assert_eq!(Lang::from_tag("esp"), None);
    assert_eq!(Lang::from_tag("-es"), None);
}

#[test]
fn accept_language_takes_the_highest_weight_we_have() {
    let al = Lang::from_accept_language;
    assert_eq!(al("es-ES,es;q=0.9,en;q=0.8"), Some(Lang::Es));
    assert_eq!(al("fr-FR, en;q=0.5, es;q=0.7"), Some(Lang::Es));
    assert_eq!(al("en, es"), Some(Lang::En));
    assert_eq!(al("es;q=0, en;q=0.1"), Some(Lang::En));
    assert_eq!(al("es;q=0.000"), None);
    assert_eq!(al("fr, de;q=0.9"), None);
    assert_eq!(al("*"), None);
    assert_eq!(al(""), None);
    // Malformed weights count as 0 (not as the most preferred).
    assert_eq!(al("es;q=2, en;q=0.3"), Some(Lang::En));
    assert_eq!(al("es;q=abc, en;q=0.3"), Some(Lang::En));
    assert_eq!(al("es;q=0.5555, en;q=0.3"), Some(Lang::En));
    assert_eq!(al("es ; q=0.9 , en ; q=0.8"), Some(Lang::Es));
    assert_eq!(al("es;q = 0.1, en;q=0.9"), Some(Lang::En));
    assert_eq!(al("es;level=1, en;q=0.9"), Some(Lang::Es));
    assert_eq!(al("en;q=1.0,es;q=1.000"), Some(Lang::En));
}
