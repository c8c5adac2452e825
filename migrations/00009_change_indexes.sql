-- +goose Up

-- Recommendation models check every few seconds whether a store's orders or
-- products changed (max(updated_at)); without these indexes each check read
-- all of the store's rows.
CREATE INDEX orders_store_updated_idx ON orders (store_id, updated_at);
CREATE INDEX products_store_updated_idx ON products (store_id, updated_at);

-- +goose Down
DROP INDEX products_store_updated_idx;
DROP INDEX orders_store_updated_idx;
