-- Traffic shaping. The upstream a message's send options name (NULL: the routes decide), kept
-- with what is written once (the claim reads `messages` anyway), and the upstream each attempt
-- used, for per-upstream activity (read through attempts_started, 0002).
ALTER TABLE {{schema}}.messages ADD COLUMN upstream text;
ALTER TABLE {{schema}}.attempts ADD COLUMN upstream text;

-- Token buckets shared by every process on the queue (see src/store/rate-bucket.ts). Times are
-- milliseconds since the epoch by the database's clock, as the arithmetic in JavaScript uses
-- them. A row whose rate is NULL was only created to be locked and reads as a new bucket.
CREATE TABLE {{schema}}.rate_buckets (
  bucket_key   text PRIMARY KEY,
  tokens       double precision NOT NULL,
  updated_at   double precision NOT NULL,
  rate         double precision,
  throttled_at double precision,
  -- The last turn handed to a refused request (see BucketRow.scheduledUntil).
  scheduled_until double precision
);

-- What each worker last reported of each upstream; a report counts until expires_at (ms).
CREATE TABLE {{schema}}.upstream_reports (
  worker        text NOT NULL,
  upstream      text NOT NULL,
  down          boolean NOT NULL,
  down_since    double precision,
  misconfigured boolean NOT NULL,
  last_error    text,
  last_error_at double precision,
  connections   integer NOT NULL,
  reported_at   double precision NOT NULL,
  expires_at    double precision NOT NULL,
  PRIMARY KEY (worker, upstream)
);
