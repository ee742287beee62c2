//! Storage of the token-signing keys (kept in the database so every replica signs with, and
//! publishes, the same keys) and master-key rotation. Generating keys and signing belong to the
//! server; this module only keeps them.

use crate::crypto::CryptoError;
use crate::model::{Actor, AuditAction, AuditEvent};
use crate::store::{audit, flows, sealed_secrets, signing_keys, totp, StoreError};
use crate::Idp;

pub use crate::store::signing_keys::{aad as signing_key_aad, StoredKey};

/// What a master-key rotation re-encrypted.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Resealed {
    /// Linked apps' and pending enrollment secrets.
    pub totp_secrets: usize,
    /// Private signing keys.
    pub signing_keys: usize,
    /// The provider's own secrets (the key of the import's marks).
    pub server_secrets: usize,
}

/// Why a reseal stopped.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    /// A secret would not open: the previous master key is missing or wrong.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    /// The database failed, or could not be reached.
    Store(#[from] StoreError),
}

impl Idp {
    /// The signing keys, newest first.
    pub fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        signing_keys::all(&mut *self.store().conn()?)
    }

    /// Adds a key; with `retire_others`, the current keys of the same algorithm are retired.
    pub fn add_signing_key(
        &self,
        key: &StoredKey,
        retire_others: bool,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let now = self.now();
        self.store().tx(|conn| {
            if retire_others {
                signing_keys::retire_current(conn, &key.alg, now)?;
            }
            signing_keys::insert(conn, key)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::SigningKeyRotated, actor)
                    .detail(format!("kid={} alg={}", key.kid, key.alg)),
            )
        })
    }

    /// Deletes keys retired before `cutoff` (their tokens have all expired).
    pub fn drop_retired_keys(&self, cutoff: i64) -> Result<usize, StoreError> {
        signing_keys::drop_retired(&mut *self.store().conn()?, cutoff)
    }

    /// Re-encrypts every sealed secret (linked and pending TOTP secrets, private signing keys,
    /// the provider's own secrets) with the current master key. Run after starting with a new
    /// `IDP_MASTER_KEY` and the old one in `IDP_MASTER_KEY_PREVIOUS`; afterwards the old key is
    /// no longer needed. Each row is replaced only if it still holds what was read, so a
    /// concurrent change is never lost.
    pub fn reseal_secrets(&self, actor: &Actor) -> Result<Resealed, ResealError> {
        let mut report = Resealed::default();
        let mut conn = self.store().conn()?;
        for app in totp::all_sealed(&mut conn)? {
            let sealed = &app.secret_sealed;
            if let Some(fresh) = self.resealed(sealed, &totp::linked_aad(&app.user_id))? {
                report.totp_secrets += totp::reseal(&mut conn, &app.user_id, sealed, &fresh)?;
            }
        }
        for p in flows::all_pending(&mut conn)? {
            let aad = flows::pending_aad(&p.user_id, &p.flow_id);
            if let Some(fresh) = self.resealed(&p.sealed, &aad)? {
                report.totp_secrets +=
                    flows::reseal_pending(&mut conn, &p.flow_id, &p.sealed, &fresh)?;
            }
        }
        // The import-mark key is random, not derived from the master key: resealed here, it
        // keeps every mark meaningful (see `import::marks`).
        for secret in sealed_secrets::all(&mut conn)? {
            let sealed = &secret.secret_sealed;
            if let Some(fresh) = self.resealed(sealed, &sealed_secrets::aad(&secret.name))? {
                report.server_secrets +=
                    sealed_secrets::reseal(&mut conn, &secret.name, sealed, &fresh)?;
            }
        }
        for key in signing_keys::all(&mut conn)? {
            let sealed = &key.private_sealed;
            if let Some(fresh) = self.resealed(sealed, &signing_keys::aad(&key.kid))? {
                report.signing_keys += signing_keys::reseal(&mut conn, &key.kid, sealed, &fresh)?;
            }
        }
        drop(conn);
        self.audit(
            &AuditEvent::new(AuditAction::MasterKeyRotated, actor).detail(format!(
                "totp={} signing_keys={} server_secrets={}",
                report.totp_secrets, report.signing_keys, report.server_secrets
            )),
        )?;
        Ok(report)
    }

    /// `sealed` under the current master key, or `None` when it already is.
    fn resealed(&self, sealed: &str, aad: &str) -> Result<Option<String>, CryptoError> {
        if self.secrets().is_current(sealed) {
            return Ok(None);
        }
        let plain = self.secrets().open(sealed, aad)?;
        Ok(Some(self.secrets().seal(&plain, aad)?))
    }
}
