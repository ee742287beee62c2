//! Form and query parameters as RFC 6749 wants them: each at most once (section 3.1), size-bound,
//! valid UTF-8 without NUL.

use std::collections::HashMap;

/// Parsed `application/x-www-form-urlencoded` parameters.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    Duplicate(String),
    Invalid(String),
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

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            // form_urlencoded replaces malformed UTF-8 with U+FFFD; refuse that and NUL outright.
            let bad = |s: &str| s.contains('\u{FFFD}') || s.contains('\0') || s.len() > MAX_VALUE;
            if bad(&k) || bad(&v) {
                return Err(ParamError::Invalid(
                    k.chars().filter(|c| !c.is_control()).take(40).collect(),
                ));
            }
            if v.is_empty() {
                // RFC 6749 3.1: parameters sent without a value are treated as omitted.
                continue;
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ParamError::Duplicate(k.to_string()));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_values_ignored() {
        assert_eq!(
            Params::parse(b"a=1&a=2").unwrap_err(),
            ParamError::Duplicate("a".into())
        );
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn nul_and_malformed_utf8_are_refused() {
        assert!(Params::parse(b"a=%00").is_err());
        assert!(Params::parse(b"a=%ff%fe").is_err());
        assert!(Params::parse(format!("a={}", "x".repeat(5000)).as_bytes()).is_err());
    }
}
