DROP INDEX grants_user_client;
DELETE FROM email_tokens WHERE purpose = 'relink';
CREATE TABLE email_tokens_old (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
INSERT INTO email_tokens_old SELECT token_hash, user_id, purpose, created_at, expires_at, used_at FROM email_tokens;
DROP TABLE email_tokens;
ALTER TABLE email_tokens_old RENAME TO email_tokens;
CREATE INDEX email_tokens_user_id ON email_tokens(user_id);
CREATE INDEX email_tokens_expires_at ON email_tokens(expires_at);
ALTER TABLE audit_events DROP COLUMN reason;
ALTER TABLE users DROP COLUMN relink_by_email;
ALTER TABLE users DROP COLUMN last_sign_in_at;
ALTER TABLE users DROP COLUMN locale;
ALTER TABLE users DROP COLUMN roles;
