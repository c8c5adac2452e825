-- +goose Up

-- Folding drops the pair rows it brings to zero (a refund or a cancelled
-- order took back every order that held both products), so they no longer
-- wait for a rebuild. The views hid them already; this keeps the table
-- from filling with them. The product part is as in migration 14.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION remarket_stats_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n1 bigint;
    n2 bigint;
    z_store bigint[];
    z_a bigint[];
    z_b bigint[];
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
        RETURNING t.store_id, t.product_a, t.product_b, t.orders
    ) SELECT count(*), array_agg(s.store_id) FILTER (WHERE s.orders = 0), array_agg(s.product_a) FILTER (WHERE s.orders = 0),
        array_agg(s.product_b) FILTER (WHERE s.orders = 0)
    INTO n2, z_store, z_a, z_b FROM s;
    -- A statement cannot see the rows its own upsert wrote: a second one.
    IF z_store IS NOT NULL THEN
        DELETE FROM pair_stats p USING unnest(z_store, z_a, z_b) AS z(store_id, product_a, product_b)
        WHERE p.store_id = z.store_id AND p.product_a = z.product_a AND p.product_b = z.product_b AND p.orders = 0;
    END IF;
    RETURN n1 + n2;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION remarket_stats_fold() RETURNS bigint LANGUAGE plpgsql AS $$
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
-- +goose StatementEnd
