-- Stored templates: each version of each language of a template, never changed once written
-- (a change is a new version, the latest plus one). Parts may be large (a megabyte of HTML):
-- a rowid table, which keeps big rows out of its index. Times in ms since the epoch.
CREATE TABLE templates (
  name       TEXT NOT NULL,
  language   TEXT NOT NULL,
  version    INTEGER NOT NULL,
  subject    TEXT NOT NULL,
  html       TEXT,
  text       TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (name, language, version)
) STRICT;

-- The template a message was made from, as JSON text {"name", "language", "version"}; NULL
-- for a message made without one.
ALTER TABLE messages ADD COLUMN template TEXT;
