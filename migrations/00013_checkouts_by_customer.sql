-- +goose Up

-- Abandoned-checkout emails show the customer's latest abandoned checkout,
-- looked up for a chunk of recipients at a time; without this index each
-- lookup read every checkout of every store.
CREATE INDEX checkouts_customer_abandoned_idx ON checkouts (customer_id, updated_at) WHERE status = 'abandoned';

-- +goose Down
DROP INDEX checkouts_customer_abandoned_idx;
