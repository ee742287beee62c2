DROP INDEX authorization_codes_session_id;
DROP INDEX sso_sessions_ended_at;
DROP INDEX audit_events_user_id;
CREATE INDEX audit_events_user_id ON audit_events(user_id);
DROP INDEX users_account_id;
CREATE INDEX users_account_id ON users(account_id);
