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
-- Links may now also be for relinking an authenticator.
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('invite', 'reset', 'relink'));
-- The console clears a role's grants by user and client.
CREATE INDEX grants_user_client ON grants(user_id, client_id);
