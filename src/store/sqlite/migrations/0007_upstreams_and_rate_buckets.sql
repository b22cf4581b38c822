-- Traffic shaping. The upstream a message's send options name (NULL: the routes decide) and the
-- upstream each attempt used, for per-upstream activity (read through attempts_started, 0004).
ALTER TABLE messages ADD COLUMN upstream TEXT;
ALTER TABLE attempts ADD COLUMN upstream TEXT;

-- Token buckets shared by every process on the queue (see src/store/rate-bucket.ts). Times are
-- milliseconds since the epoch. A row whose rate is NULL was only created to be locked and reads
-- as a new bucket.
CREATE TABLE rate_buckets (
  bucket_key   TEXT PRIMARY KEY,
  tokens       REAL NOT NULL,
  updated_at   INTEGER NOT NULL,
  rate         REAL,
  throttled_at INTEGER,
  -- The last turn handed to a refused request (see BucketRow.scheduledUntil).
  scheduled_until INTEGER
) STRICT, WITHOUT ROWID;

-- What each worker last reported of each upstream; a report counts until expires_at.
CREATE TABLE upstream_reports (
  worker        TEXT NOT NULL,
  upstream      TEXT NOT NULL,
  down          INTEGER NOT NULL,
  down_since    INTEGER,
  misconfigured INTEGER NOT NULL,
  last_error    TEXT,
  last_error_at INTEGER,
  connections   INTEGER NOT NULL,
  reported_at   INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  PRIMARY KEY (worker, upstream)
) STRICT, WITHOUT ROWID;
