-- Outbox queue schema for MariaDB 10.6+ and MySQL 8.0+, version 1. Append-only: never edit a
-- released migration. {{prefix}} is replaced by the configured table prefix (default outbox_).
-- Times are milliseconds since the epoch by the database's clock (UTC_TIMESTAMP(3)), as
-- BIGINT: no time zone setting of the server or the session can shift them.
-- Text compares byte for byte (utf8mb4_bin); the case-insensitive filters compare lower-cased
-- copies, kept in generated columns so that they can be indexed.

CREATE TABLE {{prefix}}messages (
  id               VARCHAR(64) NOT NULL,
  message_id       TEXT NOT NULL,
  status           VARCHAR(16) NOT NULL,
  -- 0 now, 1 high, 2 normal, 3 low: workers take the smallest first.
  priority         TINYINT NOT NULL,
  mail_from        TEXT NOT NULL,
  mail_from_lower  VARCHAR(512) AS (LEFT(LOWER(mail_from), 512)) STORED,
  recipients       LONGTEXT NOT NULL,
  subject          TEXT NULL,
  tags             TEXT NOT NULL,
  size             INT NOT NULL,
  idempotency_key  VARCHAR(512) NULL,
  created_at       BIGINT NOT NULL,
  due_at           BIGINT NULL,
  expires_at       BIGINT NOT NULL,
  attempts         INT NOT NULL DEFAULT 0,
  backoff_step     INT NOT NULL DEFAULT 0,
  waiting_upstream TINYINT NOT NULL DEFAULT 0,
  lease_owner      VARCHAR(255) NULL,
  lease_expires_at BIGINT NULL,
  reason           VARCHAR(255) NULL,
  last_error       TEXT NULL,
  captured         TINYINT NOT NULL DEFAULT 0,
  eight_bit        TINYINT NULL,
  smtputf8         TINYINT NULL,
  updated_at       BIGINT NOT NULL,
  finished_at      BIGINT NULL,
  -- The priority of a message waiting to be claimed, NULL otherwise: claims read the index on
  -- (claim_rank, due_at, id) in order and stop at their limit (neither MariaDB nor MySQL has
  -- partial indexes), so FOR UPDATE SKIP LOCKED locks only the rows it hands out.
  claim_rank       TINYINT AS (CASE WHEN status IN ('queued', 'deferred') THEN priority END) STORED,
  PRIMARY KEY (id),
  UNIQUE KEY {{prefix}}messages_idempotency_key (idempotency_key),
  KEY {{prefix}}messages_claimable (claim_rank, due_at, id),
  KEY {{prefix}}messages_status_lease (status, lease_expires_at),
  KEY {{prefix}}messages_status_expires (status, expires_at),
  KEY {{prefix}}messages_status_created (status, created_at, id),
  KEY {{prefix}}messages_created (created_at, id),
  KEY {{prefix}}messages_from (mail_from_lower)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The bytes live apart from the row so that scanning messages never reads them.
CREATE TABLE {{prefix}}message_bodies (
  id  VARCHAR(64) NOT NULL,
  raw LONGBLOB NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT {{prefix}}message_bodies_message FOREIGN KEY (id)
    REFERENCES {{prefix}}messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE {{prefix}}recipients (
  message_id    VARCHAR(64) NOT NULL,
  position      INT NOT NULL,
  address       TEXT NOT NULL,
  address_lower VARCHAR(512) AS (LEFT(LOWER(address), 512)) STORED,
  status        VARCHAR(16) NOT NULL,
  code          INT NULL,
  reply         TEXT NULL,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (message_id, position),
  KEY {{prefix}}recipients_address (address_lower),
  CONSTRAINT {{prefix}}recipients_message FOREIGN KEY (message_id)
    REFERENCES {{prefix}}messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE {{prefix}}attempts (
  id          BIGINT NOT NULL AUTO_INCREMENT,
  message_id  VARCHAR(64) NOT NULL,
  worker      VARCHAR(255) NOT NULL,
  started_at  BIGINT NOT NULL,
  duration_ms INT NOT NULL,
  outcome     VARCHAR(32) NOT NULL,
  error       TEXT NULL,
  recipients  LONGTEXT NOT NULL,
  PRIMARY KEY (id),
  KEY {{prefix}}attempts_message (message_id, id),
  KEY {{prefix}}attempts_started (started_at),
  KEY {{prefix}}attempts_outcome_started (outcome, started_at),
  CONSTRAINT {{prefix}}attempts_message FOREIGN KEY (message_id)
    REFERENCES {{prefix}}messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE {{prefix}}message_tags (
  tag        VARCHAR(255) NOT NULL,
  message_id VARCHAR(64) NOT NULL,
  PRIMARY KEY (tag, message_id),
  KEY {{prefix}}message_tags_message (message_id),
  CONSTRAINT {{prefix}}message_tags_message FOREIGN KEY (message_id)
    REFERENCES {{prefix}}messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Counts per status, spread over 16 rows per status (by connection) so that workers
-- committing at the same time do not queue behind one row. Kept by the triggers below, in the
-- transaction of each change. (Foreign-key cascades fire no triggers in MariaDB or MySQL:
-- that is why the queue is one table, deleted from directly.)
CREATE TABLE {{prefix}}status_counts (
  status VARCHAR(16) NOT NULL,
  shard  TINYINT NOT NULL,
  n      BIGINT NOT NULL,
  PRIMARY KEY (status, shard)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Messages finished per minute (minutes since the epoch); rows older than a day are deleted.
CREATE TABLE {{prefix}}finished_counts (
  status VARCHAR(16) NOT NULL,
  minute BIGINT NOT NULL,
  n      BIGINT NOT NULL,
  PRIMARY KEY (status, minute)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TRIGGER {{prefix}}count_insert AFTER INSERT ON {{prefix}}messages FOR EACH ROW
  INSERT INTO {{prefix}}status_counts (status, shard, n)
  VALUES (NEW.status, CONNECTION_ID() % 16, 1)
  ON DUPLICATE KEY UPDATE n = n + 1;

CREATE TRIGGER {{prefix}}count_delete AFTER DELETE ON {{prefix}}messages FOR EACH ROW
  INSERT INTO {{prefix}}status_counts (status, shard, n)
  VALUES (OLD.status, CONNECTION_ID() % 16, -1)
  ON DUPLICATE KEY UPDATE n = n - 1;

CREATE TRIGGER {{prefix}}count_update AFTER UPDATE ON {{prefix}}messages FOR EACH ROW
BEGIN
  IF OLD.status <> NEW.status THEN
    INSERT INTO {{prefix}}status_counts (status, shard, n)
    VALUES (OLD.status, CONNECTION_ID() % 16, -1)
    ON DUPLICATE KEY UPDATE n = n - 1;
    INSERT INTO {{prefix}}status_counts (status, shard, n)
    VALUES (NEW.status, CONNECTION_ID() % 16, 1)
    ON DUPLICATE KEY UPDATE n = n + 1;
    IF NEW.status IN ('sent', 'failed') THEN
      INSERT INTO {{prefix}}finished_counts (status, minute, n)
      VALUES (NEW.status, COALESCE(NEW.finished_at, NEW.updated_at) DIV 60000, 1)
      ON DUPLICATE KEY UPDATE n = n + 1;
    END IF;
  END IF;
END;
