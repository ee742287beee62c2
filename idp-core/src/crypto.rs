//! Small cryptographic building blocks: OS randomness, token hashing, constant-time comparison,
//! and `SecretBox`, which seals secrets at rest (TOTP secrets, private signing keys) and
//! authenticates what the provider hands out and reads back (the known-browser cookie).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
/// Why randomness or sealing failed.
pub enum CryptoError {
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    /// A sealed secret could not be opened (wrong master key or tampered data).
    #[error("a sealed secret could not be opened (wrong master key or tampered data)")]
    Unseal,
    /// The sealed data names a master key that is not configured.
    #[error("no master key with id {0} is configured")]
    UnknownKey(String),
    /// A master key is not 32 bytes in hex or base64.
    #[error("invalid master key: {0}")]
    BadMasterKey(String),
    /// Sealing failed.
    #[error("sealing failed")]
    Seal,
}

/// Fills `N` bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(buf)
}

/// A 256-bit bearer secret, URL-safe (cookies, codes, refresh and email tokens).
pub fn random_token() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// A 128-bit identifier, hex (row ids, session ids that appear in tokens).
pub fn random_id() -> Result<String, CryptoError> {
    Ok(hex::encode(random_bytes::<16>()?))
}

/// SHA-256 of a bearer secret, hex. Secrets are high-entropy, so a fast hash suffices and lets the
/// database look them up by hash; a leaked table does not yield usable tokens.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// SHA-256 (a client secret's digest, compared with the configured one).
pub fn sha256(input: &[u8]) -> [u8; 32] {
    Sha256::digest(input).into()
}

/// SHA-256, base64url without padding (PKCE S256, `at_hash`-style values).
pub fn sha256_b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input))
}

/// HMAC-SHA256 (RFC 2104) of the parts, each preceded by its length so that no two lists of
/// parts read as the same message.
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::digest::KeyInit;
    use hmac::Mac;
    // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104 section 2):
    // padded here, it takes the infallible fixed-size constructor.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Seals and opens small secrets with AES-256-GCM under a master key.
///
/// Format: `<key id>.<base64(nonce || ciphertext)>`. The key id (first 8 hex digits of the key's
/// SHA-256) lets a later master-key rotation keep old ciphertexts readable. The associated data
/// binds each ciphertext to its row (e.g. the user id), so secrets cannot be swapped between rows.
///
/// It also authenticates values handed to browsers ([`SecretBox::tag`]) with HMAC-SHA256 under a
/// key *derived* from each master key (HMAC of a fixed label), never the sealing key itself: a
/// tag and a ciphertext under one key would be two uses of one secret, and nothing a tag reveals
/// can bear on the sealing.
#[derive(Clone)]
pub struct SecretBox {
    keys: Vec<(String, Aes256Gcm)>,
    /// The derived MAC key of each master key, in the order of `keys` (the primary's first).
    mac_keys: Vec<[u8; 32]>,
}

/// The label the MAC key is derived from a master key with. Changing it voids every tag.
const MAC_KEY_LABEL: &[u8] = b"idp-core/secret-box/mac-key/v1";

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `msg` under `key`.
fn hmac(key: &[u8], msg: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(msg);
    mac
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretBox").field("key_ids", &ids).finish()
    }
}

impl SecretBox {
    /// `primary` seals; `older` keys only open (for rotation).
    pub fn new(primary: &[u8; 32], older: &[[u8; 32]]) -> Self {
        let mut keys = vec![Self::entry(primary)];
        keys.extend(older.iter().map(Self::entry));
        let mac_keys = std::iter::once(primary)
            .chain(older)
            .map(|k| hmac(k, MAC_KEY_LABEL).finalize().into_bytes().into())
            .collect();
        SecretBox { keys, mac_keys }
    }

    /// An HMAC-SHA256 tag of `msg` under the primary master key's derived MAC key, base64url.
    pub fn tag(&self, msg: &str) -> String {
        let key = self.mac_keys.first().map_or(&[][..], |k| &k[..]);
        URL_SAFE_NO_PAD.encode(hmac(key, msg.as_bytes()).finalize().into_bytes())
    }

    /// Whether `tag` is the tag of `msg` under the derived MAC key of any configured master key
    /// (so a rotation keeps what the older key tagged valid), compared in constant time.
    pub fn verify_tag(&self, msg: &str, tag: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        self.mac_keys
            .iter()
            .any(|k| hmac(k, msg.as_bytes()).verify_slice(&tag).is_ok())
    }

    /// Parses a master key written as 64 hex digits or 43/44 base64 characters.
    pub fn parse_key(text: &str) -> Result<[u8; 32], CryptoError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| CryptoError::BadMasterKey(e.to_string()))?
        } else {
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .or_else(|_| STANDARD_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| {
                    CryptoError::BadMasterKey("expected 32 bytes as 64 hex digits or base64".into())
                })?
        };
        bytes
            .try_into()
            .map_err(|_| CryptoError::BadMasterKey("a master key is exactly 32 bytes".into()))
    }

    fn entry(key: &[u8; 32]) -> (String, Aes256Gcm) {
        let id = hex::encode(&Sha256::digest(key)[..4]);
        (id, Aes256Gcm::new(key.into()))
    }

    /// Seals `plaintext` (AES-256-GCM with the primary key), bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<String, CryptoError> {
        let (id, cipher) = self.keys.first().ok_or(CryptoError::Seal)?;
        let nonce = random_bytes::<12>()?;
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{id}.{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a sealed value with whichever configured key sealed it; `aad` must match.
    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, CryptoError> {
        let (id, body) = sealed.split_once('.').ok_or(CryptoError::Unseal)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Unseal)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::Unseal);
        }
        let (nonce, ct) = raw.split_at(12);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Unseal)
    }

    /// True when `sealed` was made with the primary key (nothing to re-encrypt).
    pub fn is_current(&self, sealed: &str) -> bool {
        match (sealed.split_once('.'), self.keys.first()) {
            (Some((id, _)), Some((primary, _))) => id == primary,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_with_its_key_and_row() {
        let a = SecretBox::new(&[7u8; 32], &[]);
        let sealed = a.seal(b"totp secret", "user-1").unwrap();
        assert!(!sealed.contains("totp"));
        assert_eq!(a.open(&sealed, "user-1").unwrap(), b"totp secret");
        assert!(matches!(
            a.open(&sealed, "user-2"),
            Err(CryptoError::Unseal)
        ));
        let b = SecretBox::new(&[8u8; 32], &[]);
        assert!(matches!(
            b.open(&sealed, "user-1"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn rotated_box_opens_old_ciphertexts() {
        let old = SecretBox::new(&[1u8; 32], &[]);
        let sealed = old.seal(b"s", "r").unwrap();
        let rotated = SecretBox::new(&[2u8; 32], &[[1u8; 32]]);
        assert_eq!(rotated.open(&sealed, "r").unwrap(), b"s");
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal(b"s", "r").unwrap()));
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let b = SecretBox::new(&[3u8; 32], &[]);
        let mut sealed = b.seal(b"abc", "r").unwrap();
        let last = sealed.pop().unwrap();
        sealed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(b.open(&sealed, "r").is_err());
    }

    #[test]
    fn master_key_parses_from_hex_and_base64() {
        let hex_key = "00".repeat(32);
        assert_eq!(SecretBox::parse_key(&hex_key).unwrap(), [0u8; 32]);
        let b64 = URL_SAFE_NO_PAD.encode([9u8; 32]);
        assert_eq!(SecretBox::parse_key(&b64).unwrap(), [9u8; 32]);
        assert!(SecretBox::parse_key("short").is_err());
    }

    #[test]
    fn tags_verify_under_their_key_and_message_only() {
        let a = SecretBox::new(&[7u8; 32], &[]);
        let tag = a.tag("v1.user.1");
        assert!(a.verify_tag("v1.user.1", &tag));
        assert!(!a.verify_tag("v1.user.2", &tag));
        assert!(!a.verify_tag("v1.user.1", "garbage!"));
        assert!(!SecretBox::new(&[8u8; 32], &[]).verify_tag("v1.user.1", &tag));
        let rotated = SecretBox::new(&[8u8; 32], &[[7u8; 32]]);
        assert!(
            rotated.verify_tag("v1.user.1", &tag),
            "the older key's tags hold"
        );
        // The MAC key is derived, not the master key itself.
        let raw = URL_SAFE_NO_PAD.encode(hmac(&[7u8; 32], b"v1.user.1").finalize().into_bytes());
        assert_ne!(tag, raw);
    }

    #[test]
    fn hmac_sha256_frames_its_parts() {
        // Python's hmac over the 8-byte big-endian length and the part: an implementation
        // independent of ours.
        let key = [0x0bu8; 32];
        assert_eq!(
            hex::encode(hmac_sha256(&key, &[b"ab"])),
            "b981f9a64d364bb54bfc5bf22e449edef45d99db7657e454628195f77f89183a"
        );
        assert_ne!(
            hmac_sha256(&key, &[b"a", b"b"]),
            hmac_sha256(&key, &[b"ab"])
        );
        assert_ne!(
            hmac_sha256(&key, &[b"ab"]),
            hmac_sha256(&[0x0c; 32], &[b"ab"])
        );
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
