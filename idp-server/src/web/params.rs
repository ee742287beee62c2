//! Form and query parameters as RFC 6749 wants them: each at most once (section 3.1), size-bound,
//! valid UTF-8 without NUL.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::HttpRequest;

/// Parsed `application/x-www-form-urlencoded` parameters.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<&'static str, String>);

/// A parameter the provider reads that could not be taken. Only such names are ever named (the
/// name is the provider's own, not the request's text): any other parameter is ignored, so a
/// link with `?Your_account_is_suspended...=1&...=1` puts nothing on our page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    Duplicate(&'static str),
    Invalid(&'static str),
}

/// Every parameter and form field an endpoint of the provider reads.
const KNOWN: &[&str] = &[
    "access_token",
    "account",
    "acr_values",
    "after",
    "before",
    "claims",
    "client_assertion",
    "client_assertion_type",
    "client_id",
    "client_secret",
    "code",
    "code_challenge",
    "code_challenge_method",
    "code_verifier",
    "confirm_password",
    "csrf",
    "current_password",
    "display",
    "email",
    "from",
    "grant_type",
    "id_token_hint",
    "locale",
    "login_hint",
    "max_age",
    "name",
    "new_password",
    "nonce",
    "password",
    "post_logout_redirect_uri",
    "prompt",
    "q",
    "reason",
    "redirect_uri",
    "refresh_token",
    "registration",
    "request",
    "request_uri",
    "response_mode",
    "response_type",
    "scope",
    "sid",
    "state",
    "to",
    "token",
    "ui_locales",
    "user",
    "username",
];

fn known(name: &str) -> Option<&'static str> {
    KNOWN.iter().copied().find(|k| *k == name)
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::Duplicate(k) => write!(f, "the parameter {k} is repeated"),
            ParamError::Invalid(k) => write!(f, "the parameter {k} is not valid"),
        }
    }
}

const MAX_VALUE: usize = 4096;

/// A name or value that cannot be taken: form_urlencoded replaces malformed UTF-8 with U+FFFD;
/// that, NUL and oversized text are refused outright.
fn unreadable(s: &str) -> bool {
    s.contains('\u{FFFD}') || s.contains('\0') || s.len() > MAX_VALUE
}

/// The request's body is a form (`application/x-www-form-urlencoded`; the media type's name is
/// case-insensitive, RFC 9110 8.3.1).
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            // RFC 6749 3.1: a parameter the provider does not read is ignored.
            let Some(name) = known(&k) else { continue };
            if unreadable(&v) {
                return Err(ParamError::Invalid(name));
            }
            if v.is_empty() {
                // RFC 6749 3.1: parameters sent without a value are treated as omitted.
                continue;
            }
            if map.insert(name, v.into_owned()).is_some() {
                return Err(ParamError::Duplicate(name));
            }
        }
        Ok(Params(map))
    }

    /// The first value of `key` that can be read, from parameters that as a whole could not
    /// (so a refused request's page is still in the language it asked for).
    pub fn first_readable(raw: &[u8], key: &str) -> Option<String> {
        url::form_urlencoded::parse(raw)
            .find(|(k, v)| k == key && !v.is_empty() && !unreadable(v))
            .map(|(_, v)| v.into_owned())
    }

    /// The value of `key` when it is sent exactly once and can be read, from parameters that
    /// as a whole could not (so a refusal can still go back to the app that sent them).
    pub fn single(raw: &[u8], key: &str) -> Option<String> {
        let mut values = url::form_urlencoded::parse(raw).filter(|(k, _)| k == key);
        match (values.next(), values.next()) {
            (Some((_, v)), None) if !v.is_empty() && !unreadable(&v) => Some(v.into_owned()),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        debug_assert!(known(key).is_some(), "{key} is read but not in KNOWN");
        self.0.get(key).map(String::as_str)
    }

    pub fn has(&self, key: &str) -> bool {
        debug_assert!(known(key).is_some(), "{key} is read but not in KNOWN");
        self.0.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_values_ignored() {
        assert_eq!(
            Params::parse(b"state=1&state=2").unwrap_err(),
            ParamError::Duplicate("state")
        );
        let p = Params::parse(b"state=1&nonce=&code=x%20y").unwrap();
        assert_eq!(p.get("state"), Some("1"));
        assert_eq!(p.get("nonce"), None);
        assert_eq!(p.get("code"), Some("x y"));
    }

    /// RFC 6749 3.1: a parameter the provider does not read is ignored, however it is written
    /// or repeated (so a refusal never names one a stranger made up).
    #[test]
    fn parameters_nobody_reads_are_ignored() {
        let spoof = "Your_account_is_suspended_call_555";
        let p = Params::parse(format!("{spoof}=1&{spoof}=2&state=s").as_bytes()).unwrap();
        assert_eq!(p.get("state"), Some("s"));
        let p = Params::parse(format!("{spoof}=%00&x=%ff&nonce=n").as_bytes()).unwrap();
        assert_eq!(p.get("nonce"), Some("n"));
        assert_eq!(
            Params::parse(b"nonce=%ff").unwrap_err(),
            ParamError::Invalid("nonce")
        );
    }

    /// Every parameter the code reads by name is one the list names: any other is dropped at
    /// parsing (RFC 6749 3.1), so a name missing here would silently read as absent.
    #[test]
    fn every_parameter_read_is_known() {
        let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web")];
        let mut seen = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for pattern in ["params.get(\"", "params.has(\"", "(raw, \""] {
                    for (at, _) in text.match_indices(pattern) {
                        let name = &text[at + pattern.len()..];
                        let name = &name[..name.find('"').unwrap()];
                        assert!(known(name).is_some(), "{name} ({path:?}) is not in KNOWN");
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen > 30, "the reads were found ({seen})");
    }

    /// Every field of every page's forms is one the list names (so its refusal can say which).
    #[test]
    fn every_form_field_is_known() {
        let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")];
        let mut paths = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    paths.push(path);
                }
            }
        }
        let mut seen = 0;
        for path in paths {
            let text = std::fs::read_to_string(path).unwrap();
            for tag in text.split('<').filter(|t| {
                ["input ", "select ", "textarea ", "button "]
                    .iter()
                    .any(|k| t.starts_with(k))
            }) {
                if let Some(at) = tag.find(" name=\"") {
                    let name = &tag[at + 7..];
                    let name = &name[..name.find('"').unwrap()];
                    assert!(known(name).is_some(), "{name} is not in KNOWN");
                    seen += 1;
                }
            }
        }
        assert!(seen > 10, "the templates' fields were found ({seen})");
    }

    #[test]
    fn a_refused_requests_language_can_still_be_read() {
        let raw = b"client_id=a&client_id=b&ui_locales=es";
        assert!(Params::parse(raw).is_err());
        assert_eq!(
            Params::first_readable(raw, "ui_locales").as_deref(),
            Some("es")
        );
        assert_eq!(
            Params::first_readable(b"ui_locales=%ff", "ui_locales"),
            None
        );
    }

    #[test]
    fn nul_and_malformed_utf8_are_refused() {
        assert!(Params::parse(b"state=%00").is_err());
        assert!(Params::parse(b"state=%ff%fe").is_err());
        assert!(Params::parse(format!("state={}", "x".repeat(5000)).as_bytes()).is_err());
    }
}
