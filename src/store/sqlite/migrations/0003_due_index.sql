-- The earliest due time over all priorities (how long an idle worker sleeps) in one index seek.
CREATE INDEX messages_due ON messages (due_at) WHERE status IN ('queued', 'deferred');
