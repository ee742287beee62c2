//! Branding: the product name, a logo and an accent colour on the hosted pages, for all of them
//! (`[ui]`) and per app (`[[clients]] ui = {...}`, each key overriding `[ui]`'s). The logo is read
//! at load (a PNG or SVG file under the configuration file's directory, at most
//! [`MAX_LOGO_BYTES`]); the colour reaches the pages through a generated stylesheet, so the
//! Content-Security-Policy keeps refusing inline styles. Both are served under a name made of
//! their digest, so they can be cached for a year.

use std::path::{Component, Path};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::check::Check;
use super::raw::UiSection;
use super::types::{Asset, Brand};
use super::ConfigError;

/// The product name when neither `[ui] product_name` nor the top-level key gives one.
pub const DEFAULT_PRODUCT_NAME: &str = "Identity Provider";

/// The largest logo accepted.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// An asset named by its digest.
fn asset(ext: &str, content_type: &'static str, bytes: Vec<u8>) -> Asset {
    let digest = hex::encode(&Sha256::digest(&bytes)[..12]);
    Asset {
        href: format!("/branding/{digest}.{ext}"),
        content_type,
        bytes: Arc::new(bytes),
    }
}

impl Brand {
    /// The provider's own brand: `[ui]` over the defaults; `old_product_name` is the top-level
    /// `product_name`, the older spelling of `[ui] product_name` (both at once is refused).
    pub(super) fn global(
        check: &Check<'_>,
        ui: &UiSection,
        old_product_name: Option<&str>,
    ) -> Result<Brand, ConfigError> {
        let product = match (&ui.product_name, old_product_name) {
            (Some(_), Some(_)) => {
                return Err(check.bad(
                    "product_name",
                    "is also set as [ui] product_name; keep that one only",
                ))
            }
            (Some(p), None) => shown_name(check, "ui.product_name", p)?,
            (None, Some(p)) => shown_name(check, "product_name", p)?,
            (None, None) => DEFAULT_PRODUCT_NAME.to_string(),
        };
        Ok(Brand {
            product,
            logo: logo(check, "ui.logo", ui.logo.as_deref())?,
            theme: theme(check, "ui.accent_color", ui.accent_color.as_deref())?,
        })
    }

    /// An app's brand: each key it sets overrides the provider's.
    pub(super) fn for_client(
        &self,
        check: &Check<'_>,
        key: &str,
        ui: &UiSection,
    ) -> Result<Brand, ConfigError> {
        let k = |field: &str| format!("{key}.ui.{field}");
        Ok(Brand {
            product: match &ui.product_name {
                Some(p) => shown_name(check, &k("product_name"), p)?,
                None => self.product.clone(),
            },
            logo: match ui.logo.as_deref() {
                Some(l) => logo(check, &k("logo"), Some(l))?,
                None => self.logo.clone(),
            },
            theme: match ui.accent_color.as_deref() {
                Some(c) => theme(check, &k("accent_color"), Some(c))?,
                None => self.theme.clone(),
            },
        })
    }
}

/// A name the pages and mails show (the product's, an app's): 1-100 characters, trimmed, with
/// no control characters (a line break in a mail's subject) and nothing that disguises the text
/// around it (U+202E would turn the sign-in page's sentence around).
pub(super) fn shown_name(check: &Check<'_>, key: &str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 100 {
        return Err(check.bad(key, "must be 1-100 characters"));
    }
    if v.chars().any(idp_core::model::disguises) {
        return Err(check.bad(
            key,
            "must not contain control characters, bidirectional controls, line separators or invisible spaces",
        ));
    }
    Ok(v.to_string())
}

/// Reads and checks the logo file.
fn logo(check: &Check<'_>, key: &str, value: Option<&str>) -> Result<Option<Asset>, ConfigError> {
    let Some(rel) = value else { return Ok(None) };
    let rel_path = Path::new(rel.trim());
    if rel.trim().is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(check.bad(
            key,
            "must be a path relative to the configuration file's directory, without ..",
        ));
    }
    let dir = Path::new(check.path())
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let path = dir.join(rel_path);
    let meta = std::fs::metadata(&path)
        .map_err(|e| check.bad(key, &format!("cannot read {}: {e}", path.display())))?;
    // A symbolic link is followed only to a file under that directory too.
    let inside = match (dir.canonicalize(), path.canonicalize()) {
        (Ok(d), Ok(p)) if p.starts_with(&d) => Some(p),
        _ => None,
    };
    let Some(path) = inside else {
        return Err(check.bad(
            key,
            &format!(
                "{} leads outside the configuration file's directory",
                path.display()
            ),
        ));
    };
    if !meta.is_file() {
        return Err(check.bad(key, &format!("{} is not a file", path.display())));
    }
    if meta.len() > MAX_LOGO_BYTES as u64 {
        return Err(check.bad(
            key,
            &format!(
                "{} is {} bytes; a logo may have at most {MAX_LOGO_BYTES}",
                path.display(),
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| check.bad(key, &format!("cannot read {}: {e}", path.display())))?;
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        return Ok(Some(asset("png", "image/png", bytes)));
    }
    if is_svg(&bytes) {
        return Ok(Some(asset("svg", "image/svg+xml", bytes)));
    }
    Err(check.bad(
        key,
        &format!("{} is not a PNG or SVG image", path.display()),
    ))
}

/// UTF-8 text whose first element, after an XML declaration, comments or a doctype, is `<svg`.
fn is_svg(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("<?") {
            let Some(end) = after.find("?>") else {
                return false;
            };
            rest = after[end + 2..].trim_start();
        } else if let Some(after) = rest.strip_prefix("<!--") {
            let Some(end) = after.find("-->") else {
                return false;
            };
            rest = after[end + 3..].trim_start();
        } else if let Some(after) = rest.strip_prefix("<!DOCTYPE") {
            let Some(end) = after.find('>') else {
                return false;
            };
            rest = after[end + 1..].trim_start();
        } else {
            return rest.starts_with("<svg")
                && rest[4..].starts_with(|c: char| c.is_whitespace() || c == '>');
        }
    }
}

/// The stylesheet for an accent colour, after checking it.
fn theme(check: &Check<'_>, key: &str, value: Option<&str>) -> Result<Option<Asset>, ConfigError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    let rgb = v
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| check.bad(key, &format!("{v:?} is not a colour like \"#1f5fbf\"")))?;
    let channel = |i: usize| u8::from_str_radix(&rgb[i..i + 2], 16).unwrap_or(0);
    let ratio = contrast_with_white([channel(0), channel(2), channel(4)]);
    if ratio < 4.5 {
        return Err(check.bad(
            key,
            &format!(
                "white text on {v} has a contrast of {ratio:.1}:1, under the 4.5:1 WCAG AA asks for; choose a darker colour"
            ),
        ));
    }
    let css = format!(
        "/* generated from the configuration's accent colour */\n@media not (prefers-color-scheme: dark) {{ :root {{ --accent: {}; }} }}\n",
        v.to_ascii_lowercase()
    );
    Ok(Some(asset(
        "css",
        "text/css; charset=utf-8",
        css.into_bytes(),
    )))
}

/// WCAG 2.1's contrast ratio of white against an sRGB colour.
fn contrast_with_white(rgb: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
    1.05 / (l + 0.05)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const PNG_1X1: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\"/></svg>";

    fn config(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        let path = dir.join("idp.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(path.to_str().unwrap())
    }

    fn base(ui: &str, client_ui: &str) -> String {
        format!(
            "issuer = \"http://127.0.0.1:8080\"\n{client}\n[ui]\n{ui}\n",
            client = format_args!(
                "[[clients]]\nclient_id = \"cso\"\nname = \"CStoreOffice\"\nredirect_uris = [\"http://127.0.0.1:9000/cb\"]\npublic = true\n{client_ui}\n[[clients]]\nclient_id = \"plain\"\nname = \"Plain\"\nredirect_uris = [\"http://127.0.0.1:9001/cb\"]\npublic = true\n"
            )
        )
    }

    #[test]
    fn a_client_overrides_the_providers_brand_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("branding")).unwrap();
        std::fs::write(dir.path().join("branding/logo.svg"), SVG).unwrap();
        std::fs::write(dir.path().join("branding/cso.png"), PNG_1X1).unwrap();
        let c = config(
            dir.path(),
            &base(
                "product_name = \"Petrosoft Cloud\"\nlogo = \"branding/logo.svg\"\naccent_color = \"#1F5FBF\"",
                "ui = { logo = \"branding/cso.png\", accent_color = \"#8a2b0e\" }",
            ),
        )
        .unwrap();
        assert_eq!(c.brand.product, "Petrosoft Cloud");
        let logo = c.brand.logo.as_ref().unwrap();
        assert_eq!(logo.content_type, "image/svg+xml");
        assert!(logo.href.starts_with("/branding/") && logo.href.ends_with(".svg"));
        let theme = c.brand.theme.as_ref().unwrap();
        assert!(String::from_utf8_lossy(&theme.bytes).contains("--accent: #1f5fbf;"));
        let cso = c.client("cso").unwrap();
        assert_eq!(
            cso.brand.product, "Petrosoft Cloud",
            "not overridden: the provider's"
        );
        assert_eq!(cso.brand.logo.as_ref().unwrap().content_type, "image/png");
        assert!(
            String::from_utf8_lossy(&cso.brand.theme.as_ref().unwrap().bytes).contains("#8a2b0e")
        );
        assert_eq!(c.client("plain").unwrap().brand, c.brand);
    }

    #[test]
    fn bad_branding_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.png"), {
            let mut v = PNG_1X1.to_vec();
            v.resize(MAX_LOGO_BYTES + 1, 0);
            v
        })
        .unwrap();
        std::fs::write(dir.path().join("logo.gif"), b"GIF89a....").unwrap();
        std::fs::write(dir.path().join("ok.svg"), SVG).unwrap();
        // A link out of the configuration's directory (to an image, even).
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("elsewhere.svg"), SVG).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("elsewhere.svg"),
            dir.path().join("out.svg"),
        )
        .unwrap();
        for (ui, client_ui, key, why) in [
            ("logo = \"missing.png\"", "", "ui.logo", "cannot read"),
            ("logo = \"big.png\"", "", "ui.logo", "at most"),
            ("logo = \"logo.gif\"", "", "ui.logo", "not a PNG or SVG"),
            ("logo = \"../ok.svg\"", "", "ui.logo", "without .."),
            ("logo = \"/etc/passwd\"", "", "ui.logo", "relative"),
            ("logo = \"out.svg\"", "", "ui.logo", "outside"),
            (
                "product_name = \"Acme\\u202e\"",
                "",
                "ui.product_name",
                "bidirectional",
            ),
            (
                "product_name = \"Acme\\nBcc: x\"",
                "",
                "ui.product_name",
                "control",
            ),
            (
                "accent_color = \"blue\"",
                "",
                "ui.accent_color",
                "not a colour",
            ),
            (
                "accent_color = \"#12345\"",
                "",
                "ui.accent_color",
                "not a colour",
            ),
            (
                "accent_color = \"#ffcc00\"",
                "",
                "ui.accent_color",
                "contrast",
            ),
            (
                "",
                "ui = { logo = \"logo.gif\" }",
                "clients[0].ui.logo",
                "not a PNG or SVG",
            ),
            (
                "",
                "ui = { accent_color = \"#eeeeee\" }",
                "clients[0].ui.accent_color",
                "contrast",
            ),
            (
                "",
                "ui = { product_name = \" \" }",
                "clients[0].ui.product_name",
                "1-100",
            ),
            (
                "",
                "ui = { colour = \"#000000\" }",
                "colour",
                "unknown field",
            ),
        ] {
            let err = config(dir.path(), &base(ui, client_ui))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key) && err.contains(why),
                "{ui} {client_ui}: {err}"
            );
        }
        let from = base("", "").replacen(
            "[ui]",
            "[mail]\nfrom = \"Review \\u202eCloud <a@b.example>\"\n[ui]",
            1,
        );
        let err = config(dir.path(), &from).unwrap_err().to_string();
        assert!(
            err.contains("mail.from") && err.contains("bidirectional"),
            "{err}"
        );
        for name in ["   ", "CStore\\u202eOffice", "CStore\\u0007"] {
            let text = base("", "").replacen("CStoreOffice", name, 1);
            let err = config(dir.path(), &text).unwrap_err().to_string();
            assert!(err.contains("clients[0].name"), "{name}: {err}");
        }
        let both = format!(
            "product_name = \"Old\"\n{}",
            base("product_name = \"New\"", "")
        );
        let err = config(dir.path(), &both).unwrap_err().to_string();
        assert!(
            err.contains("product_name") && err.contains("[ui]"),
            "{err}"
        );
    }

    #[test]
    fn contrast_follows_wcag() {
        assert!((contrast_with_white([0, 0, 0]) - 21.0).abs() < 0.01);
        assert!((contrast_with_white([255, 255, 255]) - 1.0).abs() < 0.01);
        // #767676 is the lightest grey that passes 4.5:1 on white.
        assert!(contrast_with_white([0x76, 0x76, 0x76]) >= 4.5);
        assert!(contrast_with_white([0x77, 0x77, 0x77]) < 4.5);
    }

    #[test]
    fn svg_is_recognised_by_its_root_element() {
        assert!(is_svg(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"));
        assert!(is_svg(
            b"<?xml version=\"1.0\"?>\n<!-- logo -->\n<!DOCTYPE svg>\n<svg viewBox=\"0 0 1 1\"/>"
        ));
        assert!(!is_svg(b"<html><svg></svg></html>"));
        assert!(!is_svg(b"<svgfoo>"));
        assert!(!is_svg(b"\xff\xfe<svg>"));
        assert!(!is_svg(b"GIF89a"));
    }
}
