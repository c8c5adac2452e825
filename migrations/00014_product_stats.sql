-- +goose Up

-- Product statistics that every order-processing transaction keeps current
-- (remarket_stats_sync), so nothing needs a nightly recompute:
-- buyers per product, same-order co-purchase counts, and each product's
-- repurchase interval. Price position within a category is a view, always
-- current. remarket_stats_rebuild recomputes a store's statistics from its
-- stored orders (after an import).
--
-- Hot counters would serialise order processing: every order of a
-- bestseller would wait for the last one to commit to update its row. So a
-- transaction appends its changes to the *_delta tables, which take inserts
-- without locks, and remarket_stats_fold adds them into the totals later;
-- readers see totals plus pending deltas (the *_now views).

-- order_stats is what each order counts for now: its products with the
-- units left after refunds; no row while it does not count (pending,
-- refunded in full, cancelled, test). Changes are computed against it.
CREATE TABLE order_stats (
    order_id    bigint PRIMARY KEY,
    store_id    bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    customer_id bigint,
    placed_at   timestamptz NOT NULL,
    products    bigint[] NOT NULL, -- sorted, distinct
    units       int[] NOT NULL     -- per product
);
CREATE INDEX order_stats_customer_idx ON order_stats (customer_id);

-- customer_products is a customer's history per product.
CREATE TABLE customer_products (
    customer_id bigint NOT NULL,
    product_id  bigint NOT NULL,
    store_id    bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    orders      int NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (customer_id, product_id)
);

CREATE TABLE product_stats (
    store_id      bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    product_id    bigint NOT NULL,
    orders        bigint NOT NULL DEFAULT 0, -- orders that hold it
    units         bigint NOT NULL DEFAULT 0,
    buyers        bigint NOT NULL DEFAULT 0, -- customers who bought it
    repeat_buyers bigint NOT NULL DEFAULT 0, -- customers who bought it in two orders or more
    repeat_gaps   bigint NOT NULL DEFAULT 0, -- sum over customers of their orders of it less one
    repeat_days   double precision NOT NULL DEFAULT 0, -- sum over customers of days from their first to their last
    PRIMARY KEY (store_id, product_id)
);
CREATE TABLE product_stats_delta (LIKE product_stats INCLUDING DEFAULTS);
CREATE INDEX product_stats_delta_idx ON product_stats_delta (store_id, product_id);

-- pair_stats counts the orders holding both products; product_a < product_b.
CREATE TABLE pair_stats (
    store_id  bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    product_a bigint NOT NULL,
    product_b bigint NOT NULL,
    orders    bigint NOT NULL,
    PRIMARY KEY (store_id, product_a, product_b)
);
CREATE INDEX pair_stats_b_idx ON pair_stats (store_id, product_b); -- a product's pairs where it is b
CREATE TABLE pair_stats_delta (LIKE pair_stats INCLUDING DEFAULTS);
CREATE INDEX pair_stats_delta_idx ON pair_stats_delta (store_id, product_a, product_b);

CREATE VIEW product_stats_now AS
SELECT store_id, product_id, sum(orders) AS orders, sum(units) AS units, sum(buyers) AS buyers,
       sum(repeat_buyers) AS repeat_buyers, sum(repeat_gaps) AS repeat_gaps, sum(repeat_days) AS repeat_days,
       sum(repeat_days) / NULLIF(sum(repeat_gaps), 0) AS repurchase_days
FROM (SELECT * FROM product_stats UNION ALL SELECT * FROM product_stats_delta) s
GROUP BY store_id, product_id;

CREATE VIEW pair_stats_now AS
SELECT store_id, product_a, product_b, sum(orders) AS orders
FROM (SELECT * FROM pair_stats UNION ALL SELECT * FROM pair_stats_delta) s
GROUP BY store_id, product_a, product_b
HAVING sum(orders) > 0;

-- price_position is a product's place among the priced products of its
-- category: 0 the cheapest, 1 the dearest.
CREATE VIEW product_price_position AS
SELECT store_id, id AS product_id, category, price_minor,
       percent_rank() OVER (PARTITION BY store_id, category ORDER BY price_minor) AS price_position
FROM products
WHERE category <> '' AND price_minor > 0;

-- +goose StatementBegin
-- remarket_stats_sync brings the statistics up to date with the orders this
-- transaction wrote (their changed_xid). Call it last, before commit.
CREATE FUNCTION remarket_stats_sync(p_store bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_orders    bigint[];
    v_customers bigint[];
BEGIN
    SELECT array_agg(id ORDER BY id) INTO v_orders
    FROM orders WHERE store_id = p_store AND changed_xid = pg_current_xact_id();
    IF v_orders IS NULL THEN
        RETURN 0;
    END IF;
    -- A rebuild holds this lock exclusively while it recomputes.
    PERFORM pg_advisory_xact_lock_shared(21317, p_store::int);

    WITH now_rows AS (
        SELECT o.id, o.customer_id, o.placed_at, array_agg(l.product_id ORDER BY l.product_id) AS products,
               array_agg(l.units ORDER BY l.product_id) AS units
        FROM orders o
        JOIN LATERAL (SELECT product_id, sum(quantity - refunded_quantity)::int AS units FROM order_lines
                      WHERE order_id = o.id AND product_id IS NOT NULL AND quantity > refunded_quantity
                      GROUP BY product_id) l ON true
        WHERE o.id = ANY(v_orders) AND o.status IN ('paid', 'partially_refunded') AND NOT o.test
        GROUP BY o.id
    ), old_rows AS (
        SELECT order_id AS id, customer_id, placed_at, products, units FROM order_stats WHERE order_id = ANY(v_orders)
    ), saved AS (
        INSERT INTO order_stats (order_id, store_id, customer_id, placed_at, products, units)
        SELECT id, p_store, customer_id, placed_at, products, units FROM now_rows ORDER BY id
        ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, placed_at = EXCLUDED.placed_at,
            products = EXCLUDED.products, units = EXCLUDED.units
    ), gone AS (
        DELETE FROM order_stats WHERE order_id = ANY(v_orders) AND order_id NOT IN (SELECT id FROM now_rows)
    ), signed AS (
        SELECT 1 AS sign, products, units FROM now_rows UNION ALL SELECT -1, products, units FROM old_rows
    ), products_d AS (
        INSERT INTO product_stats_delta (store_id, product_id, orders, units)
        SELECT p_store, u.p, sum(s.sign), sum(s.sign * u.n)
        FROM signed s, unnest(s.products, s.units) AS u(p, n)
        GROUP BY u.p HAVING sum(s.sign) <> 0 OR sum(s.sign * u.n) <> 0
    ), pairs_d AS (
        INSERT INTO pair_stats_delta (store_id, product_a, product_b, orders)
        SELECT p_store, a.p, b.p, sum(s.sign)
        FROM signed s, unnest(s.products) AS a(p), unnest(s.products) AS b(p)
        WHERE a.p < b.p
        GROUP BY a.p, b.p HAVING sum(s.sign) <> 0
    )
    SELECT array_agg(DISTINCT c ORDER BY c) INTO v_customers
    FROM (SELECT customer_id FROM now_rows UNION SELECT customer_id FROM old_rows) x(c) WHERE c IS NOT NULL;

    IF v_customers IS NOT NULL THEN
        PERFORM remarket_stats_customers(p_store, v_customers);
    END IF;
    RETURN cardinality(v_orders);
END
$$;

-- remarket_stats_customers recomputes the customers' histories from
-- order_stats and adds what changed to the product statistics. PL/pgSQL,
-- not SQL, so its plan is cached: planning it was a good part of its cost.
CREATE FUNCTION remarket_stats_customers(p_store bigint, p_customers bigint[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH agg AS (
        SELECT s.customer_id, u.p AS product_id, count(*)::int AS orders, min(s.placed_at) AS first_at,
               max(s.placed_at) AS last_at
        FROM order_stats s, unnest(s.products) AS u(p)
        WHERE s.customer_id = ANY(p_customers)
        GROUP BY 1, 2
    ), old AS (
        SELECT * FROM customer_products WHERE customer_id = ANY(p_customers)
    ), saved AS (
        INSERT INTO customer_products (customer_id, product_id, store_id, orders, first_at, last_at)
        SELECT customer_id, product_id, p_store, orders, first_at, last_at FROM agg ORDER BY 1, 2
        ON CONFLICT (customer_id, product_id) DO UPDATE SET orders = EXCLUDED.orders, first_at = EXCLUDED.first_at,
            last_at = EXCLUDED.last_at
        WHERE (customer_products.orders, customer_products.first_at, customer_products.last_at)
              IS DISTINCT FROM (EXCLUDED.orders, EXCLUDED.first_at, EXCLUDED.last_at)
    ), gone AS (
        DELETE FROM customer_products c WHERE c.customer_id = ANY(p_customers)
          AND NOT EXISTS (SELECT 1 FROM agg a WHERE a.customer_id = c.customer_id AND a.product_id = c.product_id)
    ), diff AS (
        SELECT COALESCE(a.product_id, o.product_id) AS p,
               (a.orders IS NOT NULL)::int - (o.orders IS NOT NULL)::int AS buyers,
               (COALESCE(a.orders, 0) >= 2)::int - (COALESCE(o.orders, 0) >= 2)::int AS repeat_buyers,
               GREATEST(COALESCE(a.orders, 0) - 1, 0) - GREATEST(COALESCE(o.orders, 0) - 1, 0) AS gaps,
               COALESCE(extract(epoch FROM a.last_at - a.first_at) / 86400, 0)
                 - COALESCE(extract(epoch FROM o.last_at - o.first_at) / 86400, 0) AS days
        FROM agg a FULL JOIN old o ON o.customer_id = a.customer_id AND o.product_id = a.product_id
    )
    INSERT INTO product_stats_delta (store_id, product_id, buyers, repeat_buyers, repeat_gaps, repeat_days)
    SELECT p_store, p, sum(buyers), sum(repeat_buyers), sum(gaps), sum(days)
    FROM diff GROUP BY p
    HAVING sum(buyers) <> 0 OR sum(repeat_buyers) <> 0 OR sum(gaps) <> 0 OR sum(days) <> 0;
END
$$;

-- remarket_stats_fold adds the pending deltas into the totals. Deltas of
-- transactions still running are not visible to it and wait for the next
-- fold.
CREATE FUNCTION remarket_stats_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n1 bigint;
    n2 bigint;
BEGIN
    WITH d AS (DELETE FROM product_stats_delta RETURNING *), s AS (
        INSERT INTO product_stats AS t
        SELECT store_id, product_id, sum(orders), sum(units), sum(buyers), sum(repeat_buyers), sum(repeat_gaps), sum(repeat_days)
        FROM d GROUP BY store_id, product_id ORDER BY store_id, product_id
        ON CONFLICT (store_id, product_id) DO UPDATE SET orders = t.orders + EXCLUDED.orders, units = t.units + EXCLUDED.units,
            buyers = t.buyers + EXCLUDED.buyers, repeat_buyers = t.repeat_buyers + EXCLUDED.repeat_buyers,
            repeat_gaps = t.repeat_gaps + EXCLUDED.repeat_gaps, repeat_days = t.repeat_days + EXCLUDED.repeat_days
        RETURNING 1
    ) SELECT count(*) INTO n1 FROM s;
    WITH d AS (DELETE FROM pair_stats_delta RETURNING *), s AS (
        INSERT INTO pair_stats AS t
        SELECT store_id, product_a, product_b, sum(orders) FROM d
        GROUP BY store_id, product_a, product_b ORDER BY store_id, product_a, product_b
        ON CONFLICT (store_id, product_a, product_b) DO UPDATE SET orders = t.orders + EXCLUDED.orders
        RETURNING 1
    ) SELECT count(*) INTO n2 FROM s;
    RETURN n1 + n2;
END
$$;

-- remarket_stats_rebuild recomputes a store's statistics from its stored
-- orders, while order processing for the store waits.
CREATE FUNCTION remarket_stats_rebuild(p_store bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(21317, p_store::int);
    DELETE FROM order_stats WHERE store_id = p_store;
    DELETE FROM customer_products WHERE store_id = p_store;
    DELETE FROM product_stats WHERE store_id = p_store;
    DELETE FROM product_stats_delta WHERE store_id = p_store;
    DELETE FROM pair_stats WHERE store_id = p_store;
    DELETE FROM pair_stats_delta WHERE store_id = p_store;

    INSERT INTO order_stats (order_id, store_id, customer_id, placed_at, products, units)
    SELECT o.id, p_store, o.customer_id, o.placed_at, array_agg(l.product_id ORDER BY l.product_id),
           array_agg(l.units ORDER BY l.product_id)
    FROM orders o
    JOIN (SELECT order_id, product_id, sum(quantity - refunded_quantity)::int AS units FROM order_lines
          WHERE store_id = p_store AND product_id IS NOT NULL AND quantity > refunded_quantity
          GROUP BY order_id, product_id) l ON l.order_id = o.id
    WHERE o.store_id = p_store AND o.status IN ('paid', 'partially_refunded') AND NOT o.test
    GROUP BY o.id;

    INSERT INTO customer_products (customer_id, product_id, store_id, orders, first_at, last_at)
    SELECT s.customer_id, u.p, p_store, count(*), min(s.placed_at), max(s.placed_at)
    FROM order_stats s, unnest(s.products) AS u(p)
    WHERE s.store_id = p_store AND s.customer_id IS NOT NULL
    GROUP BY 1, 2;

    INSERT INTO product_stats (store_id, product_id, orders, units, buyers, repeat_buyers, repeat_gaps, repeat_days)
    SELECT p_store, p, sum(orders), sum(units), sum(buyers), sum(repeat_buyers), sum(repeat_gaps), sum(repeat_days)
    FROM (
        SELECT u.p, count(*) AS orders, sum(u.n) AS units, 0 AS buyers, 0 AS repeat_buyers, 0 AS repeat_gaps, 0.0 AS repeat_days
        FROM order_stats s, unnest(s.products, s.units) AS u(p, n) WHERE s.store_id = p_store GROUP BY u.p
        UNION ALL
        SELECT product_id, 0, 0, count(*), count(*) FILTER (WHERE orders >= 2), sum(orders - 1),
               sum(extract(epoch FROM last_at - first_at) / 86400)
        FROM customer_products WHERE store_id = p_store GROUP BY product_id
    ) x GROUP BY p;

    INSERT INTO pair_stats (store_id, product_a, product_b, orders)
    SELECT p_store, a.p, b.p, count(*)
    FROM order_stats s, unnest(s.products) AS a(p), unnest(s.products) AS b(p)
    WHERE s.store_id = p_store AND a.p < b.p
    GROUP BY a.p, b.p;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION remarket_stats_rebuild(bigint), remarket_stats_fold(), remarket_stats_customers(bigint, bigint[]),
    remarket_stats_sync(bigint);
DROP VIEW product_price_position, pair_stats_now, product_stats_now;
DROP TABLE pair_stats_delta, pair_stats, product_stats_delta, product_stats, customer_products, order_stats;
