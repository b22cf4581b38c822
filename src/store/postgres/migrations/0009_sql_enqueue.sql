-- Enqueue from SQL, in the caller's own transaction, from any language:
--   SELECT outbox.enqueue(raw bytea, mail_from text, rcpt_to text[], options jsonb DEFAULT '{}')
-- returns the queue id. The function checks what the database can check (addresses, CR/LF,
-- the size limit, the options) and raises a typed error naming the field; it stores the
-- message as a submission and notifies the workers, which see it at the caller's COMMIT and
-- never after a ROLLBACK. An Outbox process then moves each submission into the queue with
-- the same code as sendRaw() (Message-ID, line endings, Subject, DKIM), in one transaction
-- that deletes the submission: one implementation of composing, not one per language.
--
-- SQLSTATE (stable, class OB): OB001 a field is invalid (the column diagnostic names it),
-- OB002 the message is over the size limit.

-- What the function checks against, written by Outbox's workers from their configuration
-- (see sql-submissions.ts): the size limit and the names of the configured upstreams (NULL
-- until a worker has run: any name is taken, and checked when the submission is moved).
CREATE TABLE {{schema}}.submission_settings (
  only_row         boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  max_message_size integer NOT NULL,
  upstreams        text[],
  updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO {{schema}}.submission_settings (max_message_size) VALUES (26214400);

CREATE TABLE {{schema}}.submissions (
  id                 text PRIMARY KEY,
  seq                bigserial NOT NULL,
  raw                bytea NOT NULL,
  mail_from          text NOT NULL,
  rcpt_to            text[] NOT NULL,
  priority           text NOT NULL,
  send_at            timestamptz,
  idempotency_key    text,
  tags               text[] NOT NULL,
  upstream           text,
  ignore_suppression boolean NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  -- Set when Outbox could not take it (it is then kept, never tried again): what was wrong.
  error              text
);
CREATE INDEX submissions_waiting ON {{schema}}.submissions (seq) WHERE error IS NULL;
-- Two callers with one key: the second waits for the first's transaction, then finds it.
CREATE UNIQUE INDEX submissions_idempotency_key ON {{schema}}.submissions (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- The address check of validate-mail.ts isValidAddress(), character for character: JavaScript's
-- \s is spelled out, since [:space:] depends on the database's locale.
CREATE FUNCTION {{schema}}.is_valid_address(address text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
  SELECT char_length(address)
      -- JavaScript counts a character beyond U+FFFF twice (UTF-16).
      + char_length(regexp_replace(address, '[^\U00010000-\U0010FFFF]', '', 'g')) <= 320
    AND (
      address ~ '^[^@<>()\[\]\\,;:"\u0001-\u001f\u007f\u0009-\u000d \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+@[^@<>()\[\]\\,;:"\u0001-\u001f\u007f\u0009-\u000d \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$'
      OR address ~ '^"[^"\u000d\u000a\\]*"@[^@<>()\[\]\\,;:"\u0001-\u001f\u007f\u0009-\u000d \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$'
    )
    AND NOT (
      substr(address, length(address) - strpos(reverse(address), '@') + 2) LIKE '.%'
      OR substr(address, length(address) - strpos(reverse(address), '@') + 2) LIKE '%.'
      OR substr(address, length(address) - strpos(reverse(address), '@') + 2) LIKE '%..%'
    )
$$;

-- A queue id as createQueueId() makes it: 10 characters of millisecond time, 10 random ones,
-- in Crockford's base32 (lower case).
CREATE FUNCTION {{schema}}.new_queue_id() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog
AS $$
DECLARE
  alphabet constant text := '0123456789abcdefghjkmnpqrstvwxyz';
  t bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
  id text := '';
  random bytea := uuid_send(gen_random_uuid());
  i int;
BEGIN
  FOR i IN 1..10 LOOP
    id := substr(alphabet, (t % 32)::int + 1, 1) || id;
    t := t / 32;
  END LOOP;
  -- Bytes 6 and 8 of a version 4 UUID carry fixed bits: skipped.
  FOREACH i IN ARRAY ARRAY[0, 1, 2, 3, 4, 5, 7, 9, 10, 11] LOOP
    id := id || substr(alphabet, get_byte(random, i) % 32 + 1, 1);
  END LOOP;
  RETURN id;
END
$$;

CREATE FUNCTION {{schema}}.invalid(field text, message text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'OB001', COLUMN = field,
    MESSAGE = 'outbox.enqueue: ' || field || ': ' || message,
    HINT = 'Fix ' || field || ' and call outbox.enqueue() again; nothing was stored.';
END
$$;

CREATE FUNCTION {{schema}}.enqueue(raw bytea, mail_from text, rcpt_to text[],
  options jsonb DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql VOLATILE
-- Callers need EXECUTE on this function only, not rights on the queue's tables.
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  settings record;
  opts jsonb := coalesce(options, '{}');
  key text;
  rcpt text;
  n int := 0;
  v_priority text := 'normal';
  v_send_at timestamptz;
  v_idempotency_key text;
  v_tags text[] := '{}';
  tag jsonb;
  v_upstream text;
  v_ignore_suppression boolean := false;
  found_id text;
  new_id text;
BEGIN
  IF mail_from IS NULL OR (mail_from <> '' AND NOT {{schema}}.is_valid_address(mail_from)) THEN
    PERFORM {{schema}}.invalid('mail_from',
      format('the envelope sender %s is not a valid address.', coalesce(to_json(mail_from)::text, 'NULL')));
  END IF;
  IF rcpt_to IS NULL OR cardinality(rcpt_to) = 0 THEN
    PERFORM {{schema}}.invalid('rcpt_to',
      'the message has no recipients: rcpt_to must list at least one address.');
  END IF;
  FOREACH rcpt IN ARRAY rcpt_to LOOP
    IF rcpt IS NULL OR NOT {{schema}}.is_valid_address(rcpt) THEN
      PERFORM {{schema}}.invalid(format('rcpt_to[%s]', n + 1),
        format('the recipient %s is not a valid address.', coalesce(to_json(rcpt)::text, 'NULL')));
    END IF;
    n := n + 1;
  END LOOP;
  IF raw IS NULL OR octet_length(raw) = 0 THEN
    PERFORM {{schema}}.invalid('raw', 'raw must hold the message bytes.');
  END IF;

  IF jsonb_typeof(opts) <> 'object' THEN
    PERFORM {{schema}}.invalid('options', 'options must be a JSON object.');
  END IF;
  FOR key IN SELECT jsonb_object_keys(opts) LOOP
    IF key NOT IN ('priority', 'send_at', 'idempotency_key', 'tags', 'upstream',
                   'ignore_suppression') THEN
      PERFORM {{schema}}.invalid('options.' || key, format('unknown option %s. Known options: '
        'priority, send_at, idempotency_key, tags, upstream, ignore_suppression.', to_json(key)));
    END IF;
  END LOOP;
  IF opts ? 'priority' THEN
    IF jsonb_typeof(opts->'priority') <> 'string'
       OR opts->>'priority' NOT IN ('now', 'high', 'normal', 'low') THEN
      PERFORM {{schema}}.invalid('options.priority',
        'options.priority must be one of now, high, normal, low.');
    END IF;
    v_priority := opts->>'priority';
  END IF;
  IF opts ? 'send_at' THEN
    BEGIN
      -- ISO 8601 with its offset: a time without one would be read in the session's time
      -- zone here and in the process's own by JavaScript.
      IF jsonb_typeof(opts->'send_at') <> 'string' OR opts->>'send_at' !~
         '^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?([Zz]|[+-]\d\d(:?\d\d)?)$' THEN
        RAISE invalid_datetime_format;
      END IF;
      v_send_at := (opts->>'send_at')::timestamptz;
      IF NOT isfinite(v_send_at) THEN RAISE invalid_datetime_format; END IF;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
      PERFORM {{schema}}.invalid('options.send_at',
        format('options.send_at is not a valid time: %s; give an ISO 8601 time with its offset, such as 2030-01-02T03:04:05Z or 2030-01-02T04:04:05+01:00.', opts->'send_at'));
    END;
  END IF;
  IF opts ? 'idempotency_key' THEN
    v_idempotency_key := opts->>'idempotency_key';
    IF jsonb_typeof(opts->'idempotency_key') <> 'string' OR char_length(v_idempotency_key) < 1
       OR char_length(v_idempotency_key) > 255 OR v_idempotency_key ~ '[\u0001-\u001f\u007f]' THEN
      PERFORM {{schema}}.invalid('options.idempotency_key',
        'options.idempotency_key must be 1 to 255 characters without control characters.');
    END IF;
  END IF;
  IF opts ? 'tags' THEN
    IF jsonb_typeof(opts->'tags') <> 'array' OR jsonb_array_length(opts->'tags') > 20 THEN
      PERFORM {{schema}}.invalid('options.tags', 'options.tags must be an array of up to 20 tags.');
    END IF;
    n := 0;
    FOR tag IN SELECT t FROM jsonb_array_elements(opts->'tags') AS e(t) LOOP
      IF jsonb_typeof(tag) <> 'string' OR char_length(tag #>> '{}') NOT BETWEEN 1 AND 64
         OR (tag #>> '{}') ~ '[,\u0001-\u001f\u007f\u0009-\u000d \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]' THEN
        PERFORM {{schema}}.invalid(format('options.tags[%s]', n + 1),
          'a tag must be 1 to 64 characters with no spaces, commas or control characters.');
      END IF;
      -- Each tag once, in order, as sendRaw() keeps them.
      IF NOT (tag #>> '{}') = ANY(v_tags) THEN v_tags := v_tags || (tag #>> '{}'); END IF;
      n := n + 1;
    END LOOP;
  END IF;
  IF opts ? 'ignore_suppression' THEN
    IF jsonb_typeof(opts->'ignore_suppression') <> 'boolean' THEN
      PERFORM {{schema}}.invalid('options.ignore_suppression',
        'options.ignore_suppression must be true or false.');
    END IF;
    v_ignore_suppression := (opts->'ignore_suppression')::boolean;
  END IF;

  SELECT * INTO settings FROM {{schema}}.submission_settings;
  IF opts ? 'upstream' THEN
    v_upstream := opts->>'upstream';
    IF jsonb_typeof(opts->'upstream') <> 'string' OR v_upstream !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
       OR (settings.upstreams IS NOT NULL AND NOT v_upstream = ANY(settings.upstreams)) THEN
      PERFORM {{schema}}.invalid('options.upstream', format(
        'options.upstream names no configured upstream: %s (known: %s).', to_json(v_upstream),
        coalesce(array_to_string(settings.upstreams, ', '), 'unknown until a worker has run')));
    END IF;
  END IF;
  IF octet_length(raw) > settings.max_message_size THEN
    RAISE EXCEPTION USING ERRCODE = 'OB002', COLUMN = 'raw',
      MESSAGE = format('outbox.enqueue: the message is %s bytes, over the %s-byte limit.',
        octet_length(raw), settings.max_message_size),
      HINT = 'Send a smaller message (attachments as links), or raise maxMessageSize.';
  END IF;

  IF v_idempotency_key IS NOT NULL THEN
    SELECT m.id INTO found_id FROM {{schema}}.messages m WHERE m.idempotency_key = v_idempotency_key;
    IF found_id IS NOT NULL THEN RETURN found_id; END IF;
  END IF;
  new_id := {{schema}}.new_queue_id();
  INSERT INTO {{schema}}.submissions AS s (id, raw, mail_from, rcpt_to, priority, send_at,
    idempotency_key, tags, upstream, ignore_suppression)
  VALUES (new_id, raw, mail_from, rcpt_to, v_priority, v_send_at, v_idempotency_key, v_tags, v_upstream,
    v_ignore_suppression)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    -- Another caller's submission holds the key, or it was moved into the queue meanwhile.
    SELECT s.id INTO found_id FROM {{schema}}.submissions s WHERE s.idempotency_key = v_idempotency_key;
    IF found_id IS NULL THEN
      SELECT m.id INTO found_id FROM {{schema}}.messages m WHERE m.idempotency_key = v_idempotency_key;
    END IF;
    RETURN found_id;
  END IF;
  IF v_idempotency_key IS NOT NULL THEN
    -- A message with the key committed between the first look and the insert.
    SELECT m.id INTO found_id FROM {{schema}}.messages m WHERE m.idempotency_key = v_idempotency_key;
    IF found_id IS NOT NULL THEN
      DELETE FROM {{schema}}.submissions s WHERE s.id = new_id;
      RETURN found_id;
    END IF;
  END IF;
  -- Delivered at COMMIT only: the workers (LISTEN) wake then, or never after a ROLLBACK.
  PERFORM pg_notify({{channel}}, '');
  RETURN new_id;
END
$$;

REVOKE ALL ON FUNCTION {{schema}}.enqueue(bytea, text, text[], jsonb) FROM PUBLIC;
