-- Counts kept as the queue changes, so that `outbox stats` and the dashboard read a few rows
-- however many messages the queue holds: messages per status, and messages finished per minute
-- (for "sent in the last hour / day"). Triggers keep them in the same transaction as the change.

CREATE TABLE status_counts (
  status TEXT PRIMARY KEY,
  n      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO status_counts (status, n)
SELECT s.status, (SELECT count(*) FROM messages WHERE status = s.status)
FROM (SELECT 'queued' AS status UNION ALL SELECT 'sending' UNION ALL SELECT 'deferred'
      UNION ALL SELECT 'sent' UNION ALL SELECT 'failed' UNION ALL SELECT 'held') s;

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
  UPDATE status_counts SET n = n + 1 WHERE status = new.status;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
  UPDATE status_counts SET n = n - 1 WHERE status = old.status;
END;
CREATE TRIGGER messages_count_update AFTER UPDATE OF status ON messages
WHEN old.status <> new.status BEGIN
  UPDATE status_counts SET n = n - 1 WHERE status = old.status;
  UPDATE status_counts SET n = n + 1 WHERE status = new.status;
END;

-- Minutes since the epoch; rows older than a day are deleted now and then.
CREATE TABLE finished_counts (
  status TEXT NOT NULL,
  minute INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (status, minute)
) STRICT, WITHOUT ROWID;
INSERT INTO finished_counts (status, minute, n)
SELECT status, finished_at / 60000, count(*) FROM messages
WHERE status IN ('sent', 'failed') AND finished_at IS NOT NULL
  AND finished_at >= (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000
GROUP BY status, finished_at / 60000;

CREATE TRIGGER messages_finished AFTER UPDATE OF status ON messages
WHEN new.status IN ('sent', 'failed') AND old.status <> new.status BEGIN
  INSERT INTO finished_counts (status, minute, n)
  VALUES (new.status, coalesce(new.finished_at, CAST(unixepoch('subsec') * 1000 AS INTEGER)) / 60000, 1)
  ON CONFLICT (status, minute) DO UPDATE SET n = n + 1;
END;

-- Both were read by queries that the counts and the claim's own index now answer; each index
-- is one more write on every claim and outcome.
DROP INDEX messages_status_finished;
DROP INDEX messages_due;

-- Claims order by (due_at, id): with the id in the index too, a claim reads only the rows it
-- takes, however many messages share a due time (a batch enqueued at once does).
DROP INDEX messages_claimable;
CREATE INDEX messages_claimable ON messages (priority, due_at, id)
  WHERE status IN ('queued', 'deferred');
