-- Times are Unix seconds (BIGINT) on both backends, so the domain code is backend-neutral.
-- Secrets that are looked up (session cookies, codes, refresh and email tokens, login flows)
-- are stored as SHA-256 hashes; TOTP secrets and private keys are sealed with the master key.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    mfa_policy  TEXT NOT NULL DEFAULT 'off' CHECK (mfa_policy IN ('off', 'required')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email               TEXT NOT NULL UNIQUE,
    work_email          TEXT,
    display_name        TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash       TEXT,
    password_changed_at BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX users_account_id ON users(account_id);

CREATE TABLE totp_credentials (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed  TEXT NOT NULL,
    linked         BOOLEAN NOT NULL DEFAULT FALSE,
    last_used_step BIGINT,
    created_at     BIGINT NOT NULL,
    linked_at      BIGINT
);

CREATE TABLE sso_sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    secret_hash       TEXT NOT NULL UNIQUE,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time         BIGINT NOT NULL,
    amr               TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    last_active_at    BIGINT NOT NULL,
    idle_timeout_secs BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    ended_at          BIGINT,
    ip                TEXT,
    user_agent        TEXT
);
CREATE INDEX sso_sessions_user_id ON sso_sessions(user_id);

CREATE TABLE grants (
    id          TEXT PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sso_sessions(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX grants_session_id ON grants(session_id);

CREATE TABLE authorization_codes (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    session_id      TEXT NOT NULL REFERENCES sso_sessions(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    redeemed_at     BIGINT,
    grant_id        TEXT
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    grant_id    TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens(grant_id);

CREATE TABLE email_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX email_tokens_user_id ON email_tokens(user_id);

CREATE TABLE login_flows (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    request     TEXT NOT NULL,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE attempt_counters (
    key               TEXT PRIMARY KEY NOT NULL,
    failures          INTEGER NOT NULL,
    window_started_at BIGINT NOT NULL,
    last_failure_at   BIGINT NOT NULL,
    locked_until      BIGINT
);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    alg             TEXT NOT NULL,
    private_sealed  TEXT NOT NULL,
    public_jwk      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT
);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    account_id  TEXT,
    user_id     TEXT,
    ip          TEXT,
    detail      TEXT
);
CREATE INDEX audit_events_user_id ON audit_events(user_id);
