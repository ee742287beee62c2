-- Sessions end by themselves (the sweeper) and every end is told to the apps through a durable
-- outbox; enrollment secrets belong to the login flow that showed them.

-- The moment a session ends if nothing happens: min(last activity + idle timeout, absolute
-- expiry). Kept as a column so that liveness is one comparison and the sweeper's search is an
-- index range over live sessions.
ALTER TABLE sso_sessions ADD COLUMN idle_expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE sso_sessions SET idle_expires_at = LEAST(last_active_at + idle_timeout_secs, expires_at);
ALTER TABLE sso_sessions ADD COLUMN end_reason TEXT;
CREATE INDEX sso_sessions_live_by_expiry ON sso_sessions(idle_expires_at) WHERE ended_at IS NULL;

-- One row per (ended session, app that holds a grant in it): the back-channel logout to send.
CREATE TABLE logout_outbox (
    id               TEXT PRIMARY KEY NOT NULL,
    session_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    account_id       TEXT,
    client_id        TEXT NOT NULL,
    reason           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    claimed_until    BIGINT,
    delivered_at     BIGINT,
    failed_at        BIGINT,
    last_error       TEXT,
    UNIQUE (session_id, client_id)
);
CREATE INDEX logout_outbox_due ON logout_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- A pending enrollment secret lives in the login flow that showed it (sealed, bound to the user
-- and the flow) and expires with it; totp_credentials holds linked apps only. The request is
-- NULL for a sign-in started at the provider itself (no app). Login flows live ten minutes, so
-- the table is recreated rather than altered (sign-ins under way at the upgrade start again).
DROP TABLE login_flows;
CREATE TABLE login_flows (
    id_hash             TEXT PRIMARY KEY NOT NULL,
    request             TEXT,
    user_id             TEXT REFERENCES users(id) ON DELETE CASCADE,
    stage               TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    pending_totp_sealed TEXT
);
CREATE INDEX login_flows_expires_at ON login_flows(expires_at);
CREATE INDEX login_flows_user_id ON login_flows(user_id);
DELETE FROM totp_credentials WHERE linked = FALSE;

-- Housekeeping purges by time.
CREATE INDEX email_tokens_expires_at ON email_tokens(expires_at);
CREATE INDEX attempt_counters_last_failure_at ON attempt_counters(last_failure_at);
