-- PostgreSQL only (a fill factor for the grants table, see migrations/postgres); SQLite has no
-- such setting. Kept so both backends list the same versions.
SELECT 1;
