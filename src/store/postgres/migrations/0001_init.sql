-- Outbox queue schema for PostgreSQL, version 1. Append-only: never edit a released migration.
-- {{schema}} is replaced by the configured schema name, quoted.

CREATE TABLE {{schema}}.messages (
  id               text PRIMARY KEY,
  message_id       text NOT NULL,
  status           text NOT NULL
                   CHECK (status IN ('queued', 'sending', 'deferred', 'sent', 'failed', 'held')),
  -- 0 now, 1 high, 2 normal, 3 low: workers take the smallest first.
  priority         smallint NOT NULL,
  mail_from        text NOT NULL,
  recipients       jsonb NOT NULL,
  subject          text,
  tags             jsonb NOT NULL DEFAULT '[]',
  size             integer NOT NULL,
  idempotency_key  text,
  -- Times come from the database clock (now()), never from a worker's. Creation times are
  -- kept to the millisecond so listing cursors (which carry JavaScript times) are exact.
  created_at       timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
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
);

CREATE UNIQUE INDEX messages_idempotency_key ON {{schema}}.messages (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- The claim query: partial, so millions of finished messages never slow it down.
CREATE INDEX messages_claimable ON {{schema}}.messages (priority, due_at, id)
  WHERE status IN ('queued', 'deferred');
CREATE INDEX messages_leased ON {{schema}}.messages (lease_expires_at)
  WHERE status = 'sending';
CREATE INDEX messages_deferred_expiry ON {{schema}}.messages (expires_at)
  WHERE status = 'deferred';
CREATE INDEX messages_waiting_upstream ON {{schema}}.messages (id)
  WHERE status = 'deferred' AND waiting_upstream;
-- Listings, newest first, optionally by status; senders; recently finished.
CREATE INDEX messages_created_id ON {{schema}}.messages (created_at, id);
CREATE INDEX messages_status_created_id ON {{schema}}.messages (status, created_at, id);
CREATE INDEX messages_from ON {{schema}}.messages (lower(mail_from));
CREATE INDEX messages_status_finished ON {{schema}}.messages (status, finished_at);

-- The bytes live apart from the row so that scanning messages never reads them.
CREATE TABLE {{schema}}.message_bodies (
  id  text PRIMARY KEY REFERENCES {{schema}}.messages (id) ON DELETE CASCADE,
  raw bytea NOT NULL
);

CREATE TABLE {{schema}}.recipients (
  message_id text NOT NULL REFERENCES {{schema}}.messages (id) ON DELETE CASCADE,
  position   integer NOT NULL,
  address    text NOT NULL,
  status     text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  code       integer,
  reply      text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, position)
);
CREATE INDEX recipients_address ON {{schema}}.recipients (lower(address));

CREATE TABLE {{schema}}.attempts (
  id          bigserial PRIMARY KEY,
  message_id  text NOT NULL REFERENCES {{schema}}.messages (id) ON DELETE CASCADE,
  worker      text NOT NULL,
  started_at  timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  outcome     text NOT NULL,
  error       text,
  recipients  jsonb NOT NULL
);
CREATE INDEX attempts_message ON {{schema}}.attempts (message_id, id);

CREATE TABLE {{schema}}.message_tags (
  tag        text NOT NULL,
  message_id text NOT NULL REFERENCES {{schema}}.messages (id) ON DELETE CASCADE,
  PRIMARY KEY (tag, message_id)
);
CREATE INDEX message_tags_message ON {{schema}}.message_tags (message_id);

-- The earliest due time over all priorities (how long an idle worker sleeps) in one index seek.
CREATE INDEX messages_due ON {{schema}}.messages (due_at) WHERE status IN ('queued', 'deferred');
