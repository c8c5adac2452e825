-- +goose Up

-- remarket_order_upsert tried to insert every line's product on every call;
-- a conflict check per line is far dearer than an index lookup, and nearly
-- every product exists already. Same signature, same results.

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION remarket_order_upsert(
    p_store bigint, p_ext text, p_number text, p_currency text, p_total bigint, p_status text, p_checkout_token text,
    p_test boolean, p_placed_at timestamptz, p_cancelled_at timestamptz, p_updated_at timestamptz,
    c_ext text, c_email text, c_first text, c_last text, c_country text, c_consent text, c_source text,
    c_consent_at timestamptz, c_updated_at timestamptz,
    l_ext text[], l_product text[], l_sku text[], l_title text[], l_category text[], l_qty int[], l_price bigint[],
    l_refunded int[]
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_customer bigint;
    v_order bigint;
BEGIN
    v_customer := remarket_customer_upsert(p_store, c_ext, c_email, c_first, c_last, c_country, c_consent, c_source,
        c_consent_at, c_updated_at);
    -- An update not newer than the stored one changes nothing, so a retried
    -- old delivery never overwrites later state.
    INSERT INTO orders (store_id, external_id, customer_id, number, currency, total_minor, status, checkout_token,
        test, placed_at, cancelled_at, source_updated_at)
    VALUES (p_store, p_ext, v_customer, p_number, p_currency, p_total, p_status, p_checkout_token, p_test,
        p_placed_at, p_cancelled_at, p_updated_at)
    ON CONFLICT (store_id, external_id) DO UPDATE SET customer_id = COALESCE(EXCLUDED.customer_id, orders.customer_id),
        number = EXCLUDED.number, currency = EXCLUDED.currency, total_minor = EXCLUDED.total_minor,
        status = EXCLUDED.status, checkout_token = EXCLUDED.checkout_token, test = EXCLUDED.test,
        placed_at = EXCLUDED.placed_at, cancelled_at = EXCLUDED.cancelled_at,
        source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
    WHERE orders.source_updated_at IS NULL OR orders.source_updated_at < EXCLUDED.source_updated_at
    RETURNING id INTO v_order;
    IF v_order IS NULL THEN
        RETURN 0;
    END IF;
    -- Refunds recorded separately (refund_lines) are never undone by an
    -- order payload that lags behind them.
    -- Most lines name products the store already has: create products only
    -- when one is missing (the next statement sees them: each statement of
    -- a function takes a new snapshot).
    IF EXISTS (SELECT 1 FROM unnest(l_product) AS e(p)
               WHERE e.p <> '' AND NOT EXISTS (SELECT 1 FROM products WHERE store_id = p_store AND external_id = e.p)) THEN
        PERFORM remarket_products_ensure(p_store, p_currency, l_product, l_sku, l_title, l_category, l_price);
    END IF;
    INSERT INTO order_lines AS ol (order_id, store_id, external_id, product_id, sku, title, quantity, unit_price_minor,
        refunded_quantity)
    SELECT v_order, p_store, x.e, pr.id, x.s, x.t, x.q, x.u, x.r
    FROM unnest(l_ext, l_product, l_sku, l_title, l_qty, l_price, l_refunded) AS x(e, p, s, t, q, u, r)
    LEFT JOIN products pr ON pr.store_id = p_store AND pr.external_id = x.p
    ON CONFLICT (order_id, external_id) DO UPDATE SET product_id = EXCLUDED.product_id, sku = EXCLUDED.sku,
        title = EXCLUDED.title, quantity = EXCLUDED.quantity, unit_price_minor = EXCLUDED.unit_price_minor,
        refunded_quantity = GREATEST(EXCLUDED.refunded_quantity, ol.refunded_quantity);
    IF p_checkout_token <> '' THEN
        UPDATE checkouts SET status = 'recovered', updated_at = now()
        WHERE store_id = p_store AND token = p_checkout_token AND status <> 'recovered';
    END IF;
    RETURN v_order;
END $$;
-- +goose StatementEnd

-- +goose Down
-- Not undone: the function's results are the same.
SELECT 1;
