//! What the import remembers of the credentials it brought (`store::import_marks`): a keyed MAC
//! of each, so that a line bringing the same again is no change, while whoever reads the table
//! (a dump, a backup) can neither confirm a guessed or leaked TOTP secret or password hash
//! against it nor see that two users share one. A bare SHA-256 allowed both; the secrets
//! themselves are sealed with the master key, and their marks now need a key as well.
//!
//! The key is random, made once and kept in `sealed_secrets`, sealed with the master key; not
//! derived from the master key, because a mark cannot be recomputed without the credential it
//! stands for: a key that changed with a master-key rotation would leave every mark unreadable,
//! and a file run again would link a lost phone's secret over the app linked since. `keys
//! reseal` re-encrypts the key with the rest, so marks keep their meaning across rotations.
//!
//! The MAC covers the SHA-256 of the credential (bound to the user and the field), so the bare
//! digests an earlier version wrote can be rewritten as MACs without the credentials: each still
//! counts as read, and an import that is not a dry run rewrites them all before it starts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::line::{ImportError, Prepared};
use crate::crypto::{hmac_sha256, random_bytes};
use crate::store::import_marks::{self, Mark};
use crate::store::{sealed_secrets, StoreError};
use crate::Idp;

/// What a mark of this version starts with (a bare digest, base64url, never holds a `.`).
const FORM: &str = "m1.";
/// Marks rewritten per transaction.
const REWRITE_BATCH: usize = 500;

/// The key the marks are MACs under.
pub(super) struct MarkKey([u8; 32]);

/// Which credential a mark stands for (part of what the MAC covers: a secret's mark cannot pass
/// for a hash's).
#[derive(Clone, Copy)]
enum Field {
    PasswordHash,
    TotpSecret,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::PasswordHash => b"password_hash",
            Field::TotpSecret => b"totp_secret",
        }
    }
}

impl MarkKey {
    /// The mark of a credential: `m1.` and the MAC of its SHA-256, bound to the user and field.
    fn mark(&self, user_id: &str, field: Field, credential: &[u8]) -> String {
        self.mark_of_digest(user_id, field, &Sha256::digest(credential))
    }

    fn mark_of_digest(&self, user_id: &str, field: Field, digest: &[u8]) -> String {
        let mac = hmac_sha256(
            &self.0,
            &[
                b"idp import mark v1",
                field.label(),
                user_id.as_bytes(),
                digest,
            ],
        );
        format!("{FORM}{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// A stored value in this version's form: as it is, or the MAC of the bare digest an
    /// earlier version wrote (`None` for a value that is neither, which then counts as no mark).
    fn current(&self, user_id: &str, field: Field, stored: Option<&str>) -> Option<String> {
        let stored = stored?;
        if stored.starts_with(FORM) {
            return Some(stored.to_string());
        }
        let digest = URL_SAFE_NO_PAD.decode(stored).ok()?;
        (digest.len() == 32).then(|| self.mark_of_digest(user_id, field, &digest))
    }

    /// A mark as read from the table, in this version's form.
    pub(super) fn read(&self, stored: &Mark) -> Mark {
        Mark {
            user_id: stored.user_id.clone(),
            password_hash_mark: self.current(
                &stored.user_id,
                Field::PasswordHash,
                stored.password_hash_mark.as_deref(),
            ),
            totp_secret_mark: self.current(
                &stored.user_id,
                Field::TotpSecret,
                stored.totp_secret_mark.as_deref(),
            ),
        }
    }

    /// What importing this line leaves remembered: the marks of the credentials it brings, the
    /// ones `before` remembered for those it does not.
    pub(super) fn mark_of(&self, p: &Prepared, before: &Mark) -> Mark {
        let id = &p.user.id;
        Mark {
            user_id: id.clone(),
            password_hash_mark: p
                .user
                .password_hash
                .as_deref()
                .map(|h| self.mark(id, Field::PasswordHash, h.as_bytes()))
                .or_else(|| before.password_hash_mark.clone()),
            totp_secret_mark: p
                .totp
                .as_deref()
                .map(|s| self.mark(id, Field::TotpSecret, s))
                .or_else(|| before.totp_secret_mark.clone()),
        }
    }
}

impl Idp {
    /// The marks' key: the stored one, or (`create`, not in a dry run) a new one stored now. A
    /// dry run without a stored key gets a key for this run only: no stored mark can be a MAC
    /// under a key that does not exist, so the earlier digests it reads compare the same.
    pub(super) fn mark_key(&self, create: bool) -> Result<MarkKey, ImportError> {
        let name = sealed_secrets::IMPORT_MARKS;
        let aad = sealed_secrets::aad(name);
        let open = |sealed: &str| -> Result<MarkKey, ImportError> {
            let key = self.secrets().open(sealed, &aad)?;
            let key = key
                .try_into()
                .map_err(|_| StoreError::Corrupt("the import-mark key is not 32 bytes".into()))?;
            Ok(MarkKey(key))
        };
        let mut conn = self.store().conn()?;
        if let Some(sealed) = sealed_secrets::get(&mut conn, name)? {
            return open(&sealed);
        }
        let fresh = random_bytes::<32>()?;
        if !create {
            return Ok(MarkKey(fresh));
        }
        let sealed = self.secrets().seal(&fresh, &aad)?;
        sealed_secrets::insert_if_absent(&mut conn, name, &sealed, self.now())?;
        // Another import may have stored its key first: everyone uses the one stored.
        let stored = sealed_secrets::get(&mut conn, name)?
            .ok_or_else(|| StoreError::Corrupt("the import-mark key was not stored".into()))?;
        open(&stored)
    }

    /// Rewrites the marks an earlier version wrote (bare digests) as MACs, so none is left in
    /// the table once an import has run: how many rows it rewrote.
    pub(super) fn rewrite_earlier_marks(&self, key: &MarkKey) -> Result<usize, ImportError> {
        let earlier = import_marks::not_in_form(&mut *self.store().conn()?, FORM)?;
        for chunk in earlier.chunks(REWRITE_BATCH) {
            self.store().tx(|conn| {
                for old in chunk {
                    import_marks::rewrite(conn, old, &key.read(old))?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(earlier.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_digest_reads_as_the_mac_of_the_same_credential() {
        let key = MarkKey([9u8; 32]);
        let secret = b"sixteen byte key";
        let digest = crate::crypto::sha256_b64url(secret);
        let new = key.mark("u1", Field::TotpSecret, secret);
        assert!(new.starts_with(FORM) && !new.contains(&digest));
        assert_eq!(
            key.current("u1", Field::TotpSecret, Some(&digest)),
            Some(new.clone())
        );
        assert_eq!(key.current("u1", Field::TotpSecret, Some(&new)), Some(new));
        assert_eq!(key.current("u1", Field::TotpSecret, Some("junk!")), None);
        // Bound to the user, the field and the key.
        assert_ne!(
            key.mark("u2", Field::TotpSecret, secret),
            key.mark("u1", Field::TotpSecret, secret)
        );
        assert_ne!(
            key.mark("u1", Field::PasswordHash, secret),
            key.mark("u1", Field::TotpSecret, secret)
        );
        assert_ne!(
            MarkKey([8u8; 32]).mark("u1", Field::TotpSecret, secret),
            key.mark("u1", Field::TotpSecret, secret)
        );
    }
}
