-- The suppression list: addresses never tried again (a permanent "no such user", a bounce, a
-- complaint, an operator's choice). Addresses are lower-cased; times in ms since the epoch.
CREATE TABLE suppressions (
  address    TEXT PRIMARY KEY,
  reason     TEXT NOT NULL,
  reply      TEXT,
  message_id TEXT,
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- What came back after delivery (`bounced`, `complained`): the status stays `sent`, so that
-- nothing treats the recipient as pending or failed again; listings show the feedback instead.
ALTER TABLE recipients ADD COLUMN feedback TEXT;
