//! Token-signing keys: generated on first start (RS256, ES256, EdDSA), sealed with the master key
//! and stored in the database so replicas share them; rotation adds new keys and keeps retired
//! ones published until every token they signed has expired.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use idp_core::keys::StoredKey;
use idp_core::{Actor, Idp, SecretBox};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;

pub use crate::alg::SigningAlg;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key {kid} is unusable: {source}")]
    Broken {
        kid: String,
        #[source]
        source: KeyMaterialError,
    },
    #[error("no active {0} signing key")]
    Missing(&'static str),
    #[error("the JWKS could not be serialised: {0}")]
    Jwks(serde_json::Error),
    #[error(transparent)]
    Store(#[from] idp_core::StoreError),
    #[error(transparent)]
    Crypto(#[from] idp_core::crypto::CryptoError),
    #[error("master key: {0}")]
    MasterKey(String),
}

/// Why a key's material (its private key, its JWK, the JWKS) could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    #[error("the private key was rejected: {0}")]
    Rejected(#[from] aws_lc_rs::error::KeyRejected),
    #[error(transparent)]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the claims could not be serialised: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the signature failed")]
    Signature(#[from] aws_lc_rs::error::Unspecified),
}

/// Loads the master key: `IDP_MASTER_KEY` (hex or base64), or `<key_dir>/master.key`, created
/// with mode 0600 on first start. `IDP_MASTER_KEY_PREVIOUS` (comma-separated) still opens old data.
pub fn load_master_key(key_dir: &std::path::Path) -> Result<SecretBox, KeyError> {
    let previous: Vec<[u8; 32]> = match std::env::var("IDP_MASTER_KEY_PREVIOUS") {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|k| {
                SecretBox::parse_key(k)
                    .map_err(|e| KeyError::MasterKey(format!("IDP_MASTER_KEY_PREVIOUS: {e}")))
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    if let Ok(v) = std::env::var("IDP_MASTER_KEY") {
        if !v.trim().is_empty() {
            let key = SecretBox::parse_key(&v)
                .map_err(|e| KeyError::MasterKey(format!("IDP_MASTER_KEY: {e}")))?;
            return Ok(SecretBox::new(&key, &previous));
        }
    }
    let path = key_dir.join("master.key");
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => SecretBox::parse_key(&text)
            .map_err(|e| KeyError::MasterKey(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = idp_core::crypto::random_bytes::<32>()?;
            write_private_file(&path, &hex::encode(key)).map_err(|e| {
                KeyError::MasterKey(format!("cannot create {}: {e}", path.display()))
            })?;
            tracing::info!(path = %path.display(), "generated a new master key");
            key
        }
        Err(e) => {
            return Err(KeyError::MasterKey(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    Ok(SecretBox::new(&key, &previous))
}

fn write_private_file(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// A new private key of `alg`, as PKCS#8 DER.
fn new_pkcs8(alg: SigningAlg) -> Result<Vec<u8>, KeyError> {
    match alg {
        SigningAlg::Rs256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError::Generate),
        SigningAlg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError::Generate),
        SigningAlg::EdDsa => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError::Generate),
    }
}

/// Makes a new key pair: (kid, sealed PKCS#8, public JWK JSON).
pub fn generate(alg: SigningAlg, secrets: &SecretBox, now: i64) -> Result<StoredKey, KeyError> {
    let pkcs8 = new_pkcs8(alg)?;
    let kid = format!(
        "{}-{}",
        alg.as_str().to_lowercase(),
        &idp_core::crypto::random_id()?[..16]
    );
    let broken = |source: KeyMaterialError| KeyError::Broken {
        kid: kid.clone(),
        source,
    };
    let encoding = encoding_key(alg, &pkcs8).map_err(broken)?;
    let jwk = public_jwk(&encoding, alg, &kid).map_err(broken)?;
    let public_jwk = serde_json::to_string(&jwk).map_err(|e| broken(e.into()))?;
    let private_sealed = secrets.seal(&pkcs8, &idp_core::keys::signing_key_aad(&kid))?;
    Ok(StoredKey {
        kid,
        alg: alg.as_str().into(),
        private_sealed,
        public_jwk,
        created_at: now,
        retired_at: None,
    })
}

fn encoding_key(alg: SigningAlg, pkcs8: &[u8]) -> Result<EncodingKey, KeyMaterialError> {
    match alg {
        // jsonwebtoken's RSA signer wants PKCS#1; its PEM reader unwraps PKCS#8 for us.
        SigningAlg::Rs256 => Ok(EncodingKey::from_rsa_pem(
            pem("PRIVATE KEY", pkcs8).as_bytes(),
        )?),
        SigningAlg::Es256 => Ok(EncodingKey::from_ec_der(pkcs8)),
        SigningAlg::EdDsa => Ok(EncodingKey::from_ed_der(pkcs8)),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn public_jwk(key: &EncodingKey, alg: SigningAlg, kid: &str) -> Result<Jwk, KeyMaterialError> {
    let mut jwk = Jwk::from_encoding_key(key, alg.jwt())?;
    // from_encoding_key leaves these empty; RPs select keys by kid and use.
    jwk.common.key_id = Some(kid.to_string());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(match alg {
        SigningAlg::Rs256 => KeyAlgorithm::RS256,
        SigningAlg::Es256 => KeyAlgorithm::ES256,
        SigningAlg::EdDsa => KeyAlgorithm::EdDSA,
    });
    Ok(jwk)
}

/// A private key parsed once, when the keyring loads. (jsonwebtoken's `encode` parses the DER
/// key on every call, which for RSA means re-deriving the CRT parameters: ~5x the cost of the
/// signature itself.)
enum KeyPair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// The active signing key of one algorithm.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: KeyPair,
    rng: SystemRandom,
}

impl SigningKey {
    fn from_pkcs8(kid: &str, alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyMaterialError> {
        let pair = match alg {
            SigningAlg::Rs256 => RsaKeyPair::from_pkcs8(pkcs8).map(KeyPair::Rsa),
            SigningAlg::Es256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map(KeyPair::Ec)
            }
            SigningAlg::EdDsa => Ed25519KeyPair::from_pkcs8(pkcs8).map(KeyPair::Ed),
        }?;
        Ok(SigningKey {
            kid: kid.to_string(),
            alg,
            pair,
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A JWS in compact serialisation (RFC 7515 7.1) with `alg`, `kid` and `typ` in the header.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, SignError> {
        let mut header = jsonwebtoken::Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_string());
        let part = |v: Vec<u8>| URL_SAFE_NO_PAD.encode(v);
        let mut jws = part(serde_json::to_vec(&header)?);
        jws.push('.');
        jws.push_str(&part(serde_json::to_vec(claims)?));
        let signature = self.signature(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&part(signature));
        Ok(jws)
    }

    /// The signature over a JWS signing input. Never inlined: the instruction budgets
    /// (`bench/budgets.sh`) leave exactly this call out of the paths they count.
    #[inline(never)]
    fn signature(&self, input: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(match &self.pair {
            KeyPair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, input, &mut sig)?;
                sig
            }
            KeyPair::Ec(k) => k.sign(&self.rng, input)?.as_ref().to_vec(),
            KeyPair::Ed(k) => k.sign(input).as_ref().to_vec(),
        })
    }
}

static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The keys in use: the newest active key per algorithm signs; every published key verifies.
pub struct Keyring {
    signing: HashMap<SigningAlg, SigningKey>,
    verifying: HashMap<String, (SigningAlg, DecodingKey)>,
    /// The JWKS document, serialised once per load.
    jwks: Arc<Vec<u8>>,
    /// Unique per keyring built: remembered verifications (see `tokens::VerifiedAccessTokens`)
    /// belong to the keyring they were made with.
    generation: u64,
    /// Which stored keys this keyring holds, and which of them sign (see [`choose`]).
    selection: Vec<(String, bool)>,
}

/// The stored keys a keyring built now holds, newest first: every key of a known algorithm
/// that is active or was retired less than `publish_for` seconds ago, with its algorithm and
/// whether it signs (the newest active key of its algorithm does).
fn choose(stored: &[StoredKey], publish_for: i64, now: i64) -> Vec<(&StoredKey, SigningAlg, bool)> {
    let mut signing = HashSet::new();
    stored
        .iter()
        .filter_map(|k| {
            let alg = SigningAlg::parse(&k.alg)?;
            if k.retired_at.is_some_and(|r| r + publish_for < now) {
                return None;
            }
            Some((k, alg, k.retired_at.is_none() && signing.insert(alg)))
        })
        .collect()
}

/// What [`choose`] picked, as kids and whether each signs: equal selections give equal keyrings.
fn selection(chosen: &[(&StoredKey, SigningAlg, bool)]) -> Vec<(String, bool)> {
    chosen
        .iter()
        .map(|(k, _, signs)| (k.kid.clone(), *signs))
        .collect()
}

impl Keyring {
    /// Loads keys from the database, creating the missing ones (first start).
    /// `publish_for` is how long a retired key stays published.
    pub fn load_or_create(idp: &Idp, publish_for: i64) -> Result<Self, KeyError> {
        let stored = idp.signing_keys()?;
        let missing: Vec<SigningAlg> = SigningAlg::ALL
            .into_iter()
            .filter(|a| {
                !stored
                    .iter()
                    .any(|k| k.alg == a.as_str() && k.retired_at.is_none())
            })
            .collect();
        for alg in &missing {
            let key = generate(*alg, idp.secrets(), idp.now())?;
            idp.add_signing_key(&key, false, &Actor::System)?;
            tracing::info!(kid = %key.kid, alg = alg.as_str(), "generated signing key");
        }
        let stored = if missing.is_empty() {
            stored
        } else {
            idp.signing_keys()?
        };
        Self::from_stored(idp, &stored, publish_for)
    }

    fn from_stored(idp: &Idp, stored: &[StoredKey], publish_for: i64) -> Result<Self, KeyError> {
        let chosen = choose(stored, publish_for, idp.now());
        let mut signing = HashMap::new();
        let mut verifying = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for &(k, alg, signs) in &chosen {
            let broken = |source: KeyMaterialError| KeyError::Broken {
                kid: k.kid.clone(),
                source,
            };
            let jwk: Jwk = serde_json::from_str(&k.public_jwk).map_err(|e| broken(e.into()))?;
            let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| broken(e.into()))?;
            verifying.insert(k.kid.clone(), (alg, decoding));
            jwks.keys.push(jwk);
            if signs {
                let pkcs8 = idp
                    .secrets()
                    .open(&k.private_sealed, &idp_core::keys::signing_key_aad(&k.kid))?;
                signing.insert(
                    alg,
                    SigningKey::from_pkcs8(&k.kid, alg, &pkcs8).map_err(broken)?,
                );
            }
        }
        if !signing.contains_key(&SigningAlg::Rs256) {
            return Err(KeyError::Missing("RS256"));
        }
        let jwks = serde_json::to_vec(&jwks).map_err(KeyError::Jwks)?;
        Ok(Keyring {
            signing,
            verifying,
            jwks: Arc::new(jwks),
            generation: NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            selection: selection(&chosen),
        })
    }

    pub fn jwks_bytes(&self) -> Arc<Vec<u8>> {
        self.jwks.clone()
    }

    pub fn signer(&self, alg: SigningAlg) -> Option<&SigningKey> {
        self.signing.get(&alg)
    }

    /// Which keyring this is (a reload that changed nothing keeps the keyring, and with it the
    /// generation).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn verifier(&self, kid: &str) -> Option<(SigningAlg, &DecodingKey)> {
        self.verifying.get(kid).map(|(a, k)| (*a, k))
    }
}

/// Rotation: new keys for every algorithm; the old ones are retired (still published).
pub fn rotate(idp: &Idp, actor: &Actor) -> Result<Vec<String>, KeyError> {
    let mut kids = Vec::new();
    for alg in SigningAlg::ALL {
        let key = generate(alg, idp.secrets(), idp.now())?;
        idp.add_signing_key(&key, true, actor)?;
        kids.push(key.kid);
    }
    Ok(kids)
}

/// The keyring shared by the workers, reloaded from the database now and then so a rotation
/// done by the CLI or another replica is picked up.
pub type SharedKeyring = Arc<RwLock<Arc<Keyring>>>;

pub fn reload(idp: &Idp, shared: &SharedKeyring, publish_for: i64) -> Result<(), KeyError> {
    let stored = idp.signing_keys()?;
    // Nothing rotated or expired since the last load: keep the keyring (its parsed keys and the
    // access tokens it has verified).
    let unchanged = current(shared)
        .is_some_and(|k| k.selection == selection(&choose(&stored, publish_for, idp.now())));
    if unchanged {
        return Ok(());
    }
    let fresh = Keyring::from_stored(idp, &stored, publish_for)?;
    if let Ok(mut guard) = shared.write() {
        *guard = Arc::new(fresh);
    }
    Ok(())
}

pub fn current(shared: &SharedKeyring) -> Option<Arc<Keyring>> {
    shared.read().ok().map(|g| g.clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A provider core on a throwaway in-memory database, for keyring tests.
    pub(crate) fn test_idp() -> Idp {
        let store = idp_core::Store::open("sqlite::memory:", idp_core::PoolOptions::default())
            .expect("store");
        store.migrate().expect("migrate");
        Idp::new(
            store,
            idp_core::SecretBox::new(&[7u8; 32], &[]),
            idp_core::Settings::default(),
            Arc::new(idp_core::SystemClock),
        )
        .expect("idp")
    }

    #[test]
    fn reload_keeps_an_unchanged_keyring_and_replaces_a_rotated_one() {
        let idp = test_idp();
        let first = Keyring::load_or_create(&idp, 600).expect("keys");
        let shared: SharedKeyring = Arc::new(RwLock::new(Arc::new(first)));
        let before = current(&shared).expect("keyring");
        reload(&idp, &shared, 600).expect("reload");
        assert!(
            Arc::ptr_eq(&before, &current(&shared).expect("keyring")),
            "nothing changed: same keyring"
        );
        let new_kids = rotate(&idp, &Actor::System).expect("rotate");
        reload(&idp, &shared, 600).expect("reload");
        let after = current(&shared).expect("keyring");
        assert!(!Arc::ptr_eq(&before, &after));
        let signing: Vec<&String> = after
            .selection
            .iter()
            .filter(|(_, signs)| *signs)
            .map(|(kid, _)| kid)
            .collect();
        assert_eq!(signing.len(), new_kids.len());
        assert!(signing.iter().all(|kid| new_kids.contains(kid)));
        assert_eq!(
            after.selection.len(),
            2 * new_kids.len(),
            "old keys still verify"
        );
        // Once the retired keys are past their publication window, they are dropped.
        reload(&idp, &shared, -1).expect("reload");
        assert_eq!(
            current(&shared).expect("keyring").selection.len(),
            new_kids.len()
        );
    }

    /// Our compact JWS equals jsonwebtoken's for the deterministic algorithms (RS256 with
    /// PKCS#1 v1.5, EdDSA) and verifies with jsonwebtoken against the published JWK for all
    /// three; a changed payload does not.
    #[test]
    fn signed_tokens_match_jsonwebtoken_and_verify_against_the_jwk() {
        let claims = serde_json::json!({
            "iss": "https://id.example.com", "sub": "u1", "aud": "app",
            "exp": 4_102_444_800_i64, "iat": 1_700_000_000_i64,
        });
        for alg in SigningAlg::ALL {
            let pkcs8 = new_pkcs8(alg).expect("key");
            let key = SigningKey::from_pkcs8("kid-1", alg, &pkcs8).expect("parse");
            let token = key.sign_jwt("JWT", &claims).expect("sign");

            let encoding = encoding_key(alg, &pkcs8).expect("encoding key");
            let mut header = jsonwebtoken::Header::new(alg.jwt());
            header.kid = Some("kid-1".into());
            header.typ = Some("JWT".into());
            let reference = jsonwebtoken::encode(&header, &claims, &encoding).expect("reference");
            if alg != SigningAlg::Es256 {
                assert_eq!(token, reference, "{alg:?}");
            }

            let jwk = public_jwk(&encoding, alg, "kid-1").expect("jwk");
            let decoding = DecodingKey::from_jwk(&jwk).expect("decoding key");
            let mut validation = jsonwebtoken::Validation::new(alg.jwt());
            validation.set_audience(&["app"]);
            validation.set_issuer(&["https://id.example.com"]);
            let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(data.claims, claims);
            assert_eq!(data.header.kid.as_deref(), Some("kid-1"));

            let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
            parts[1] = URL_SAFE_NO_PAD.encode(
                br#"{"iss":"https://id.example.com","sub":"admin","aud":"app","exp":4102444800}"#,
            );
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&parts.join("."), &decoding, &validation)
                    .is_err(),
                "{alg:?}: a changed payload must not verify"
            );
        }
    }
}
