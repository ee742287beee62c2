DROP INDEX attempt_counters_last_failure_at;
DROP INDEX email_tokens_expires_at;
DROP INDEX login_flows_expires_at;
ALTER TABLE login_flows DROP COLUMN pending_totp_sealed;
DROP TABLE logout_outbox;
DROP INDEX sso_sessions_live_by_expiry;
ALTER TABLE sso_sessions DROP COLUMN end_reason;
ALTER TABLE sso_sessions DROP COLUMN idle_expires_at;
