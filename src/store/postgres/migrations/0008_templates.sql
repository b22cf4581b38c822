-- Stored templates: each version of each language of a template, never changed once written
-- (a change is a new version, the latest plus one, written under an advisory lock on the
-- name and language: see template-queries.ts).
CREATE TABLE {{schema}}.templates (
  name       text NOT NULL,
  language   text NOT NULL,
  version    integer NOT NULL,
  subject    text NOT NULL,
  html       text,
  text       text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (name, language, version)
);

-- The template a message was made from, {"name", "language", "version"}; NULL for a message
-- made without one. Written once, with the message: in `messages`, not `queue`.
ALTER TABLE {{schema}}.messages ADD COLUMN template jsonb;
