-- The admin API: who acted on whose behalf (the X-Actor header of an admin call, never trusted
-- for authorisation), and the lookups the API pages through.
ALTER TABLE audit_events ADD COLUMN actor_note TEXT;
CREATE INDEX audit_events_account_id ON audit_events(account_id, id);
