//! TOTP itself (RFC 6238, the parameters every authenticator app supports: SHA1, 6 digits,
//! 30 seconds): reading a typed code, finding the step it belongs to, the activation code and
//! the QR code. Pure functions; storage and policy are in `mfa`.

use totp_rs::{Algorithm, TOTP};

use super::MfaError;
use crate::crypto::ct_eq;

/// What every authenticator app supports: SHA1, 6 digits, 30 seconds.
pub const DIGITS: usize = 6;
/// Each code's time step, in seconds.
pub const STEP_SECS: u64 = 30;
/// 160-bit secrets, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// Strips spaces and dashes; the rest must be exactly 6 ASCII digits.
pub fn normalise_code(input: &str) -> Result<String, MfaError> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}' | '\t'))
        .collect();
    if code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(MfaError::InvalidFormat)
    }
}

/// The base32 secret in groups of 4 characters.
pub fn format_activation_code(secret: &[u8]) -> String {
    let b32 = base32_encode(secret);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 4648 base32 as people and other systems write it: any case, with spaces, dashes or `=`
/// padding; `None` for anything else.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut n = 0u32;
    let mut out = Vec::new();
    let cleaned: Vec<u8> = text.bytes().filter(|b| !matches!(b, b' ' | b'-')).collect();
    let unpadded = cleaned.strip_suffix(b"=").map_or(&cleaned[..], |_| {
        let end = cleaned
            .iter()
            .rposition(|b| *b != b'=')
            .map_or(0, |i| i + 1);
        &cleaned[..end]
    });
    for b in unpadded {
        let v = ALPHABET.iter().position(|a| *a == b.to_ascii_uppercase())? as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

/// RFC 4648 base32 without padding (what authenticator apps expect).
pub fn base32_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub(crate) fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<TOTP, MfaError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(MfaError::from)
}

/// The step whose code equals `code`, looking `drift` steps either side of `now`. Every candidate
/// is computed and compared in constant time, so timing does not tell which step matched.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    now: i64,
    drift: u8,
) -> Result<Option<i64>, MfaError> {
    let t = totp(secret, "x", "x")?;
    let current = now.div_euclid(STEP_SECS as i64);
    let mut found = None;
    for offset in -(i64::from(drift))..=i64::from(drift) {
        let step = current + offset;
        if step < 0 {
            continue;
        }
        let candidate = t.generate(step as u64 * STEP_SECS);
        if ct_eq(candidate.as_bytes(), code.as_bytes()) {
            found = Some(found.map_or(step, |f: i64| f.max(step)));
        }
    }
    Ok(found)
}

/// An inline SVG QR code for `data`.
pub fn qr_svg(data: &str) -> Result<String, MfaError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration: the SVG is embedded in an HTML page.
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA1 rows: the 20-byte ASCII secret "12345678901234567890", 8 digits.
    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new_unchecked(Algorithm::SHA1, 8, 0, 30, secret, None, String::new());
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time), expected, "T = {time}");
        }
    }

    #[test]
    fn codes_with_spaces_or_dashes_are_accepted_and_junk_is_not() {
        assert_eq!(normalise_code("123 456").unwrap(), "123456");
        assert_eq!(normalise_code(" 123-456 ").unwrap(), "123456");
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "123456\n"] {
            assert!(
                matches!(normalise_code(bad), Err(MfaError::InvalidFormat)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn activation_code_is_base32_in_groups_of_four() {
        // RFC 4648 test vector: "foobar" -> MZXW6YTBOI
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw 6ytb-oi").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW6YTB01"), None, "0 and 1 are not base32");
        let secret: Vec<u8> = (0..20).collect();
        assert_eq!(
            base32_decode(&format_activation_code(&secret)).unwrap(),
            secret
        );
        let code = format_activation_code(&[0u8; 20]);
        assert_eq!(code, "AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA");
    }

    #[test]
    fn drift_of_one_step_is_tolerated_and_two_is_not() {
        let secret = [42u8; 20];
        let t = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            0,
            30,
            secret.to_vec(),
            None,
            String::new(),
        );
        let now = 1_700_000_000i64;
        let step = now / 30;
        let prev = t.generate(((step - 1) * 30) as u64);
        let next = t.generate(((step + 1) * 30) as u64);
        let far = t.generate(((step - 2) * 30) as u64);
        assert_eq!(
            matching_step(&secret, &prev, now, 1).unwrap(),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&secret, &next, now, 1).unwrap(),
            Some(step + 1)
        );
        assert_eq!(matching_step(&secret, &far, now, 1).unwrap(), None);
        assert_eq!(matching_step(&secret, &prev, now, 0).unwrap(), None);
    }

    /// What a person might type into the code box: 6 to 10 characters, mostly ASCII digits,
    /// some separators, now and then a look-alike (a letter, an Arabic-Indic or full-width
    /// three, a dot).
    fn typed_input() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let char = prop_oneof![
            8 => "[0-9]",
            3 => "[ \\-\u{a0}\t]",
            1 => "[a\u{0663}\u{ff13}.]",
        ];
        proptest::collection::vec(char, 6..=10).prop_map(|chars| chars.concat())
    }

    proptest::proptest! {
        /// Any 6-digit code, however spaces and dashes are sprinkled into it, reads as itself.
        #[test]
        fn separators_never_change_a_code(digits in "[0-9]{6}", seps in proptest::collection::vec("[ -]{0,2}", 7)) {
            let mut typed = String::new();
            for (i, d) in digits.chars().enumerate() {
                typed.push_str(&seps[i]);
                typed.push(d);
            }
            typed.push_str(&seps[6]);
            proptest::prop_assert_eq!(normalise_code(&typed).unwrap(), digits);
        }

        /// Typed input is accepted exactly when what is left without the separators is six
        /// ASCII digits, and then the code is those digits in their order.
        #[test]
        fn accepted_codes_are_six_digits_of_the_input(input in typed_input()) {
            let kept: String = input
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}' | '\t'))
                .collect();
            let is_code = kept.len() == 6 && kept.bytes().all(|b| b.is_ascii_digit());
            match normalise_code(&input) {
                Ok(code) => {
                    proptest::prop_assert!(is_code, "{input:?} accepted as {code:?}");
                    proptest::prop_assert_eq!(code, kept);
                }
                Err(_) => proptest::prop_assert!(!is_code, "{input:?} refused"),
            }
        }
    }

    /// The generator above does form codes: of many of its inputs, a good share are accepted
    /// and a good share refused, so neither branch of the property goes untested.
    #[test]
    fn the_typed_input_generator_forms_codes_and_non_codes() {
        use proptest::strategy::{Strategy, ValueTree};
        let strategy = typed_input();
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let total = 2000;
        let accepted = (0..total)
            .filter(|_| {
                let input = strategy.new_tree(&mut runner).unwrap().current();
                normalise_code(&input).is_ok()
            })
            .count();
        assert!(
            accepted >= total / 20 && accepted <= total - total / 20,
            "{accepted} of {total} accepted"
        );
    }

    #[test]
    fn qr_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/X:a%40b.c?secret=AAAA").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    }
}
