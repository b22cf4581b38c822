-- Outbox queue schema, version 1. Append-only: never edit a released migration, add a new one.

CREATE TABLE messages (
  id               TEXT PRIMARY KEY,
  message_id       TEXT NOT NULL,
  status           TEXT NOT NULL
                   CHECK (status IN ('queued', 'sending', 'deferred', 'sent', 'failed', 'held')),
  -- 0 now, 1 high, 2 normal, 3 low: workers take the smallest first.
  priority         INTEGER NOT NULL,
  mail_from        TEXT NOT NULL,
  -- JSON array of every envelope recipient, for listings; their states live in `recipients`.
  recipients       TEXT NOT NULL,
  subject          TEXT,
  tags             TEXT NOT NULL DEFAULT '[]',
  size             INTEGER NOT NULL,
  idempotency_key  TEXT,
  -- Times are milliseconds since the Unix epoch.
  created_at       INTEGER NOT NULL,
  -- When a queued or deferred message becomes claimable; NULL once finished or held.
  due_at           INTEGER,
  expires_at       INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  backoff_step     INTEGER NOT NULL DEFAULT 0,
  -- Deferred only because the upstream was down: woken as soon as a probe succeeds.
  waiting_upstream INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  reason           TEXT,
  last_error       TEXT,
  captured         INTEGER NOT NULL DEFAULT 0,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER
) STRICT;

CREATE UNIQUE INDEX messages_idempotency_key ON messages (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- The claim query: partial, so millions of finished messages never slow it down.
CREATE INDEX messages_claimable ON messages (priority, due_at)
  WHERE status IN ('queued', 'deferred');
CREATE INDEX messages_leased ON messages (lease_expires_at)
  WHERE status = 'sending';
CREATE INDEX messages_deferred_expiry ON messages (expires_at)
  WHERE status = 'deferred';
CREATE INDEX messages_waiting_upstream ON messages (waiting_upstream)
  WHERE status = 'deferred' AND waiting_upstream = 1;

-- Listings: newest first, optionally by status.
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_status_created ON messages (status, created_at);

-- The bytes live apart from the row so that scanning messages never reads them.
CREATE TABLE message_bodies (
  id  TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  raw BLOB NOT NULL
) STRICT;

CREATE TABLE recipients (
  message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  address    TEXT NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  code       INTEGER,
  reply      TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (message_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE attempts (
  id          INTEGER PRIMARY KEY,
  message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  worker      TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome     TEXT NOT NULL,
  error       TEXT,
  -- JSON array of { address, status, code, reply }.
  recipients  TEXT NOT NULL
) STRICT;
CREATE INDEX attempts_message ON attempts (message_id, id);

CREATE TABLE message_tags (
  tag        TEXT NOT NULL,
  message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  PRIMARY KEY (tag, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_tags_message ON message_tags (message_id);
