//! What the import remembers of the credentials it brought (`import_marks`) is a keyed MAC,
//! not a bare SHA-256: whoever reads the table (a dump, a backup) cannot confirm a guessed or
//! leaked TOTP secret or password hash against it, nor see that two users share one. The marks
//! keep their meaning across a master-key rotation, and those of an earlier version (bare
//! digests) still count until the next import rewrites them.

use super::*;
use crate::crypto::sha256_b64url;
use crate::import::{ImportOptions, ImportReport, ImportScope};
use crate::mfa::MfaError;
use crate::store::import_marks::{self, Mark};
use crate::testing::cheap_settings;

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const BCRYPT: &str = "$2b$04$AwMDAwMDAwMDAwMDAwMDA.5FYq6hy0w6VUgyEOAc9CLMlYVtXhLey";

fn import(idp: &crate::Idp, text: &str, update: bool) -> ImportReport {
    idp.import_users(
        text.as_bytes(),
        ImportOptions {
            update,
            ..ImportOptions::default()
        },
        &ImportScope::Account("acme".into()),
        &mut |_| {},
        &op(),
    )
    .unwrap()
}

/// An 8 MiB argon2 budget, for the bcrypt hash of cost 4 above (see `tests::legacy_hashes`).
fn importer(db: &TestDb, keys: (u8, &[[u8; 32]])) -> crate::Idp {
    let store = crate::Store::open(&db.url, crate::PoolOptions::default()).unwrap();
    crate::Idp::new(
        store,
        crate::SecretBox::new(&[keys.0; 32], keys.1),
        crate::Settings {
            argon2: crate::Argon2Params {
                memory_kib: 8192,
                iterations: 1,
                parallelism: 1,
            },
            ..cheap_settings()
        },
        db.clock.clone(),
    )
    .unwrap()
}

fn line(email: &str, secret: &str) -> String {
    serde_json::json!({"account": "acme", "email": email, "password_hash": BCRYPT, "totp_secret": secret})
        .to_string()
}

/// (password hash mark, TOTP secret mark) as stored.
fn marks(db: &TestDb, user_id: &str) -> (String, String) {
    let mut conn = db.idp.store().conn().unwrap();
    let m = import_marks::of_many(&mut conn, &[user_id])
        .unwrap()
        .remove(user_id)
        .unwrap();
    (m.password_hash_mark.unwrap(), m.totp_secret_mark.unwrap())
}

fn secret_bytes() -> Vec<u8> {
    crate::mfa::base32_decode(SECRET).unwrap()
}

fn the_marks_are_keyed_not_bare_digests(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    let idp = importer(db, (5, &[]));
    let file = [
        line("ann@example.com", SECRET),
        line("bob@example.com", SECRET),
    ]
    .join("\n");
    assert_eq!(import(&idp, &file, false).created, 2);
    let ann = db.idp.user_by_email("ann@example.com").unwrap();
    let bob = db.idp.user_by_email("bob@example.com").unwrap();
    let (hash_mark, secret_mark) = marks(db, &ann.id);
    assert_ne!(secret_mark, sha256_b64url(&secret_bytes()));
    assert_ne!(hash_mark, sha256_b64url(BCRYPT.as_bytes()));
    assert!(
        !secret_mark.contains(&sha256_b64url(&secret_bytes())),
        "{secret_mark}"
    );
    // Bound to the user: the same secret does not show as the same mark.
    assert_ne!(marks(db, &bob.id).1, secret_mark);
    // And still a mark: the same line again is no change.
    assert_eq!(
        import(&idp, &line("ann@example.com", SECRET), true).skipped,
        1
    );
}

/// The lost-phone case across a master-key rotation: after `keys reseal` and with the old key
/// gone, the file run again with `--update` still knows the secret it brought last time and
/// does not link the lost phone's secret over the app linked since.
fn the_marks_keep_their_meaning_across_a_master_key_rotation(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    require_mfa(db, "acme");
    let first = importer(db, (5, &[]));
    assert_eq!(
        import(&first, &line("ann@example.com", SECRET), false).created,
        1
    );
    let ann = db.idp.user_by_email("ann@example.com").unwrap();
    db.idp
        .disconnect_mfa(&ann, &op(), "T-1 lost phone")
        .unwrap();
    let new_phone = enroll(db, &ann);
    let rotated = importer(db, (6, &[[5u8; 32]]));
    rotated.reseal_secrets(&op()).unwrap();
    let only_new = importer(db, (6, &[]));
    let r = import(&only_new, &line("ann@example.com", SECRET), true);
    assert_eq!((r.updated, r.skipped), (0, 1), "{:?}", r.failed);
    db.clock.advance(30);
    assert!(only_new
        .verify_totp(&ann, &oathtool(&new_phone, db.idp.now()), None)
        .is_ok());
    db.clock.advance(30);
    assert!(matches!(
        only_new.verify_totp(&ann, &oathtool(SECRET, db.idp.now()), None),
        Err(MfaError::InvalidCode)
    ));
}

/// Marks written by an earlier version (bare SHA-256) still count: the same line again is no
/// change even though the user linked another app since; a dry run leaves them as they are,
/// and a real run rewrites them as MACs.
fn marks_of_an_earlier_version_still_count_and_are_rewritten(db: &TestDb) {
    db.idp.create_account("acme", "Acme", &op()).unwrap();
    require_mfa(db, "acme");
    let idp = importer(db, (5, &[]));
    assert_eq!(
        import(&idp, &line("ann@example.com", SECRET), false).created,
        1
    );
    let ann = db.idp.user_by_email("ann@example.com").unwrap();
    let bare = (
        sha256_b64url(BCRYPT.as_bytes()),
        sha256_b64url(&secret_bytes()),
    );
    let mut conn = db.idp.store().conn().unwrap();
    import_marks::put(
        &mut conn,
        &Mark {
            user_id: ann.id.clone(),
            password_hash_mark: Some(bare.0.clone()),
            totp_secret_mark: Some(bare.1.clone()),
        },
    )
    .unwrap();
    drop(conn);
    db.idp
        .disconnect_mfa(&ann, &op(), "T-1 lost phone")
        .unwrap();
    let new_phone = enroll(db, &ann);
    let dry = idp
        .import_users(
            line("ann@example.com", SECRET).as_bytes(),
            ImportOptions {
                update: true,
                dry_run: true,
                ..ImportOptions::default()
            },
            &ImportScope::Account("acme".into()),
            &mut |_| {},
            &op(),
        )
        .unwrap();
    assert_eq!((dry.updated, dry.skipped), (0, 1), "{:?}", dry.failed);
    assert_eq!(marks(db, &ann.id), bare, "a dry run stores nothing");
    let r = import(&idp, &line("ann@example.com", SECRET), true);
    assert_eq!((r.updated, r.skipped), (0, 1), "{:?}", r.failed);
    let now = marks(db, &ann.id);
    assert!(now.0 != bare.0 && now.1 != bare.1, "rewritten: {now:?}");
    db.clock.advance(30);
    assert!(db
        .idp
        .verify_totp(&ann, &oathtool(&new_phone, db.idp.now()), None)
        .is_ok());
    // The rewritten marks are the ones this version writes: the same line is still no change.
    let again = import(&idp, &line("ann@example.com", SECRET), true);
    assert_eq!((again.updated, again.skipped), (0, 1));
}

crate::on_both_backends!(
    the_marks_are_keyed_not_bare_digests,
    the_marks_keep_their_meaning_across_a_master_key_rotation,
    marks_of_an_earlier_version_still_count_and_are_rewritten,
);
