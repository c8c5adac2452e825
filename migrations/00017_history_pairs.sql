-- +goose Up

-- Co-purchase within a customer's history: how many customers bought both
-- products, in any of their orders. It is read from customer_products, which
-- the order's own transaction keeps current (refunded and cancelled lines
-- leave it), so the count is always current with no table of its own: a
-- table of pairs per customer history would take an update for every
-- product a customer ever bought each time they buy a new one (thousands
-- per wholesaler order).
--
-- Read it for one product (WHERE product_a = X): the planner pushes that
-- into the scan, and this index finds the product's buyers.
CREATE INDEX customer_products_product_idx ON customer_products (product_id, customer_id);

CREATE VIEW history_pair_stats_now AS
SELECT a.store_id, a.product_id AS product_a, b.product_id AS product_b, count(*) AS customers
FROM customer_products a
JOIN customer_products b ON b.customer_id = a.customer_id AND b.product_id <> a.product_id
GROUP BY a.store_id, a.product_id, b.product_id;

-- +goose Down
DROP VIEW history_pair_stats_now;
DROP INDEX customer_products_product_idx;
