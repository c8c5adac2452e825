-- +goose Up

-- These functions do in one round trip what would otherwise take six or
-- seven: storing an order touches its customer, its products, the order, its
-- lines and maybe a checkout, and each statement depends on ids from the one
-- before. Within a function each statement still gets its own snapshot, so
-- rows committed by concurrent workers are seen as they would be from Go.

-- +goose StatementBegin
CREATE FUNCTION remarket_customer_upsert(
    p_store bigint, p_ext text, p_email text, p_first text, p_last text, p_country text,
    p_consent text, p_source text, p_consent_at timestamptz, p_updated_at timestamptz
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_ext = '' AND p_email = '' THEN
        RETURN NULL;
    END IF;
    FOR attempt IN 1..2 LOOP
        SELECT id INTO v_id FROM customers
        WHERE store_id = p_store AND ((p_ext <> '' AND external_id = p_ext) OR (p_email <> '' AND email = p_email))
        ORDER BY (external_id = p_ext) DESC NULLS LAST LIMIT 1;
        IF FOUND THEN
            -- Names and email follow the newest source update; consent the
            -- newest consent time. The row is written only when it changes,
            -- so that concurrent deliveries for one customer do not queue on
            -- its row lock.
            WITH cur AS (
                SELECT c.*, (source_updated_at IS NULL OR p_updated_at IS NULL OR source_updated_at <= p_updated_at) AS fresh,
                    (p_consent <> '' AND (consent_at IS NULL OR p_consent_at IS NULL OR consent_at <= p_consent_at)) AS consent_fresh
                FROM customers c WHERE id = v_id AND redacted_at IS NULL
            ), nxt AS (
                SELECT id,
                    COALESCE(external_id, NULLIF(p_ext, '')) AS external_id,
                    CASE WHEN p_email <> '' AND (email IS NULL OR fresh)
                        AND NOT EXISTS (SELECT 1 FROM customers o WHERE o.store_id = cur.store_id AND o.email = p_email AND o.id <> cur.id)
                        THEN p_email ELSE email END AS email,
                    CASE WHEN p_first <> '' AND fresh THEN p_first ELSE first_name END AS first_name,
                    CASE WHEN p_last <> '' AND fresh THEN p_last ELSE last_name END AS last_name,
                    CASE WHEN p_country <> '' AND fresh THEN p_country ELSE country END AS country,
                    CASE WHEN consent_fresh THEN p_consent ELSE consent END AS consent,
                    CASE WHEN consent_fresh THEN p_source ELSE consent_source END AS consent_source,
                    CASE WHEN consent_fresh THEN COALESCE(p_consent_at, consent_at) ELSE consent_at END AS consent_at,
                    GREATEST(source_updated_at, p_updated_at) AS source_updated_at
                FROM cur
            )
            UPDATE customers c SET external_id = n.external_id, email = n.email, first_name = n.first_name,
                last_name = n.last_name, country = n.country, consent = n.consent, consent_source = n.consent_source,
                consent_at = n.consent_at, source_updated_at = n.source_updated_at, updated_at = now()
            FROM nxt n
            WHERE c.id = n.id AND (c.external_id, c.email, c.first_name, c.last_name, c.country, c.consent,
                c.consent_source, c.consent_at, c.source_updated_at) IS DISTINCT FROM (n.external_id, n.email,
                n.first_name, n.last_name, n.country, n.consent, n.consent_source, n.consent_at, n.source_updated_at);
            RETURN v_id;
        END IF;
        INSERT INTO customers (store_id, external_id, email, first_name, last_name, country, consent, consent_source,
            consent_at, source_updated_at)
        VALUES (p_store, NULLIF(p_ext, ''), NULLIF(p_email, ''), p_first, p_last, p_country,
            COALESCE(NULLIF(p_consent, ''), 'unknown'), p_source, p_consent_at, p_updated_at)
        ON CONFLICT DO NOTHING RETURNING id INTO v_id;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
        -- A concurrent delivery created the customer first: find it again.
    END LOOP;
    RAISE EXCEPTION 'customer % / % neither found nor created', p_ext, p_email;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION remarket_products_ensure(
    p_store bigint, p_currency text, p_ext text[], p_sku text[], p_title text[], p_category text[], p_price bigint[]
) RETURNS TABLE (external_id text, id bigint) LANGUAGE plpgsql AS $$
BEGIN
    -- Sorted, so that concurrent deliveries take the key locks in one order
    -- and never deadlock.
    INSERT INTO products AS p (store_id, external_id, sku, title, category, price_minor, currency)
    SELECT p_store, u.e, u.s, u.t, u.c, u.pr, p_currency
    FROM unnest(p_ext, p_sku, p_title, p_category, p_price) AS u(e, s, t, c, pr)
    WHERE u.e <> ''
    ORDER BY u.e
    ON CONFLICT ON CONSTRAINT products_store_id_external_id_key DO NOTHING;
    RETURN QUERY SELECT p.external_id, p.id FROM products p WHERE p.store_id = p_store AND p.external_id = ANY (p_ext);
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION remarket_order_upsert(
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
    INSERT INTO order_lines AS ol (order_id, store_id, external_id, product_id, sku, title, quantity, unit_price_minor,
        refunded_quantity)
    SELECT v_order, p_store, x.e, pr.id, x.s, x.t, x.q, x.u, x.r
    FROM unnest(l_ext, l_product, l_sku, l_title, l_qty, l_price, l_refunded) AS x(e, p, s, t, q, u, r)
    LEFT JOIN remarket_products_ensure(p_store, p_currency, l_product, l_sku, l_title, l_category, l_price) pr
        ON pr.external_id = x.p
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
DROP FUNCTION remarket_order_upsert(bigint, text, text, text, bigint, text, text, boolean, timestamptz, timestamptz,
    timestamptz, text, text, text, text, text, text, text, timestamptz, timestamptz, text[], text[], text[], text[],
    text[], int[], bigint[], int[]);
DROP FUNCTION remarket_products_ensure(bigint, text, text[], text[], text[], text[], bigint[]);
DROP FUNCTION remarket_customer_upsert(bigint, text, text, text, text, text, text, text, timestamptz, timestamptz);
