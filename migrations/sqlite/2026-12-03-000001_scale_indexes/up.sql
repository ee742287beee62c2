-- Indexes found by bench/scale.sh (EXPLAIN at 1,000,000 users): every hot query and every
-- cascade an index.
-- Pages of an account's users and of a user's audit events are read in id order: the id in
-- the index spares a sort of the whole account or history for each page.
DROP INDEX users_account_id;
CREATE INDEX users_account_id ON users(account_id, id);
DROP INDEX audit_events_user_id;
CREATE INDEX audit_events_user_id ON audit_events(user_id, id);
-- The purge deletes sessions that ended more than a day ago (sso_sessions_live_by_expiry serves
-- the unended ones); their codes go with them by ON DELETE CASCADE, which looks codes up by
-- session.
CREATE INDEX sso_sessions_ended_at ON sso_sessions(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX authorization_codes_session_id ON authorization_codes(session_id);
