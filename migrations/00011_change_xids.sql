-- +goose Up

-- Recommendation models follow the orders and products a store commits. A
-- timestamp or an id cannot say what committed since a model last looked: a
-- transaction that began earlier may commit later with an older now() and a
-- lower id. Transaction ids can, against pg_snapshot_xmin(): every row
-- changed by a transaction older than that horizon is committed (or never
-- will be), so "changed_xid >= the last horizon" misses nothing.
-- created_xid tells an order new since then from a changed one.

-- +goose StatementBegin
CREATE FUNCTION remarket_stamp_changed_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;
-- +goose StatementEnd

ALTER TABLE orders ADD COLUMN created_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
                   ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE products ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TRIGGER orders_changed_xid BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION remarket_stamp_changed_xid();
CREATE TRIGGER products_changed_xid BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION remarket_stamp_changed_xid();
CREATE INDEX orders_store_changed_idx ON orders (store_id, changed_xid);
CREATE INDEX products_store_changed_idx ON products (store_id, changed_xid);

-- +goose Down
DROP TRIGGER products_changed_xid ON products;
DROP TRIGGER orders_changed_xid ON orders;
ALTER TABLE products DROP COLUMN changed_xid;
ALTER TABLE orders DROP COLUMN changed_xid, DROP COLUMN created_xid;
DROP FUNCTION remarket_stamp_changed_xid();
