//! The mails a test server sends, as a mail client would read them: the file outbox's mails in
//! order, waiting for the ones sent in the background, a header, a link, a quoted-printable body.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The mails of a folder (the file outbox, or a Maildir's `new/`), oldest first; a file still
/// being written (the outbox writes it in place, and every mail of ours is multipart, so a
/// whole one ends with its closing boundary) is not one yet.
pub(crate) fn mails_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let t = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, e.path())
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
        .filter(|m| m.trim_end().ends_with("--"))
        .collect()
}

/// Waits until `dir` holds at least `n` mails (some are sent in the background).
pub fn wait_for_mails(dir: &Path, n: usize) -> Vec<String> {
    // Generous: on a 2-core machine running the whole suite, a background send can wait a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mails = mails_in(dir);
        if mails.len() >= n || Instant::now() > deadline {
            return mails;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Exactly `n` mails: waits for them, then watches a while longer so that a late extra mail
/// (sent in the background after the request was answered) is caught too.
pub fn wait_for_exactly(dir: &Path, n: usize) -> Vec<String> {
    let subjects = |mails: &[String]| -> Vec<String> {
        mails
            .iter()
            .map(|m| header(m, "Subject").unwrap_or("?").to_string())
            .collect()
    };
    let mails = wait_for_mails(dir, n);
    assert_eq!(mails.len(), n, "{n} mails expected: {:?}", subjects(&mails));
    let settle = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < settle {
        let now = mails_in(dir);
        assert_eq!(
            now.len(),
            n,
            "{n} mails expected, a late one came: {:?}",
            subjects(&now)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    mails
}

/// The link to `path` in a mail, as a mail client would show it (quoted-printable undone).
pub fn link_in(mail: &str, base: &str, path: &str) -> String {
    let text = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let prefix = format!("{base}{path}?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in mail:\n{mail}"))
        + prefix.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 32, "a high-entropy token: {token}");
    format!("{prefix}{token}")
}

/// A header of a mail, by name (case-insensitive).
pub fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .take_while(|l| !l.is_empty() && *l != "\r")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
}

/// The decoded text of a quoted-printable mail body (what lettre uses for mostly-ASCII text).
pub fn decoded(mail: &str) -> String {
    let soft = mail.replace("=\r\n", "").replace("=\n", "");
    let bytes = soft.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
