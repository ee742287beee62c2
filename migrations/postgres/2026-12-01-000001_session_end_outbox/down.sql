DROP INDEX attempt_counters_last_failure_at;
DROP INDEX email_tokens_expires_at;
DROP TABLE login_flows;
CREATE TABLE login_flows (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    request     TEXT NOT NULL,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
DROP TABLE logout_outbox;
DROP INDEX sso_sessions_live_by_expiry;
ALTER TABLE sso_sessions DROP COLUMN end_reason;
ALTER TABLE sso_sessions DROP COLUMN idle_expires_at;
