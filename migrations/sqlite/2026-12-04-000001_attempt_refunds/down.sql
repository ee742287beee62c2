ALTER TABLE attempt_counters DROP COLUMN prev_failure_at;
