-- The suppression list: addresses never tried again (a permanent "no such user", a bounce, a
-- complaint, an operator's choice). Addresses are lower-cased; binary collation, so that pages
-- run in byte order as in every store. Times in ms since the epoch.
CREATE TABLE {{prefix}}suppressions (
  address    VARCHAR(512) NOT NULL,
  reason     VARCHAR(32) NOT NULL,
  reply      TEXT NULL,
  message_id VARCHAR(64) NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What came back after delivery (`bounced`, `complained`): the status stays `sent`, so that
-- nothing treats the recipient as pending or failed again; listings show the feedback instead.
ALTER TABLE {{prefix}}recipients ADD COLUMN feedback VARCHAR(16) NULL;
