-- The event log: every state change of a message writes its event here, in the transaction of
-- the change (the triggers below; `deleted` is written by the operator's delete itself, since a
-- trigger cannot tell it from a purge). Concurrent transactions commit out of order, so an
-- event is written without a position (`seq` NULL) and numbered by readers once committed, in
-- `id` order, under the lock of the event_positions row (the dialect's sequenceEvents): a
-- reader that has seen position n has seen every event up to n. Within one message, ids follow
-- the order of its changes: each change holds the row lock of what it changes. Times in ms
-- since the epoch; `data` is JSON with times as ISO 8601 text in UTC.
CREATE TABLE {{prefix}}events (
  id         BIGINT NOT NULL AUTO_INCREMENT,
  seq        BIGINT NULL,
  type       VARCHAR(16) NOT NULL,
  at         BIGINT NOT NULL,
  message_id VARCHAR(64) NOT NULL,
  recipient  TEXT NULL,
  data       LONGTEXT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY {{prefix}}events_seq (seq),
  KEY {{prefix}}events_message (message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The last position handed out (never handed out twice, even once the newest events are
-- purged); its row lock serialises the readers numbering events.
CREATE TABLE {{prefix}}event_positions (
  one  TINYINT NOT NULL,
  last BIGINT NOT NULL,
  PRIMARY KEY (one)
) ENGINE=InnoDB;
INSERT INTO {{prefix}}event_positions (one, last) VALUES (1, 0);

-- Durable readers of the log (webhook endpoints): where each has got to, leased to one process.
CREATE TABLE {{prefix}}event_consumers (
  name             VARCHAR(255) NOT NULL,
  cursor_at        VARCHAR(64) NULL,
  state            LONGTEXT NOT NULL,
  lease_owner      VARCHAR(255) NULL,
  lease_expires_at BIGINT NULL,
  retry_requests   INT NOT NULL DEFAULT 0,
  updated_at       BIGINT NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TRIGGER {{prefix}}events_queued AFTER INSERT ON {{prefix}}messages FOR EACH ROW
  INSERT INTO {{prefix}}events (type, at, message_id, recipient, data)
  VALUES ('queued', NEW.created_at, NEW.id, NULL, JSON_OBJECT(
    'messageId', NEW.message_id, 'from', NEW.mail_from, 'to', JSON_EXTRACT(NEW.recipients, '$'),
    'subject', NEW.subject, 'tags', JSON_EXTRACT(NEW.tags, '$'),
    'priority', CASE NEW.priority WHEN 0 THEN 'now' WHEN 1 THEN 'high' WHEN 3 THEN 'low' ELSE 'normal' END,
    'dueAt', IF(COALESCE(NEW.due_at, NEW.created_at) IS NULL, NULL, CONCAT(DATE_FORMAT(DATE_ADD('1970-01-01 00:00:00', INTERVAL COALESCE(NEW.due_at, NEW.created_at) DIV 1000 SECOND), '%Y-%m-%dT%H:%i:%s.'), LPAD(COALESCE(NEW.due_at, NEW.created_at) MOD 1000, 3, '0'), 'Z'))));

-- Message events. Not written: claims (queued or deferred to sending), a lease given back
-- without an attempt (sending to queued or deferred, attempts unchanged), and the end of a
-- delivery (its recipients' events say how it ended), unless it failed for its age.
CREATE TRIGGER {{prefix}}events_message_status AFTER UPDATE ON {{prefix}}messages FOR EACH ROW
BEGIN
  IF OLD.status <> NEW.status AND (
    NEW.status = 'held' OR OLD.status IN ('held', 'failed')
    OR (NEW.status = 'deferred' AND NEW.attempts > OLD.attempts)
    OR (NEW.status = 'failed' AND NEW.reason = 'expired')) THEN
    INSERT INTO {{prefix}}events (type, at, message_id, recipient, data)
    SELECT t.type, NEW.updated_at, NEW.id, NULL, CASE t.type
        WHEN 'deferred' THEN JSON_OBJECT('reason', NEW.reason, 'error', NEW.last_error,
          'dueAt', IF(NEW.due_at IS NULL, NULL, CONCAT(DATE_FORMAT(DATE_ADD('1970-01-01 00:00:00', INTERVAL NEW.due_at DIV 1000 SECOND), '%Y-%m-%dT%H:%i:%s.'), LPAD(NEW.due_at MOD 1000, 3, '0'), 'Z')), 'attempts', NEW.attempts)
        WHEN 'expired' THEN JSON_OBJECT('error', NEW.last_error)
        ELSE '{}' END
    FROM (SELECT CASE
        WHEN NEW.status = 'held' THEN 'held'
        WHEN OLD.status = 'held' THEN 'released'
        WHEN OLD.status = 'failed' THEN 'retried'
        WHEN NEW.status = 'failed' THEN 'expired'
        ELSE 'deferred' END AS type) t;
  END IF;
END;

-- Recipient events: settled for good (the reply tells a recipient failed for being on the
-- suppression list: see suppression-reply.ts), then what came back after delivery.
CREATE TRIGGER {{prefix}}events_recipient AFTER UPDATE ON {{prefix}}recipients FOR EACH ROW
BEGIN
  IF OLD.status = 'pending' AND NEW.status IN ('sent', 'failed') THEN
    INSERT INTO {{prefix}}events (type, at, message_id, recipient, data)
    VALUES (
      CASE WHEN NEW.status = 'sent' THEN 'sent'
        WHEN NEW.reply LIKE 'suppressed (%' THEN 'suppressed' ELSE 'failed' END,
      NEW.updated_at, NEW.message_id, NEW.address,
      CASE WHEN NEW.status = 'sent' THEN JSON_OBJECT('code', NEW.code, 'reply', NEW.reply,
          'upstream', (SELECT a.upstream FROM {{prefix}}attempts a
            WHERE a.message_id = NEW.message_id ORDER BY a.id DESC LIMIT 1))
        ELSE JSON_OBJECT('code', NEW.code, 'reply', NEW.reply) END);
  END IF;
  IF NEW.feedback IS NOT NULL AND NOT (NEW.feedback <=> OLD.feedback) THEN
    INSERT INTO {{prefix}}events (type, at, message_id, recipient, data)
    VALUES (NEW.feedback, NEW.updated_at, NEW.message_id, NEW.address,
      JSON_OBJECT('code', NEW.code, 'reply', NEW.reply));
  END IF;
END;
