-- +goose Up

-- Deleting order lines (or a store) scanned refund_lines once per line.
CREATE INDEX refund_lines_order_line_idx ON refund_lines (order_line_id);

-- order_lines.product_id is kept without a foreign key: products are never
-- deleted, every writer creates the product first, and checking the key for
-- each of the hundreds of thousands of lines of a history import cost over a
-- third of the import's time.
ALTER TABLE order_lines DROP CONSTRAINT order_lines_product_id_fkey;

-- +goose Down
ALTER TABLE order_lines ADD CONSTRAINT order_lines_product_id_fkey FOREIGN KEY (product_id) REFERENCES products ON DELETE SET NULL;
DROP INDEX refund_lines_order_line_idx;
