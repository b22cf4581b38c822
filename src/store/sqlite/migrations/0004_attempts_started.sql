-- The dashboard's activity chart and upstream health read the attempt log by time.
CREATE INDEX attempts_started ON attempts (started_at);
