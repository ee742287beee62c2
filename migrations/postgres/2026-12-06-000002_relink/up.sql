-- A sign-in opened by a relink link mailed after a help-desk disconnect ([mfa] relink_requires_email):
-- the hash of that link's token, the proof its enrollment may go ahead.
ALTER TABLE login_flows ADD COLUMN relink_token_hash TEXT;
