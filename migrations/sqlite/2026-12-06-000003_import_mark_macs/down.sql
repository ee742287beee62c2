DROP TABLE sealed_secrets;
ALTER TABLE import_marks RENAME COLUMN totp_secret_mark TO totp_secret_sha256;
ALTER TABLE import_marks RENAME COLUMN password_hash_mark TO password_hash_sha256;
