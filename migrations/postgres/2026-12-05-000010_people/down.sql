DROP INDEX grants_user_client;
DELETE FROM email_tokens WHERE purpose = 'relink';
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('invite', 'reset'));
ALTER TABLE audit_events DROP COLUMN reason;
ALTER TABLE users DROP COLUMN relink_by_email;
ALTER TABLE users DROP COLUMN last_sign_in_at;
ALTER TABLE users DROP COLUMN locale;
ALTER TABLE users DROP COLUMN roles;
