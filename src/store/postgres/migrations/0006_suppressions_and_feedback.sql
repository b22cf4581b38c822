-- The suppression list: addresses never tried again (a permanent "no such user", a bounce, a
-- complaint, an operator's choice). Addresses are lower-cased.
CREATE TABLE {{schema}}.suppressions (
  address    text PRIMARY KEY,
  reason     text NOT NULL,
  reply      text,
  message_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- What came back after delivery (`bounced`, `complained`): the status stays `sent`, so that
-- nothing treats the recipient as pending or failed again; listings show the feedback instead.
ALTER TABLE {{schema}}.recipients ADD COLUMN feedback text;
