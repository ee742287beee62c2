DROP INDEX audit_events_account_id;
ALTER TABLE audit_events DROP COLUMN actor_note;
