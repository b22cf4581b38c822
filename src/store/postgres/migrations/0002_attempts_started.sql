-- The dashboard's activity chart and upstream health read the attempt log by time.
CREATE INDEX attempts_started ON {{schema}}.attempts (started_at);
