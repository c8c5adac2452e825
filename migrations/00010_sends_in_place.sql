-- +goose Up

-- Sending an email changes its ledger row twice: claimed (status, claimed_at)
-- and finished (status, sent_at, message_id). With status and sent_at in
-- indexes, every change wrote a new entry into each of the table's four
-- indexes; without them PostgreSQL updates the row in place (a HOT update)
-- when its page has room, which the fill factor leaves for new rows.
ALTER TABLE sends SET (fillfactor = 70);
CREATE INDEX sends_campaign_idx ON sends (campaign_id, id);
CREATE INDEX sends_customer_idx ON sends (customer_id);
DROP INDEX sends_campaign_status_idx;
DROP INDEX sends_customer_sent_idx;

-- Without an index on status, "is anything left to send" reads the whole
-- ledger; send jobs instead count themselves done, and the last one checks.
ALTER TABLE campaigns ADD COLUMN batches int NOT NULL DEFAULT 0,
                      ADD COLUMN batches_done int NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE campaigns DROP COLUMN batches_done, DROP COLUMN batches;
CREATE INDEX sends_customer_sent_idx ON sends (customer_id, sent_at);
CREATE INDEX sends_campaign_status_idx ON sends (campaign_id, status);
DROP INDEX sends_customer_idx;
DROP INDEX sends_campaign_idx;
ALTER TABLE sends RESET (fillfactor);
