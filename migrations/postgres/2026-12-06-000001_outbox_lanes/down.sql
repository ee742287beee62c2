DROP INDEX logout_outbox_due_by_app;
