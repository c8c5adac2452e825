-- +goose Up

-- Order processing no longer waits for a statistics rebuild: see
-- remarket_stats_sync below.

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION remarket_stats_sync(p_store bigint) RETURNS int LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_orders    bigint[];
    v_customers bigint[];
    v_products  bigint[];
BEGIN
    SELECT array_agg(id ORDER BY id) INTO v_orders
    FROM orders WHERE store_id = p_store AND changed_xid = pg_current_xact_id();
    IF v_orders IS NULL THEN
        RETURN 0;
    END IF;
    -- A rebuild holds this lock exclusively while it recomputes, for up to
    -- a minute on a large store. Waiting for it would hold a connection per
    -- delivery job and starve the pool (webhooks could no longer be
    -- accepted), so fail at once with RMS01: the job is snoozed and retried.
    IF NOT pg_try_advisory_xact_lock_shared(21317, p_store::int) THEN
        RAISE EXCEPTION 'the product statistics of store % are being rebuilt', p_store
            USING ERRCODE = 'RMS01', HINT = 'retry when the rebuild is over';
    END IF;

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
    SELECT array_agg(k.c ORDER BY k.c, k.p), array_agg(k.p ORDER BY k.c, k.p) INTO v_customers, v_products
    FROM (SELECT DISTINCT x.customer_id, u.p
          FROM (SELECT customer_id, products FROM now_rows UNION ALL SELECT customer_id, products FROM old_rows) x,
               unnest(x.products) AS u(p)
          WHERE x.customer_id IS NOT NULL) k(c, p);

    IF v_customers IS NOT NULL THEN
        -- Two transactions changing one customer's orders (an order and a
        -- refund, say) would each recompute the customer's history without
        -- the other's change. So each takes the customer's lock first; the
        -- next statement's snapshot then holds whatever committed before.
        PERFORM pg_advisory_xact_lock(21318, (c % 2147483647)::int)
        FROM (SELECT DISTINCT c FROM unnest(v_customers) AS u(c) ORDER BY c) x;
        PERFORM remarket_stats_customer_products(p_store, v_customers, v_products);
    END IF;
    RETURN cardinality(v_orders);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION remarket_stats_sync(p_store bigint) RETURNS int LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_orders    bigint[];
    v_customers bigint[];
    v_products  bigint[];
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
    SELECT array_agg(k.c ORDER BY k.c, k.p), array_agg(k.p ORDER BY k.c, k.p) INTO v_customers, v_products
    FROM (SELECT DISTINCT x.customer_id, u.p
          FROM (SELECT customer_id, products FROM now_rows UNION ALL SELECT customer_id, products FROM old_rows) x,
               unnest(x.products) AS u(p)
          WHERE x.customer_id IS NOT NULL) k(c, p);

    IF v_customers IS NOT NULL THEN
        -- Two transactions changing one customer's orders (an order and a
        -- refund, say) would each recompute the customer's history without
        -- the other's change. So each takes the customer's lock first; the
        -- next statement's snapshot then holds whatever committed before.
        PERFORM pg_advisory_xact_lock(21318, (c % 2147483647)::int)
        FROM (SELECT DISTINCT c FROM unnest(v_customers) AS u(c) ORDER BY c) x;
        PERFORM remarket_stats_customer_products(p_store, v_customers, v_products);
    END IF;
    RETURN cardinality(v_orders);
END
$$;
-- +goose StatementEnd
