-- The people around the provider (issue 30).
-- Roles: space-separated and sorted, '' for most users: 'support' (the vendor's help desk),
-- 'account-admin' (a company's own administrator), or both. A user who holds one always needs a
-- second factor.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
-- The language the user chose on /account, for their mails (NULL: the provider's default).
ALTER TABLE users ADD COLUMN locale TEXT;
-- When the user last completed a sign-in (the console shows it).
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
-- After a help-desk disconnect with [mfa] relink_requires_email: the next enrollment only
-- through a link mailed to the authentication email.
ALTER TABLE users ADD COLUMN relink_by_email BOOLEAN NOT NULL DEFAULT FALSE;
-- Why a person did what an event records (the console's required reason: a ticket number).
ALTER TABLE audit_events ADD COLUMN reason TEXT;

-- Links may now also be for relinking an authenticator: SQLite cannot change a CHECK in place.
CREATE TABLE email_tokens_new (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset', 'relink')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
INSERT INTO email_tokens_new (token_hash, user_id, purpose, created_at, expires_at, used_at)
    SELECT token_hash, user_id, purpose, created_at, expires_at, used_at FROM email_tokens;
DROP TABLE email_tokens;
ALTER TABLE email_tokens_new RENAME TO email_tokens;
CREATE INDEX email_tokens_user_id ON email_tokens(user_id);
CREATE INDEX email_tokens_expires_at ON email_tokens(expires_at);
-- The console clears a role's grants by user and client.
CREATE INDEX grants_user_client ON grants(user_id, client_id);
