//! Master-key rotation: every sealed secret (linked apps, pending enrollment secrets, signing
//! keys) is re-encrypted with the new key.

use super::*;
use crate::mfa::MfaError;
use crate::testing::cheap_settings;

fn master_key_rotation_reseals_everything(db: &TestDb) {
    let u = user(db, "acme", "ann@example.com");
    require_mfa(db, "acme");
    let secret = enroll(db, &u);
    // Someone else is in the middle of linking their app.
    let bob = user(db, "acme", "bob@example.com");
    let flow = enrollment_flow(db, &bob);
    let shown = db.idp.begin_enrollment(&bob, &flow).unwrap();
    // A second Idp with a new primary key and the old one for reading.
    let with_keys = |primary: u8, previous: &[[u8; 32]]| {
        let store = crate::Store::open(&db.url, crate::PoolOptions::default()).unwrap();
        crate::Idp::new(
            store,
            crate::SecretBox::new(&[primary; 32], previous),
            cheap_settings(),
            db.clock.clone(),
        )
        .unwrap()
    };
    let rotated = with_keys(6, &[[5u8; 32]]);
    let report = rotated.reseal_secrets(&op()).unwrap();
    assert_eq!(
        report.totp_secrets, 2,
        "the linked app and the pending secret"
    );
    assert_eq!(
        rotated.reseal_secrets(&op()).unwrap().totp_secrets,
        0,
        "idempotent"
    );
    // The new key alone now opens everything: codes still verify, the enrollment completes.
    let only_new = with_keys(6, &[]);
    db.clock.advance(30);
    only_new
        .verify_totp(&u, &oathtool(&secret, only_new.now()), None)
        .unwrap();
    assert_eq!(
        only_new
            .begin_enrollment(&bob, &flow)
            .unwrap()
            .activation_code,
        shown.activation_code
    );
    only_new
        .confirm_enrollment(
            &bob,
            &flow,
            &oathtool(&shown.activation_code, only_new.now()),
            None,
            None,
        )
        .unwrap();
    // And the old key alone no longer does.
    db.clock.advance(30);
    assert!(matches!(
        db.idp
            .verify_totp(&u, &oathtool(&secret, db.idp.now()), None),
        Err(MfaError::Crypto(_))
    ));
}

/// Rotation retires the current key of the algorithm; retired keys are deleted only once
/// retired before the cutoff, the active one never.
fn retired_signing_keys_are_dropped_after_the_cutoff(db: &TestDb) {
    let key = |kid: &str| crate::keys::StoredKey {
        kid: kid.into(),
        alg: "RS256".into(),
        private_sealed: "sealed".into(),
        public_jwk: "{}".into(),
        created_at: db.idp.now(),
        retired_at: None,
    };
    db.idp.add_signing_key(&key("k1"), true, &op()).unwrap();
    db.clock.advance(100);
    db.idp.add_signing_key(&key("k2"), true, &op()).unwrap();
    let retired_at = db.idp.now();
    let kids = || -> Vec<(String, Option<i64>)> {
        let mut k: Vec<_> = db
            .idp
            .signing_keys()
            .unwrap()
            .into_iter()
            .map(|k| (k.kid, k.retired_at))
            .collect();
        k.sort();
        k
    };
    assert_eq!(
        kids(),
        vec![("k1".into(), Some(retired_at)), ("k2".into(), None)]
    );
    assert_eq!(db.idp.drop_retired_keys(retired_at).unwrap(), 0);
    assert_eq!(db.idp.drop_retired_keys(retired_at + 1).unwrap(), 1);
    assert_eq!(kids(), vec![("k2".into(), None)]);
    assert_eq!(
        db.idp.drop_retired_keys(i64::MAX).unwrap(),
        0,
        "never the active key"
    );
}

crate::on_both_backends!(
    master_key_rotation_reseals_everything,
    retired_signing_keys_are_dropped_after_the_cutoff,
);
