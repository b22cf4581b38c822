-- Traffic shaping. The upstream a message's send options name (NULL: the routes decide) and the
-- upstream each attempt used, for per-upstream activity (read through attempts_started, 0001).
-- Nullable columns at the end: added in place, without rebuilding the tables.
ALTER TABLE {{prefix}}messages ADD COLUMN upstream VARCHAR(255) NULL;
ALTER TABLE {{prefix}}attempts ADD COLUMN upstream VARCHAR(255) NULL;

-- Token buckets shared by every process on the queue (see src/store/rate-bucket.ts). Times are
-- milliseconds since the epoch by the database's clock. A row whose rate is NULL was only
-- created to be locked and reads as a new bucket.
CREATE TABLE {{prefix}}rate_buckets (
  bucket_key   VARCHAR(255) NOT NULL,
  tokens       DOUBLE NOT NULL,
  updated_at   BIGINT NOT NULL,
  rate         DOUBLE NULL,
  throttled_at BIGINT NULL,
  -- The last turn handed to a refused request (see BucketRow.scheduledUntil).
  scheduled_until BIGINT NULL,
  PRIMARY KEY (bucket_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What each worker last reported of each upstream; a report counts until expires_at.
CREATE TABLE {{prefix}}upstream_reports (
  worker        VARCHAR(255) NOT NULL,
  upstream      VARCHAR(255) NOT NULL,
  down          TINYINT NOT NULL,
  down_since    BIGINT NULL,
  misconfigured TINYINT NOT NULL,
  last_error    TEXT NULL,
  last_error_at BIGINT NULL,
  connections   INT NOT NULL,
  reported_at   BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  PRIMARY KEY (worker, upstream)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
