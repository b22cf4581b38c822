-- What a worker changes for every message (status, due time, lease, counters) moves into a
-- narrow table of its own, `queue`, with only the indexes that claims and listings by status
-- need. `messages` keeps what is written once (envelope, summary, idempotency key). Renewing a
-- lease then touches no indexed column and is a HOT update; a claim or an outcome writes 3
-- index entries instead of 11. Counts per status and of messages finished per minute are kept
-- by triggers, so that `outbox stats` reads a few rows however large the queue.

CREATE TABLE {{schema}}.queue (
  id               text PRIMARY KEY REFERENCES {{schema}}.messages (id) ON DELETE CASCADE,
  status           text NOT NULL
                   CHECK (status IN ('queued', 'sending', 'deferred', 'sent', 'failed', 'held')),
  priority         smallint NOT NULL,
  -- A copy of messages.created_at, so that listings by status read one index.
  created_at       timestamptz NOT NULL,
  due_at           timestamptz,
  expires_at       timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  backoff_step     integer NOT NULL DEFAULT 0,
  waiting_upstream boolean NOT NULL DEFAULT false,
  lease_owner      text,
  lease_expires_at timestamptz,
  reason           text,
  last_error       text,
  captured         boolean NOT NULL DEFAULT false,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
) WITH (fillfactor = 80);

INSERT INTO {{schema}}.queue (id, status, priority, created_at, due_at, expires_at, attempts,
  backoff_step, waiting_upstream, lease_owner, lease_expires_at, reason, last_error, captured,
  updated_at, finished_at)
SELECT id, status, priority, created_at, due_at, expires_at, attempts, backoff_step,
  waiting_upstream, lease_owner, lease_expires_at, reason, last_error, captured, updated_at,
  finished_at
FROM {{schema}}.messages;

DROP INDEX {{schema}}.messages_claimable;
DROP INDEX {{schema}}.messages_leased;
DROP INDEX {{schema}}.messages_deferred_expiry;
DROP INDEX {{schema}}.messages_waiting_upstream;
DROP INDEX {{schema}}.messages_status_created_id;
DROP INDEX {{schema}}.messages_status_finished;
DROP INDEX {{schema}}.messages_due;
ALTER TABLE {{schema}}.messages
  DROP COLUMN status, DROP COLUMN priority, DROP COLUMN due_at, DROP COLUMN expires_at,
  DROP COLUMN attempts, DROP COLUMN backoff_step, DROP COLUMN waiting_upstream,
  DROP COLUMN lease_owner, DROP COLUMN lease_expires_at, DROP COLUMN reason,
  DROP COLUMN last_error, DROP COLUMN captured, DROP COLUMN updated_at, DROP COLUMN finished_at;

-- Claims: one range per priority, only over waiting messages.
CREATE INDEX queue_claimable ON {{schema}}.queue (priority, due_at, id)
  WHERE status IN ('queued', 'deferred');
-- The messages in flight (few): on id, so renewing a lease changes no indexed column.
CREATE INDEX queue_sending ON {{schema}}.queue (id) WHERE status = 'sending';
CREATE INDEX queue_deferred_expiry ON {{schema}}.queue (expires_at) WHERE status = 'deferred';
CREATE INDEX queue_waiting_upstream ON {{schema}}.queue (id)
  WHERE status = 'deferred' AND waiting_upstream;
-- Listings by status, newest first; purges by status and age.
CREATE INDEX queue_status_created ON {{schema}}.queue (status, created_at, id);

-- Counts, spread over 8 rows per status (by connection) so that workers committing at the same
-- time do not queue behind one row.
CREATE TABLE {{schema}}.status_counts (
  status text NOT NULL,
  shard  smallint NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (status, shard)
);
INSERT INTO {{schema}}.status_counts (status, shard, n)
SELECT s.status, 0, (SELECT count(*) FROM {{schema}}.queue q WHERE q.status = s.status)
FROM (VALUES ('queued'), ('sending'), ('deferred'), ('sent'), ('failed'), ('held')) AS s(status);

CREATE TABLE {{schema}}.finished_counts (
  status text NOT NULL,
  -- Minutes since the epoch; rows older than a day are deleted now and then.
  minute bigint NOT NULL,
  shard  smallint NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (status, minute, shard)
);
INSERT INTO {{schema}}.finished_counts (status, minute, shard, n)
SELECT status, floor(extract(epoch FROM finished_at) / 60)::bigint, 0, count(*)
FROM {{schema}}.queue
WHERE status IN ('sent', 'failed') AND finished_at >= now() - interval '1 day'
GROUP BY 1, 2;

-- One call per statement (a claim or a batch of outcomes changes many rows at once). Counter
-- rows are written in status order, so concurrent statements cannot deadlock on them.
CREATE FUNCTION {{schema}}.count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.status_counts AS c (status, shard, n)
  SELECT status, pg_backend_pid() % 8, count(*) FROM new_rows GROUP BY status ORDER BY status
  ON CONFLICT (status, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END $$;

CREATE FUNCTION {{schema}}.count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.status_counts AS c (status, shard, n)
  SELECT status, pg_backend_pid() % 8, -count(*) FROM old_rows GROUP BY status ORDER BY status
  ON CONFLICT (status, shard) DO UPDATE SET n = c.n + excluded.n;
  RETURN NULL;
END $$;

CREATE FUNCTION {{schema}}.count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.status_counts AS c (status, shard, n)
  SELECT status, pg_backend_pid() % 8, sum(d) FROM (
    SELECT o.status, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
    UNION ALL
    SELECT n.status, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
  ) x GROUP BY status ORDER BY status
  ON CONFLICT (status, shard) DO UPDATE SET n = c.n + excluded.n;
  INSERT INTO {{schema}}.finished_counts AS f (status, minute, shard, n)
  SELECT n.status, floor(extract(epoch FROM coalesce(n.finished_at, now())) / 60)::bigint,
    pg_backend_pid() % 8, count(*)
  FROM old_rows o JOIN new_rows n ON n.id = o.id
  WHERE n.status IN ('sent', 'failed') AND o.status <> n.status
  GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (status, minute, shard) DO UPDATE SET n = f.n + excluded.n;
  RETURN NULL;
END $$;

CREATE TRIGGER queue_count_insert AFTER INSERT ON {{schema}}.queue
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.count_inserted();
CREATE TRIGGER queue_count_delete AFTER DELETE ON {{schema}}.queue
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.count_deleted();
CREATE TRIGGER queue_count_update AFTER UPDATE ON {{schema}}.queue
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.count_updated();
