-- +goose Up

-- Orders are saved by one set-based statement for one order or many
-- (internal/store/orders_set.go); the per-order function is no longer used.
DROP FUNCTION remarket_order_upsert(bigint, text, text, text, bigint, text, text, boolean, timestamptz, timestamptz,
    timestamptz, text, text, text, text, text, text, text, timestamptz, timestamptz, text[], text[], text[], text[],
    text[], int[], bigint[], int[]);

-- +goose Down
-- Not restored: nothing calls it.
SELECT 1;
