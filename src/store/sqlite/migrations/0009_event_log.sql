-- The event log: every state change of a message writes its event here, in the transaction of
-- the change (the triggers below; `deleted` is written by the operator's delete itself, since a
-- trigger cannot tell it from a purge). SQLite has one writer at a time, so positions (`seq`)
-- increase in commit order: a reader that has seen position n has seen every event up to n.
-- AUTOINCREMENT: a position is never handed out twice, even after the newest rows are purged.
-- Times in ms since the epoch; `data` is JSON with times as ISO 8601 text.
CREATE TABLE events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  type       TEXT NOT NULL,
  at         INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  recipient  TEXT,
  data       TEXT NOT NULL
) STRICT;
-- Purged with their messages.
CREATE INDEX events_message ON events (message_id);

-- Durable readers of the log (webhook endpoints): where each has got to, leased to one process.
CREATE TABLE event_consumers (
  name             TEXT PRIMARY KEY,
  cursor           TEXT,
  state            TEXT NOT NULL DEFAULT '{}',
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  retry_requests   INTEGER NOT NULL DEFAULT 0,
  updated_at       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER events_queued AFTER INSERT ON messages BEGIN
  INSERT INTO events (type, at, message_id, recipient, data)
  VALUES ('queued', new.created_at, new.id, NULL, json_object(
    'messageId', new.message_id, 'from', new.mail_from, 'to', json(new.recipients),
    'subject', new.subject, 'tags', json(new.tags),
    'priority', CASE new.priority WHEN 0 THEN 'now' WHEN 1 THEN 'high' WHEN 3 THEN 'low' ELSE 'normal' END,
    'dueAt', strftime('%Y-%m-%dT%H:%M:%fZ', coalesce(new.due_at, new.created_at) / 1000.0, 'unixepoch')));
END;

-- Message events. Not written: claims (queued or deferred to sending), a lease given back
-- without an attempt (sending to queued or deferred, attempts unchanged), and the end of a
-- delivery (its recipients' events say how it ended), unless it failed for its age.
CREATE TRIGGER events_message_status AFTER UPDATE OF status ON messages
WHEN old.status <> new.status AND (
  new.status = 'held' OR old.status IN ('held', 'failed')
  OR (new.status = 'deferred' AND new.attempts > old.attempts)
  OR (new.status = 'failed' AND new.reason = 'expired')) BEGIN
  INSERT INTO events (type, at, message_id, recipient, data)
  SELECT t.type, new.updated_at, new.id, NULL, CASE t.type
      WHEN 'deferred' THEN json_object('reason', new.reason, 'error', new.last_error,
        'dueAt', strftime('%Y-%m-%dT%H:%M:%fZ', new.due_at / 1000.0, 'unixepoch'),
        'attempts', new.attempts)
      WHEN 'expired' THEN json_object('error', new.last_error)
      ELSE '{}' END
  FROM (SELECT CASE
      WHEN new.status = 'held' THEN 'held'
      WHEN old.status = 'held' THEN 'released'
      WHEN old.status = 'failed' THEN 'retried'
      WHEN new.status = 'failed' THEN 'expired'
      ELSE 'deferred' END AS type) t;
END;

-- Recipient events: settled for good (the reply tells a recipient failed for being on the
-- suppression list: see suppression-reply.ts), then what came back after delivery.
CREATE TRIGGER events_recipient_settled AFTER UPDATE OF status ON recipients
WHEN old.status = 'pending' AND new.status IN ('sent', 'failed') BEGIN
  INSERT INTO events (type, at, message_id, recipient, data)
  VALUES (
    CASE WHEN new.status = 'sent' THEN 'sent'
      WHEN new.reply LIKE 'suppressed (%' THEN 'suppressed' ELSE 'failed' END,
    new.updated_at, new.message_id, new.address,
    CASE WHEN new.status = 'sent' THEN json_object('code', new.code, 'reply', new.reply,
        'upstream', (SELECT upstream FROM attempts WHERE message_id = new.message_id
          ORDER BY id DESC LIMIT 1))
      ELSE json_object('code', new.code, 'reply', new.reply) END);
END;

CREATE TRIGGER events_feedback AFTER UPDATE OF feedback ON recipients
WHEN new.feedback IS NOT NULL AND new.feedback IS NOT old.feedback BEGIN
  INSERT INTO events (type, at, message_id, recipient, data)
  VALUES (new.feedback, new.updated_at, new.message_id, new.address,
    json_object('code', new.code, 'reply', new.reply));
END;
