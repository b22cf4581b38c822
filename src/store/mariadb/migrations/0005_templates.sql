-- Stored templates: each version of each language of a template, never changed once written
-- (a change is a new version, the latest plus one; of two writers that took the same version
-- the primary key refuses the second, which runs again). Parts may be large (a megabyte of
-- HTML): MEDIUMTEXT, as TEXT ends at 64 KB. Binary collation, so that names and languages
-- compare and sort byte for byte as in every store. Times in ms since the epoch.
CREATE TABLE {{prefix}}templates (
  name       VARCHAR(255) NOT NULL,
  language   VARCHAR(64) NOT NULL,
  version    INT NOT NULL,
  subject    MEDIUMTEXT NOT NULL,
  html       MEDIUMTEXT NULL,
  text       MEDIUMTEXT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (name, language, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The template a message was made from, as JSON text {"name", "language", "version"}; NULL
-- for a message made without one.
ALTER TABLE {{prefix}}messages ADD COLUMN template TEXT NULL;
