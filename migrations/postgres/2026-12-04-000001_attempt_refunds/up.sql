-- The failure time before the latest reservation: a success that gives its attempt back
-- restores it, so successes never keep a count alive (the window slides from real failures).
ALTER TABLE attempt_counters ADD COLUMN prev_failure_at BIGINT;
