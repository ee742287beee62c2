-- Back-channel logouts are delivered in one lane per app (an app that never answers holds up
-- only its own): the lanes are the apps with due logouts, and each claims its app's due rows in
-- the order they fell due.
CREATE INDEX logout_outbox_due_by_app ON logout_outbox(client_id, next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
