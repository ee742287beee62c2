-- What the last import brought for each user: SHA-256 (base64url) of the password hash string
-- and of the TOTP secret. A line bringing the same again is no change, so running a file again
-- never undoes what happened here since (a password the user changed, an app linked after a
-- lost phone).
CREATE TABLE import_marks (
    user_id              TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash_sha256 TEXT,
    totp_secret_sha256   TEXT
);
