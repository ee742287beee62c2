//! Storage of the token-signing keys: private halves sealed with the master key, public halves
//! as JWK JSON. Kept in the database so every replica signs with, and publishes, the same keys.
//! Generating keys and signing belong to the server; this module only keeps them.

use diesel::prelude::*;

use crate::audit::{self, Actor, AuditAction, AuditEvent};
use crate::store::schema::signing_keys as sk;
use crate::store::StoreError;
use crate::Idp;

#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// Sealed private key (see `SecretBox`), bound to the kid.
    pub private_sealed: String,
    pub public_jwk: String,
    pub created_at: i64,
    /// Set when a newer key took over; the key stays published until its tokens have expired.
    pub retired_at: Option<i64>,
}

impl Idp {
    pub fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let mut conn = self.store().conn()?;
        let rows: Vec<(String, String, String, String, i64, Option<i64>)> = sk::table
            .order(sk::created_at.desc())
            .select((
                sk::kid,
                sk::alg,
                sk::private_sealed,
                sk::public_jwk,
                sk::created_at,
                sk::retired_at,
            ))
            .load(&mut conn)?;
        Ok(rows
            .into_iter()
            .map(
                |(kid, alg, private_sealed, public_jwk, created_at, retired_at)| StoredKey {
                    kid,
                    alg,
                    private_sealed,
                    public_jwk,
                    created_at,
                    retired_at,
                },
            )
            .collect())
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
                diesel::update(
                    sk::table
                        .filter(sk::alg.eq(&key.alg))
                        .filter(sk::retired_at.is_null()),
                )
                .set(sk::retired_at.eq(Some(now)))
                .execute(conn)?;
            }
            diesel::insert_into(sk::table)
                .values((
                    sk::kid.eq(&key.kid),
                    sk::alg.eq(&key.alg),
                    sk::private_sealed.eq(&key.private_sealed),
                    sk::public_jwk.eq(&key.public_jwk),
                    sk::created_at.eq(key.created_at),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                now,
                &AuditEvent::new(AuditAction::SigningKeyRotated, actor)
                    .detail(format!("kid={} alg={}", key.kid, key.alg)),
            )?;
            Ok(())
        })
    }

    /// Deletes keys retired before `cutoff` (their tokens have all expired).
    pub fn drop_retired_keys(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut conn = self.store().conn()?;
        Ok(diesel::delete(sk::table.filter(sk::retired_at.lt(cutoff))).execute(&mut conn)?)
    }
}

/// Associated data binding a sealed private key to its kid.
pub fn signing_key_aad(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// What a master-key rotation re-encrypted.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Resealed {
    pub totp_secrets: usize,
    pub signing_keys: usize,
}

impl Idp {
    /// Re-encrypts every sealed secret (TOTP secrets, private signing keys) with the current
    /// master key. Run after starting with a new `IDP_MASTER_KEY` and the old one in
    /// `IDP_MASTER_KEY_PREVIOUS`; afterwards the old key is no longer needed. Each row is
    /// replaced only if it still holds what was read, so a concurrent change is never lost.
    pub fn reseal_secrets(&self, actor: &Actor) -> Result<Resealed, crate::mfa::MfaError> {
        use crate::store::schema::totp_credentials as tc;
        let mut report = Resealed::default();
        let rows: Vec<(String, String)> = {
            let mut conn = self.store().conn()?;
            tc::table
                .select((tc::user_id, tc::secret_sealed))
                .load(&mut conn)
                .map_err(StoreError::from)?
        };
        for (user_id, sealed) in rows {
            if self.secrets().is_current(&sealed) {
                continue;
            }
            let aad = crate::mfa::linked_aad(&user_id);
            let plain = self.secrets().open(&sealed, &aad)?;
            let fresh = self.secrets().seal(&plain, &aad)?;
            let mut conn = self.store().conn()?;
            report.totp_secrets += diesel::update(
                tc::table
                    .find(&user_id)
                    .filter(tc::secret_sealed.eq(&sealed)),
            )
            .set(tc::secret_sealed.eq(&fresh))
            .execute(&mut conn)
            .map_err(StoreError::from)?;
        }
        // Pending enrollment secrets live in their login flows (minutes), bound to the flow.
        {
            use crate::store::schema::login_flows as lf;
            let pending: Vec<(String, Option<String>, Option<String>)> = {
                let mut conn = self.store().conn()?;
                lf::table
                    .filter(lf::pending_totp_sealed.is_not_null())
                    .select((lf::id_hash, lf::user_id, lf::pending_totp_sealed))
                    .load(&mut conn)
                    .map_err(StoreError::from)?
            };
            for (flow_id, user_id, sealed) in pending {
                let (Some(user_id), Some(sealed)) = (user_id, sealed) else {
                    continue;
                };
                if self.secrets().is_current(&sealed) {
                    continue;
                }
                let aad = crate::mfa::pending_aad(&user_id, &flow_id);
                let plain = self.secrets().open(&sealed, &aad)?;
                let fresh = self.secrets().seal(&plain, &aad)?;
                let mut conn = self.store().conn()?;
                report.totp_secrets += diesel::update(
                    lf::table
                        .find(&flow_id)
                        .filter(lf::pending_totp_sealed.eq(&sealed)),
                )
                .set(lf::pending_totp_sealed.eq(Some(&fresh)))
                .execute(&mut conn)
                .map_err(StoreError::from)?;
            }
        }
        for key in self.signing_keys()? {
            if self.secrets().is_current(&key.private_sealed) {
                continue;
            }
            let aad = signing_key_aad(&key.kid);
            let plain = self.secrets().open(&key.private_sealed, &aad)?;
            let fresh = self.secrets().seal(&plain, &aad)?;
            let mut conn = self.store().conn()?;
            report.signing_keys += diesel::update(
                sk::table
                    .find(&key.kid)
                    .filter(sk::private_sealed.eq(&key.private_sealed)),
            )
            .set(sk::private_sealed.eq(&fresh))
            .execute(&mut conn)
            .map_err(StoreError::from)?;
        }
        self.audit(
            &AuditEvent::new(AuditAction::MasterKeyRotated, actor).detail(format!(
                "totp={} signing_keys={}",
                report.totp_secrets, report.signing_keys
            )),
        )?;
        Ok(report)
    }
}
