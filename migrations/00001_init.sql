-- +goose Up

-- A store is one shop; one deployment serves many.
CREATE TABLE stores (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    platform       text NOT NULL CHECK (platform IN ('shopify', 'woocommerce', 'generic')),
    domain         text NOT NULL UNIQUE,
    webhook_secret text NOT NULL,
    from_address   text NOT NULL DEFAULT '',
    postal_address text NOT NULL DEFAULT '',
    timezone       text NOT NULL DEFAULT 'UTC',
    currency       text NOT NULL DEFAULT 'USD',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- inbox keeps every verified delivery exactly as received, before it is
-- acknowledged, so that nothing is lost and failures can be replayed.
CREATE TABLE inbox (
    id           bigserial PRIMARY KEY,
    store_id     bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    platform     text NOT NULL,
    topic        text NOT NULL,
    dedupe_key   text NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    body         bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processed', 'ignored', 'failed')),
    error        text NOT NULL DEFAULT '',
    attempts     int NOT NULL DEFAULT 0,
    processed_at timestamptz,
    UNIQUE (store_id, dedupe_key)
);
CREATE INDEX inbox_failed_idx ON inbox (id) WHERE status = 'failed';

CREATE TABLE customers (
    id                bigserial PRIMARY KEY,
    store_id          bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    external_id       text,
    email             text,
    first_name        text NOT NULL DEFAULT '',
    last_name         text NOT NULL DEFAULT '',
    country           text NOT NULL DEFAULT '',
    consent           text NOT NULL DEFAULT 'unknown',
    consent_source    text NOT NULL DEFAULT '',
    consent_at        timestamptz,
    redacted_at       timestamptz,
    source_updated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, external_id),
    UNIQUE (store_id, email)
);

CREATE TABLE products (
    id                bigserial PRIMARY KEY,
    store_id          bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    external_id       text NOT NULL,
    sku               text NOT NULL DEFAULT '',
    title             text NOT NULL DEFAULT '',
    url               text NOT NULL DEFAULT '',
    image_url         text NOT NULL DEFAULT '',
    price_minor       bigint NOT NULL DEFAULT 0,
    currency          text NOT NULL DEFAULT '',
    category          text NOT NULL DEFAULT '',
    in_stock          boolean NOT NULL DEFAULT true,
    from_catalog      boolean NOT NULL DEFAULT false,
    source_updated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, external_id)
);

CREATE TABLE orders (
    id                bigserial PRIMARY KEY,
    store_id          bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    external_id       text NOT NULL,
    customer_id       bigint REFERENCES customers ON DELETE SET NULL,
    number            text NOT NULL DEFAULT '',
    currency          text NOT NULL DEFAULT '',
    total_minor       bigint NOT NULL DEFAULT 0,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'paid', 'partially_refunded', 'refunded', 'cancelled')),
    checkout_token    text NOT NULL DEFAULT '',
    test              boolean NOT NULL DEFAULT false,
    placed_at         timestamptz NOT NULL,
    cancelled_at      timestamptz,
    source_updated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, external_id)
);
CREATE INDEX orders_customer_idx ON orders (customer_id, placed_at);
CREATE INDEX orders_store_placed_idx ON orders (store_id, placed_at);

CREATE TABLE order_lines (
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders ON DELETE CASCADE,
    store_id          bigint NOT NULL,
    external_id       text NOT NULL,
    product_id        bigint REFERENCES products ON DELETE SET NULL,
    sku               text NOT NULL DEFAULT '',
    title             text NOT NULL DEFAULT '',
    quantity          int NOT NULL,
    unit_price_minor  bigint NOT NULL DEFAULT 0,
    refunded_quantity int NOT NULL DEFAULT 0,
    UNIQUE (order_id, external_id)
);
CREATE INDEX order_lines_product_idx ON order_lines (product_id);

-- refund_lines records each refund once, so that a replayed refund does not
-- refund twice; order_lines.refunded_quantity is their sum.
CREATE TABLE refund_lines (
    store_id           bigint NOT NULL,
    refund_external_id text NOT NULL,
    order_line_id      bigint NOT NULL REFERENCES order_lines ON DELETE CASCADE,
    quantity           int NOT NULL,
    refunded_at        timestamptz NOT NULL,
    PRIMARY KEY (store_id, refund_external_id, order_line_id)
);

CREATE TABLE checkouts (
    id                bigserial PRIMARY KEY,
    store_id          bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    external_id       text NOT NULL,
    customer_id       bigint REFERENCES customers ON DELETE SET NULL,
    token             text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'recovered', 'abandoned')),
    url               text NOT NULL DEFAULT '',
    currency          text NOT NULL DEFAULT '',
    total_minor       bigint NOT NULL DEFAULT 0,
    completed_at      timestamptz,
    source_updated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, external_id)
);
CREATE INDEX checkouts_token_idx ON checkouts (store_id, token);

CREATE TABLE checkout_lines (
    checkout_id bigint NOT NULL REFERENCES checkouts ON DELETE CASCADE,
    position    int NOT NULL,
    product_id  bigint REFERENCES products ON DELETE SET NULL,
    title       text NOT NULL DEFAULT '',
    quantity    int NOT NULL,
    price_minor bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (checkout_id, position)
);

CREATE TABLE views (
    store_id    bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    customer_id bigint NOT NULL REFERENCES customers ON DELETE CASCADE,
    product_id  bigint NOT NULL REFERENCES products ON DELETE CASCADE,
    viewed_at   timestamptz NOT NULL,
    PRIMARY KEY (customer_id, product_id, viewed_at)
);

-- +goose Down
DROP TABLE views, checkout_lines, checkouts, refund_lines, order_lines, orders, products, customers, inbox, stores;
