-- Indexes for the operator's queries: listing newest first with a stable tie-break, finding
-- messages by sender or recipient, and counting what finished recently.

CREATE INDEX messages_created_id ON messages (created_at, id);
CREATE INDEX messages_status_created_id ON messages (status, created_at, id);
CREATE INDEX messages_from ON messages (mail_from COLLATE NOCASE);
CREATE INDEX messages_status_finished ON messages (status, finished_at);
CREATE INDEX recipients_address ON recipients (address COLLATE NOCASE);

DROP INDEX messages_created;
DROP INDEX messages_status_created;
