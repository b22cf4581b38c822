-- Enqueue from SQL, in the caller's own transaction, from any language:
--   CALL outbox_enqueue(raw, mail_from, rcpt_to, options)
-- (outbox_ is the table prefix) with raw the message bytes (LONGBLOB), mail_from the envelope
-- sender ('' for the null sender), rcpt_to a JSON array of recipient addresses
-- ('["a@example.com"]'), options a JSON object or NULL:
--   {"priority": "now|high|normal|low", "send_at": "2030-01-02T03:04:05Z",
--    "idempotency_key": "…", "tags": ["…"], "upstream": "name", "ignore_suppression": true}
-- It answers one result set of one row and one column, `id`: the queue id (read it as the row
-- of any SELECT; a client that keeps results pending, such as mysqlclient, reads the end of
-- the CALL with nextset()). The procedure checks what the database can check (addresses,
-- CR/LF in them, the size limit, the options) and raises a typed error naming the field; it
-- keeps the message as a submission, which the workers see at the caller's COMMIT and never
-- after a ROLLBACK. An Outbox process then moves each submission into the queue with the same
-- code as sendRaw() (Message-ID, line endings, Subject, DKIM), in one transaction that deletes
-- the submission: one implementation of composing, not one per language.
--
-- It never commits and runs no statement that commits implicitly: call it inside your
-- transaction (BEGIN … COMMIT). Called alone in autocommit mode it stores the submission at
-- once.
--
-- Errors: SIGNAL with a stable SQLSTATE (class OB, as in PostgreSQL: MariaDB takes it) and
-- MYSQL_ERRNO (the number most clients show), MESSAGE_TEXT starting with the field
-- ("rcpt_to[2]: the recipient … is not a valid address.") and the field in the COLUMN_NAME
-- condition item (seen by GET DIAGNOSTICS; clients see the SQLSTATE, the number, the text):
--   SQLSTATE 'OB001', MYSQL_ERRNO 45001: a field is invalid (mail_from, rcpt_to, rcpt_to[N]
--     counted from 1, raw, options, options.<name>, options.tags[N]).
--   SQLSTATE 'OB002', MYSQL_ERRNO 45002: the message is over the size limit (field raw).
--   SQLSTATE '40001': the INSERT lost a race three times running (a key taken, then gone);
--     practically never: run it again.
-- Nothing is stored by a call that fails: every check runs before the one INSERT. The message
-- bytes travel in one packet: the server's max_allowed_packet bounds them too.
-- Like any write under concurrency in InnoDB, two callers racing for one idempotency key can
-- end in a deadlock (errno 1213) that rolls the caller's transaction back: run it again.
--
-- Idempotency: a key already used (by a message in the queue, or by a waiting submission,
-- whose id its message keeps) returns that id and stores nothing. A caller in REPEATABLE READ does not see
-- messages committed after its transaction's first read; a key moved into the queue meanwhile
-- is still stored once (the move refuses a second message with the key), but the id then
-- returned is the new submission's, which becomes no message.
--
-- Workers wake without NOTIFY: their poll (commit-poller.ts) reads the newest submission's
-- seq (AUTO_INCREMENT) besides the newest message, and the intake also looks every 2 s.
--
-- Written for MariaDB 10.6+ (tested on 10.11 only) and meant for MySQL 8.0 (untested there):
-- REGEXP patterns use only \x{…}, \z and classes, which PCRE2 (MariaDB) and ICU (MySQL) read
-- alike; `$` is not used, as it also matches before a final newline, where JavaScript's
-- does not.

-- The routines keep the sql_mode they were created with: a known one, with backslashes as
-- escapes in literals (the patterns need them) whatever the server's default.
SET @outbox_saved_sql_mode = @@SESSION.sql_mode;
SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

-- What the procedure checks against, written by Outbox's workers from their configuration
-- (configureSubmissions): the size limit and the names of the configured upstreams as a JSON
-- array (NULL until a worker has run: any name is taken, and checked when it is moved).
CREATE TABLE {{prefix}}submission_settings (
  one              TINYINT NOT NULL,
  max_message_size INT NOT NULL,
  upstreams        LONGTEXT NULL,
  updated_at       BIGINT NOT NULL,
  PRIMARY KEY (one)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO {{prefix}}submission_settings (one, max_message_size, upstreams, updated_at)
VALUES (1, 26214400, NULL,
  TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000);

-- Mail enqueued with SQL, waiting to be moved into the queue (oldest first, by seq). Lists are
-- JSON arrays; times ms since the epoch.
CREATE TABLE {{prefix}}submissions (
  seq                BIGINT NOT NULL AUTO_INCREMENT,
  id                 VARCHAR(64) NOT NULL,
  raw                LONGBLOB NOT NULL,
  mail_from          TEXT NOT NULL,
  rcpt_to            LONGTEXT NOT NULL,
  priority           VARCHAR(8) NOT NULL,
  send_at            BIGINT NULL,
  idempotency_key    VARCHAR(512) NULL,
  tags               TEXT NOT NULL,
  upstream           VARCHAR(64) NULL,
  ignore_suppression TINYINT NOT NULL,
  created_at         BIGINT NOT NULL,
  -- Set when Outbox could not take it (it is then kept, never tried again): what was wrong.
  error              TEXT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY {{prefix}}submissions_id (id),
  -- Two callers with one key: the second waits for the first's transaction, then finds it.
  UNIQUE KEY {{prefix}}submissions_idempotency_key (idempotency_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The address check of validate-mail.ts isValidAddress(), character for character. JavaScript's
-- \s is spelled out (\x{9}-\x{d} and space are inside \x{0}-\x{20}); its length counts UTF-16
-- code units, so a character beyond U+FFFF counts twice; \z, not $ (see above).
CREATE FUNCTION {{prefix}}is_valid_address(address TEXT CHARACTER SET utf8mb4) RETURNS TINYINT
  DETERMINISTIC NO SQL
BEGIN
  DECLARE a TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT address;
  DECLARE domain TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  IF a IS NULL THEN RETURN NULL; END IF;
  IF OCTET_LENGTH(CONVERT(a USING utf16)) DIV 2 > 320 THEN RETURN 0; END IF;
  IF NOT (
    a REGEXP '^[^\\x{0}-\\x{20}@<>()\\[\\]\\\\,;:"\\x{7f}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]+@[^\\x{0}-\\x{20}@<>()\\[\\]\\\\,;:"\\x{7f}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]+\\z'
    OR a REGEXP '^"[^"\\x{d}\\x{a}\\\\]*"@[^\\x{0}-\\x{20}@<>()\\[\\]\\\\,;:"\\x{7f}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]+\\z'
  ) THEN
    RETURN 0;
  END IF;
  SET domain = SUBSTRING_INDEX(a, '@', -1);
  RETURN NOT (domain LIKE '.%' OR domain LIKE '%.' OR domain LIKE '%..%');
END;

-- A queue id as createQueueId() makes it: 10 characters of millisecond time, 10 random ones,
-- in Crockford's base32 (lower case). RANDOM_BYTES() is MariaDB 10.10+ and MySQL; on an older
-- MariaDB (no such function: error 1305) the random part is a SHA-256 of UUID() (unique on the
-- server) and RAND().
CREATE FUNCTION {{prefix}}new_queue_id() RETURNS VARCHAR(20) CHARACTER SET ascii
  NOT DETERMINISTIC NO SQL
BEGIN
  DECLARE alphabet CHAR(32) CHARACTER SET ascii DEFAULT '0123456789abcdefghjkmnpqrstvwxyz';
  DECLARE t BIGINT DEFAULT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000;
  DECLARE r VARBINARY(32);
  DECLARE id VARCHAR(20) CHARACTER SET ascii DEFAULT '';
  DECLARE i INT DEFAULT 0;
  DECLARE CONTINUE HANDLER FOR 1305
    SET r = UNHEX(SHA2(CONCAT(UUID(), RAND(), CONNECTION_ID()), 256));
  SET r = RANDOM_BYTES(10);
  WHILE i < 10 DO
    SET id = CONCAT(SUBSTRING(alphabet, t MOD 32 + 1, 1), id);
    SET t = t DIV 32;
    SET i = i + 1;
  END WHILE;
  SET i = 1;
  WHILE i <= 10 DO
    SET id = CONCAT(id, SUBSTRING(alphabet, ASCII(SUBSTRING(r, i, 1)) MOD 32 + 1, 1));
    SET i = i + 1;
  END WHILE;
  RETURN id;
END;

-- Raises OB001 for `field`. A value quoted in a message is cut to 100 characters: the server
-- sends at most 511 bytes of an error message.
CREATE PROCEDURE {{prefix}}enqueue_invalid(IN field TEXT CHARACTER SET utf8mb4,
  IN message TEXT CHARACTER SET utf8mb4)
  NO SQL
BEGIN
  DECLARE v_text VARCHAR(512) CHARACTER SET utf8mb4 DEFAULT LEFT(CONCAT(field, ': ', message), 512);
  DECLARE v_column VARCHAR(64) CHARACTER SET utf8mb4 DEFAULT LEFT(field, 64);
  SIGNAL SQLSTATE 'OB001' SET MESSAGE_TEXT = v_text, MYSQL_ERRNO = 45001, COLUMN_NAME = v_column;
END;

-- A value as JSON text, cut to 100 characters, for a message.
CREATE FUNCTION {{prefix}}enqueue_shown(shown LONGTEXT CHARACTER SET utf8mb4)
  RETURNS TEXT CHARACTER SET utf8mb4
  DETERMINISTIC NO SQL
RETURN CASE WHEN shown IS NULL THEN 'NULL'
  WHEN CHAR_LENGTH(shown) > 100 THEN CONCAT(JSON_QUOTE(LEFT(shown, 100)), '…')
  ELSE JSON_QUOTE(shown) END;

CREATE PROCEDURE {{prefix}}enqueue(
  IN p_raw LONGBLOB,
  IN p_mail_from TEXT CHARACTER SET utf8mb4,
  IN p_rcpt_to LONGTEXT CHARACTER SET utf8mb4,
  IN p_options LONGTEXT CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
  -- Callers need EXECUTE on this procedure only, not rights on the queue's tables.
  SQL SECURITY DEFINER
body: BEGIN
  DECLARE v_from TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT p_mail_from;
  DECLARE v_rcpt LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT '[]';
  DECLARE v_opts LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT COALESCE(p_options, '{}');
  DECLARE v_item LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_text LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_keys LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_message TEXT CHARACTER SET utf8mb4;
  DECLARE i INT DEFAULT 0;
  DECLARE n INT DEFAULT 0;
  DECLARE v_priority VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT 'normal';
  DECLARE v_send_at BIGINT DEFAULT NULL;
  DECLARE v_key VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_tags TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT '[]';
  DECLARE v_upstream VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL;
  DECLARE v_ignore TINYINT DEFAULT 0;
  DECLARE v_max INT;
  DECLARE v_upstreams LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_date DATETIME(6);
  DECLARE v_zone VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_found VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
  DECLARE v_dup TINYINT DEFAULT 0;
  DECLARE v_attempts INT DEFAULT 0;
  -- Only the INSERT below can raise it: the key (or, once in 2^50, the new id) is taken.
  DECLARE CONTINUE HANDLER FOR 1062 SET v_dup = 1;

  IF v_from IS NULL OR (v_from <> '' AND NOT {{prefix}}is_valid_address(v_from)) THEN
    CALL {{prefix}}enqueue_invalid('mail_from', CONCAT('the envelope sender ',
      {{prefix}}enqueue_shown(v_from), ' is not a valid address.'));
  END IF;
  IF p_rcpt_to IS NULL OR NOT JSON_VALID(p_rcpt_to) THEN
    CALL {{prefix}}enqueue_invalid('rcpt_to',
      'rcpt_to must be a JSON array of addresses, such as ["a@example.com"].');
  END IF;
  IF JSON_TYPE(p_rcpt_to) <> 'ARRAY' THEN
    CALL {{prefix}}enqueue_invalid('rcpt_to',
      'rcpt_to must be a JSON array of addresses, such as ["a@example.com"].');
  END IF;
  SET n = JSON_LENGTH(p_rcpt_to);
  IF n = 0 THEN
    CALL {{prefix}}enqueue_invalid('rcpt_to',
      'the message has no recipients: rcpt_to must list at least one address.');
  END IF;
  WHILE i < n DO
    SET v_item = JSON_EXTRACT(p_rcpt_to, CONCAT('$[', i, ']'));
    SET v_text = IF(JSON_TYPE(v_item) = 'STRING', JSON_UNQUOTE(v_item), NULL);
    IF v_text IS NULL OR NOT {{prefix}}is_valid_address(v_text) THEN
      CALL {{prefix}}enqueue_invalid(CONCAT('rcpt_to[', i + 1, ']'), CONCAT('the recipient ',
        IF(v_text IS NULL, LEFT(v_item, 100), {{prefix}}enqueue_shown(v_text)),
        ' is not a valid address.'));
    END IF;
    SET v_rcpt = JSON_ARRAY_APPEND(v_rcpt, '$', v_text);
    SET i = i + 1;
  END WHILE;
  IF p_raw IS NULL OR OCTET_LENGTH(p_raw) = 0 THEN
    CALL {{prefix}}enqueue_invalid('raw', 'raw must hold the message bytes.');
  END IF;

  IF NOT JSON_VALID(v_opts) THEN
    CALL {{prefix}}enqueue_invalid('options', 'options must be a JSON object.');
  END IF;
  IF JSON_TYPE(v_opts) <> 'OBJECT' THEN
    CALL {{prefix}}enqueue_invalid('options', 'options must be a JSON object.');
  END IF;
  SET v_keys = JSON_KEYS(v_opts), i = 0, n = JSON_LENGTH(v_keys);
  WHILE i < n DO
    SET v_text = JSON_UNQUOTE(JSON_EXTRACT(v_keys, CONCAT('$[', i, ']')));
    IF v_text NOT IN ('priority', 'send_at', 'idempotency_key', 'tags', 'upstream',
                      'ignore_suppression') THEN
      CALL {{prefix}}enqueue_invalid(CONCAT('options.', LEFT(v_text, 40)), CONCAT('unknown option ',
        {{prefix}}enqueue_shown(v_text), '. Known options: ',
        'priority, send_at, idempotency_key, tags, upstream, ignore_suppression.'));
    END IF;
    SET i = i + 1;
  END WHILE;

  IF JSON_CONTAINS_PATH(v_opts, 'one', '$.priority') THEN
    SET v_item = JSON_EXTRACT(v_opts, '$.priority');
    SET v_text = IF(JSON_TYPE(v_item) = 'STRING', JSON_UNQUOTE(v_item), NULL);
    IF v_text IS NULL OR v_text NOT IN ('now', 'high', 'normal', 'low') THEN
      CALL {{prefix}}enqueue_invalid('options.priority',
        'options.priority must be one of now, high, normal, low.');
    END IF;
    SET v_priority = v_text;
  END IF;

  IF JSON_CONTAINS_PATH(v_opts, 'one', '$.send_at') THEN
    -- ISO 8601, a date and a time to the minute, second or fraction, with Z or an offset: a
    -- time without one would mean the server's zone here and the process's in JavaScript.
    SET v_item = JSON_EXTRACT(v_opts, '$.send_at');
    SET v_text = IF(JSON_TYPE(v_item) = 'STRING', JSON_UNQUOTE(v_item), NULL);
    IF v_text REGEXP '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)\\z' THEN
      -- The zone, in what follows the date (or NULL).
      SET v_zone = NULLIF(REGEXP_SUBSTR(SUBSTRING(v_text, 11), '([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)\\z'), '');
      BEGIN
        -- A date that does not exist (February 30th, hour 25): an error in strict mode.
        DECLARE CONTINUE HANDLER FOR 1292 SET v_date = NULL;
        SET v_date = CAST(REPLACE(LEFT(REGEXP_REPLACE(SUBSTRING(v_text, 1,
            CHAR_LENGTH(v_text) - CHAR_LENGTH(COALESCE(v_zone, ''))), '[Tt]', ' '), 26), ',', '.')
          AS DATETIME(6));
      END;
    ELSE
      SET v_date = NULL;
    END IF;
    IF v_date IS NULL THEN
      CALL {{prefix}}enqueue_invalid('options.send_at', CONCAT('options.send_at is not a valid time: ',
        LEFT(v_item, 100), '; give an ISO 8601 time with its offset, such as 2030-01-02T03:04:05Z or 2030-01-02T04:04:05+01:00.'));
    END IF;
    -- The offset as +HH or +HHMM, in minutes east of UTC.
    SET v_zone = REPLACE(v_zone, ':', '');
    SET v_send_at = TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', v_date) DIV 1000
      - 60000 * CASE WHEN v_zone IS NULL OR v_zone IN ('Z', 'z') THEN 0
          ELSE IF(LEFT(v_zone, 1) = '-', -1, 1) * (CAST(SUBSTRING(v_zone, 2, 2) AS SIGNED) * 60
            + IF(CHAR_LENGTH(v_zone) = 5, CAST(SUBSTRING(v_zone, 4, 2) AS SIGNED), 0)) END;
  END IF;

  IF JSON_CONTAINS_PATH(v_opts, 'one', '$.idempotency_key') THEN
    SET v_item = JSON_EXTRACT(v_opts, '$.idempotency_key');
    SET v_text = IF(JSON_TYPE(v_item) = 'STRING', JSON_UNQUOTE(v_item), NULL);
    IF v_text IS NULL OR v_text = '' OR OCTET_LENGTH(CONVERT(v_text USING utf16)) DIV 2 > 255
       OR v_text REGEXP '[\\x{0}-\\x{1f}\\x{7f}]' THEN
      CALL {{prefix}}enqueue_invalid('options.idempotency_key',
        'options.idempotency_key must be 1 to 255 characters without control characters.');
    END IF;
    SET v_key = v_text;
  END IF;

  IF JSON_CONTAINS_PATH(v_opts, 'one', '$.tags') THEN
    SET v_item = JSON_EXTRACT(v_opts, '$.tags');
    IF JSON_TYPE(v_item) <> 'ARRAY' OR JSON_LENGTH(v_item) > 20 THEN
      CALL {{prefix}}enqueue_invalid('options.tags', 'options.tags must be an array of up to 20 tags.');
    END IF;
    SET i = 0, n = JSON_LENGTH(v_item);
    WHILE i < n DO
      SET v_text = JSON_EXTRACT(v_item, CONCAT('$[', i, ']'));
      SET v_text = IF(JSON_TYPE(v_text) = 'STRING', JSON_UNQUOTE(v_text), NULL);
      IF v_text IS NULL OR v_text = '' OR OCTET_LENGTH(CONVERT(v_text USING utf16)) DIV 2 > 64
         OR v_text REGEXP '[,\\x{0}-\\x{20}\\x{7f}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]' THEN
        CALL {{prefix}}enqueue_invalid(CONCAT('options.tags[', i + 1, ']'),
          'a tag must be 1 to 64 characters with no spaces, commas or control characters.');
      END IF;
      -- Each tag once, in order, as sendRaw() keeps them.
      IF NOT JSON_CONTAINS(v_tags, JSON_QUOTE(v_text)) THEN
        SET v_tags = JSON_ARRAY_APPEND(v_tags, '$', v_text);
      END IF;
      SET i = i + 1;
    END WHILE;
  END IF;

  IF JSON_CONTAINS_PATH(v_opts, 'one', '$.ignore_suppression') THEN
    SET v_item = JSON_EXTRACT(v_opts, '$.ignore_suppression');
    IF JSON_TYPE(v_item) <> 'BOOLEAN' THEN
      CALL {{prefix}}enqueue_invalid('options.ignore_suppression',
        'options.ignore_suppression must be true or false.');
    END IF;
    SET v_ignore = (v_item = 'true');
  END IF;

  SELECT max_message_size, upstreams INTO v_max, v_upstreams
    FROM {{prefix}}submission_settings WHERE one = 1;
  IF JSON_CONTAINS_PATH(v_opts, 'one', '$.upstream') THEN
    SET v_item = JSON_EXTRACT(v_opts, '$.upstream');
    SET v_text = IF(JSON_TYPE(v_item) = 'STRING', JSON_UNQUOTE(v_item), NULL);
    IF v_text IS NULL OR NOT v_text REGEXP '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\\z'
       OR (v_upstreams IS NOT NULL AND NOT JSON_CONTAINS(v_upstreams, JSON_QUOTE(v_text))) THEN
      SET v_message = NULL;
      IF v_upstreams IS NOT NULL THEN
        SELECT GROUP_CONCAT(u.name ORDER BY u.n SEPARATOR ', ') INTO v_message
          FROM JSON_TABLE(v_upstreams, '$[*]' COLUMNS (n FOR ORDINALITY,
            name VARCHAR(64) PATH '$')) u;
      END IF;
      CALL {{prefix}}enqueue_invalid('options.upstream', CONCAT(
        'options.upstream names no configured upstream: ',
        IF(v_text IS NULL, LEFT(v_item, 100), {{prefix}}enqueue_shown(v_text)), ' (known: ',
        COALESCE(v_message, IF(v_upstreams IS NULL, 'unknown until a worker has run', '')), ').'));
    END IF;
    SET v_upstream = v_text;
  END IF;
  IF OCTET_LENGTH(p_raw) > v_max THEN
    SET v_message = CONCAT('raw: the message is ', OCTET_LENGTH(p_raw), ' bytes, over the ',
      v_max, '-byte limit.');
    SIGNAL SQLSTATE 'OB002' SET MESSAGE_TEXT = v_message, MYSQL_ERRNO = 45002,
      COLUMN_NAME = 'raw';
  END IF;

  IF v_key IS NOT NULL THEN
    SET v_found = (SELECT MAX(m.id) FROM {{prefix}}messages m WHERE m.idempotency_key = v_key);
    IF v_found IS NOT NULL THEN
      SELECT v_found AS id;
      LEAVE body;
    END IF;
  END IF;
  store: LOOP
    SET v_id = {{prefix}}new_queue_id(), v_dup = 0, v_attempts = v_attempts + 1;
    INSERT INTO {{prefix}}submissions (id, raw, mail_from, rcpt_to, priority, send_at,
      idempotency_key, tags, upstream, ignore_suppression, created_at)
    VALUES (v_id, p_raw, v_from, v_rcpt, v_priority, v_send_at, v_key, v_tags, v_upstream,
      v_ignore, TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000);
    IF v_dup = 0 THEN LEAVE store; END IF;
    IF v_key IS NOT NULL THEN
      -- Another caller's submission holds the key, or it was moved into the queue meanwhile.
      -- A plain read first; when the holder committed after this transaction's snapshot
      -- (REPEATABLE READ), a locking read, which sees it.
      SET v_found = (SELECT MAX(s.id) FROM {{prefix}}submissions s WHERE s.idempotency_key = v_key);
      IF v_found IS NULL THEN
        SELECT MAX(s.id) INTO v_found FROM {{prefix}}submissions s
          WHERE s.idempotency_key = v_key LOCK IN SHARE MODE;
      END IF;
      IF v_found IS NULL THEN
        SET v_found = (SELECT MAX(m.id) FROM {{prefix}}messages m WHERE m.idempotency_key = v_key);
      END IF;
      IF v_found IS NULL THEN
        SELECT MAX(m.id) INTO v_found FROM {{prefix}}messages m
          WHERE m.idempotency_key = v_key LOCK IN SHARE MODE;
      END IF;
      IF v_found IS NOT NULL THEN
        SELECT v_found AS id;
        LEAVE body;
      END IF;
    END IF;
    IF v_attempts >= 3 THEN
      SIGNAL SQLSTATE '40001' SET MESSAGE_TEXT = 'outbox_enqueue: the submission could not be stored (its key was taken and released); try again.';
    END IF;
  END LOOP;
  IF v_key IS NOT NULL THEN
    -- A message with the key committed between the first look and the insert.
    SET v_found = (SELECT MAX(m.id) FROM {{prefix}}messages m WHERE m.idempotency_key = v_key);
    IF v_found IS NOT NULL THEN
      DELETE FROM {{prefix}}submissions WHERE id = v_id;
      SELECT v_found AS id;
      LEAVE body;
    END IF;
  END IF;
  SELECT v_id AS id;
END;

SET SESSION sql_mode = @outbox_saved_sql_mode;
