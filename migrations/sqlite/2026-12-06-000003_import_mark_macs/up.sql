-- The import's marks become keyed MACs (HMAC-SHA256 under a key of their own, sealed with the
-- master key, in sealed_secrets) instead of bare SHA-256 digests: a digest of a TOTP secret let
-- whoever read the table confirm a guessed or leaked secret. The columns are renamed for what
-- they now hold; marks already there (bare digests) still count, and the next import that is
-- not a dry run rewrites them as MACs (idp-core/src/import/marks.rs).
ALTER TABLE import_marks RENAME COLUMN password_hash_sha256 TO password_hash_mark;
ALTER TABLE import_marks RENAME COLUMN totp_secret_sha256 TO totp_secret_mark;

-- Secrets of the provider itself, sealed with the master key and bound to their name (today
-- one: "import-marks"). Made once, by whichever process needs one first; `keys reseal`
-- re-encrypts them with the rest.
CREATE TABLE sealed_secrets (
    name           TEXT PRIMARY KEY NOT NULL,
    secret_sealed  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
