-- The event log: every state change of a message writes its event here, in the transaction of
-- the change (the statement triggers below; `deleted` is written by the operator's delete
-- itself, since a trigger cannot tell it from a purge). Concurrent transactions commit out of
-- order, so an event is written without a position (`seq` NULL) and numbered by readers once
-- committed, in `id` order, under a lock (the dialect's sequenceEvents): a reader that has seen
-- position n has seen every event up to n. Within one message, ids follow the order of its
-- changes: each change holds the row lock of the message or recipient it changes.
CREATE TABLE {{schema}}.events (
  id         bigserial PRIMARY KEY,
  seq        bigint UNIQUE,
  type       text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  message_id text NOT NULL,
  recipient  text,
  data       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_unnumbered ON {{schema}}.events (id) WHERE seq IS NULL;
-- The last position handed out: positions are never handed out twice, even once the newest
-- events are purged.
CREATE TABLE {{schema}}.event_positions (last bigint NOT NULL);
INSERT INTO {{schema}}.event_positions (last) VALUES (0);
-- Purged with their messages.
CREATE INDEX events_message ON {{schema}}.events (message_id);

-- Durable readers of the log (webhook endpoints): where each has got to, leased to one process.
CREATE TABLE {{schema}}.event_consumers (
  name             text PRIMARY KEY,
  cursor           text,
  state            jsonb NOT NULL DEFAULT '{}',
  lease_owner      text,
  lease_expires_at timestamptz,
  retry_requests   integer NOT NULL DEFAULT 0,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Times inside `data`: ISO 8601 in UTC with milliseconds, as every backend writes them.
CREATE FUNCTION {{schema}}.event_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- New messages: `queued`, then `suppressed` for each recipient the insert stored failed (found
-- on the suppression list), in that order.
CREATE FUNCTION {{schema}}.events_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.events (type, at, message_id, recipient, data)
  SELECT e.type, e.at, e.message_id, e.recipient, e.data FROM (
    SELECT 0 AS part, n.id AS message_id, -1 AS position, 'queued' AS type, n.created_at AS at,
      NULL::text AS recipient,
      jsonb_build_object('messageId', m.message_id, 'from', m.mail_from, 'to', m.recipients,
        'subject', m.subject, 'tags', m.tags,
        'priority', CASE n.priority WHEN 0 THEN 'now' WHEN 1 THEN 'high' WHEN 3 THEN 'low'
          ELSE 'normal' END,
        'dueAt', {{schema}}.event_time(coalesce(n.due_at, n.created_at))) AS data
    FROM new_rows n JOIN {{schema}}.messages m ON m.id = n.id
    UNION ALL
    SELECT 1, r.message_id, r.position, 'suppressed', r.updated_at, r.address,
      jsonb_build_object('code', r.code, 'reply', r.reply)
    FROM new_rows n JOIN {{schema}}.recipients r ON r.message_id = n.id AND r.status = 'failed'
  ) e ORDER BY e.message_id, e.part, e.position;
  RETURN NULL;
END $$;
CREATE TRIGGER queue_events_insert AFTER INSERT ON {{schema}}.queue
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.events_queued();

-- Message events. Not written: claims (queued or deferred to sending), a lease given back
-- without an attempt (sending to queued or deferred, attempts unchanged), and the end of a
-- delivery (its recipients' events say how it ended), unless it failed for its age.
CREATE FUNCTION {{schema}}.events_queue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.events (type, at, message_id, data)
  SELECT t.type, n.updated_at, n.id, CASE t.type
      WHEN 'deferred' THEN jsonb_build_object('reason', n.reason, 'error', n.last_error,
        'dueAt', {{schema}}.event_time(n.due_at), 'attempts', n.attempts)
      WHEN 'expired' THEN jsonb_build_object('error', n.last_error)
      ELSE '{}'::jsonb END
  FROM old_rows o JOIN new_rows n ON n.id = o.id,
    LATERAL (SELECT CASE
      WHEN n.status = 'held' THEN 'held'
      WHEN o.status = 'held' THEN 'released'
      WHEN o.status = 'failed' THEN 'retried'
      WHEN n.status = 'failed' THEN 'expired'
      ELSE 'deferred' END AS type) t
  WHERE o.status <> n.status AND (
    n.status = 'held' OR o.status IN ('held', 'failed')
    OR (n.status = 'deferred' AND n.attempts > o.attempts)
    OR (n.status = 'failed' AND n.reason = 'expired'))
  ORDER BY n.id;
  RETURN NULL;
END $$;
CREATE TRIGGER queue_events_update AFTER UPDATE ON {{schema}}.queue
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.events_queue_changed();

-- Recipient events: settled for good (the reply tells a recipient failed for being on the
-- suppression list: see suppression-reply.ts), then what came back after delivery. `sent`
-- names the upstream of the message's latest attempt (written by the same statement).
CREATE FUNCTION {{schema}}.events_recipients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.events (type, at, message_id, recipient, data)
  SELECT e.type, e.at, e.message_id, e.address, e.data FROM (
    SELECT n.message_id, n.position, 0 AS part, n.updated_at AS at, n.address,
      CASE WHEN n.status = 'sent' THEN 'sent'
        WHEN n.reply LIKE 'suppressed (%' THEN 'suppressed' ELSE 'failed' END AS type,
      CASE WHEN n.status = 'sent' THEN jsonb_build_object('code', n.code, 'reply', n.reply,
          'upstream', (SELECT a.upstream FROM {{schema}}.attempts a
            WHERE a.message_id = n.message_id ORDER BY a.id DESC LIMIT 1))
        ELSE jsonb_build_object('code', n.code, 'reply', n.reply) END AS data
    FROM old_rows o JOIN new_rows n ON n.message_id = o.message_id AND n.position = o.position
    WHERE o.status = 'pending' AND n.status IN ('sent', 'failed')
    UNION ALL
    SELECT n.message_id, n.position, 1, n.updated_at, n.address, n.feedback,
      jsonb_build_object('code', n.code, 'reply', n.reply)
    FROM old_rows o JOIN new_rows n ON n.message_id = o.message_id AND n.position = o.position
    WHERE n.feedback IS NOT NULL AND n.feedback IS DISTINCT FROM o.feedback
  ) e ORDER BY e.message_id, e.part, e.position;
  RETURN NULL;
END $$;
CREATE TRIGGER recipients_events_update AFTER UPDATE ON {{schema}}.recipients
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.events_recipients_changed();
