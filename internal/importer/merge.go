package importer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// Every statement here is set-based over the staging table: one statement per
// target table, whatever the number of rows. Upserts compare old and new
// values and leave a row alone when nothing differs, which is what makes a
// repeated import change nothing (not even updated_at).

// lockStore serialises imports into one store: two concurrent imports of
// overlapping files would otherwise race on the same unique keys.
func lockStore(ctx context.Context, tx pgx.Tx, storeID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('remarket.import:' || $1::bigint, 0))`, storeID)
	if err != nil {
		return fmt.Errorf("lock store %d for import: %w", storeID, err)
	}
	return nil
}

// createStaging creates the staging table. The merge statements sort and
// hash a few hundred thousand rows; the default 4MB work_mem would spill them
// to disk, so the transaction raises it for itself.
func createStaging(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
		return fmt.Errorf("raise work_mem: %w", err)
	}
	if _, err := tx.Exec(ctx, createStagingSQL); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	return nil
}

// merge moves the staged rows into the store's tables, in dependency order.
func merge(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	steps := []struct {
		name string
		fn   func(context.Context, pgx.Tx, int64, *Summary) error
	}{
		{"prepare staged rows", prepare},
		{"merge customers", mergeCustomers},
		{"merge products", mergeProducts},
		{"merge orders", mergeOrders},
		{"merge order lines", mergeLines},
		{"update order totals", updateTotals},
		{"apply cancellations", applyRefunds},
	}
	for _, s := range steps {
		t0 := time.Now()
		if err := s.fn(ctx, tx, storeID, sum); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintln(os.Stderr, "DEBUG", s.name, time.Since(t0))
	}
	return nil
}

// prepareSQL gives the planner statistics (a fresh temp table has none, and
// without them it picks nested loops over 500k rows) and derives one row per
// customer, product and order. Customers are keyed by external id, or by
// email when the row has no id. A product's title and price come from its
// latest line that has both a title and a positive price (else its latest
// line), because the data has zero-priced lines with notes such as "check"
// for a description; its category is the latest non-empty one. An order's
// fields come from its first line.
const prepareSQL = `
ANALYZE import_rows;

CREATE TEMP TABLE import_customers ON COMMIT DROP AS
SELECT DISTINCT ON (cust_ext, CASE WHEN cust_ext = '' THEN email END)
       NULLIF(cust_ext, '') AS external_id, NULLIF(email, '') AS email, country
FROM import_rows
WHERE kind = 'line'
ORDER BY cust_ext, CASE WHEN cust_ext = '' THEN email END, email <> '' DESC, placed_at DESC, seq DESC;

CREATE TEMP TABLE import_products ON COMMIT DROP AS
SELECT p.product_ext, p.sku, p.title, COALESCE(c.category, '') AS category, p.price_minor, p.currency, p.placed_at
FROM (
    SELECT DISTINCT ON (product_ext) product_ext, sku, title, price_minor, currency, placed_at
    FROM import_rows
    WHERE kind = 'line'
    ORDER BY product_ext, (title <> '' AND price_minor > 0) DESC, placed_at DESC, seq DESC
) p
LEFT JOIN (
    SELECT DISTINCT ON (product_ext) product_ext, category
    FROM import_rows
    WHERE kind = 'line' AND category <> ''
    ORDER BY product_ext, placed_at DESC, seq DESC
) c USING (product_ext);

CREATE TEMP TABLE import_orders ON COMMIT DROP AS
SELECT DISTINCT ON (order_ext) order_ext, placed_at, cust_ext, email, currency, status,
       sum(quantity::bigint * price_minor) OVER (PARTITION BY order_ext) AS total_minor
FROM import_rows
WHERE kind = 'line'
ORDER BY order_ext, seq;

ANALYZE import_customers, import_products, import_orders;
`

func prepare(ctx context.Context, tx pgx.Tx, _ int64, _ *Summary) error {
	_, err := tx.Exec(ctx, prepareSQL)
	return err
}

// insertCustomersSQL creates customers not seen before. DO NOTHING without a
// conflict target covers both unique keys: a known external id is left alone,
// and a new id whose email already belongs to another customer is not
// created, so its orders go to the customer who owns the email.
const insertCustomersSQL = `
WITH created AS (
    INSERT INTO customers (store_id, external_id, email, country)
    SELECT $1, external_id, email, country FROM import_customers
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM created`

// fillCustomersSQL fills in what known customers lack (an email, a country)
// and never overwrites: webhooks are fresher than an export. An email is only
// given when no other customer has it and only one imported id claims it.
const fillCustomersSQL = `
UPDATE customers c SET
    email = COALESCE(c.email, f.email),
    country = CASE WHEN c.country = '' THEN f.country ELSE c.country END,
    updated_at = now()
FROM (
    SELECT s.external_id, s.country,
           CASE WHEN count(*) OVER (PARTITION BY s.email) = 1
                 AND NOT EXISTS (SELECT 1 FROM customers o WHERE o.store_id = $1 AND o.email = s.email)
                THEN s.email END AS email
    FROM import_customers s
    WHERE s.external_id IS NOT NULL
) f
WHERE c.store_id = $1 AND c.external_id = f.external_id
  AND ((c.email IS NULL AND f.email IS NOT NULL) OR (c.country = '' AND f.country <> ''))`

func mergeCustomers(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	if err := tx.QueryRow(ctx, insertCustomersSQL, storeID).Scan(&sum.Customers); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, fillCustomersSQL, storeID)
	if err != nil {
		return err
	}
	sum.CustomersUpdated = tag.RowsAffected()
	return nil
}

// upsertProductsSQL creates products and refreshes those the import has
// newer lines for. Products from the store's catalog feed are never touched,
// and an empty title or a zero price never replaces a known one.
// source_updated_at is the time of the line the values came from, so that
// importing an older file after a newer one does not roll prices back, and a
// repeated import (same times) updates nothing.
const upsertProductsSQL = `
WITH up AS (
    INSERT INTO products AS p (store_id, external_id, sku, title, category, price_minor, currency, source_updated_at)
    SELECT $1, product_ext, sku, title, category, price_minor, currency, placed_at FROM import_products
    ON CONFLICT (store_id, external_id) DO UPDATE SET
        sku = COALESCE(NULLIF(EXCLUDED.sku, ''), p.sku),
        title = COALESCE(NULLIF(EXCLUDED.title, ''), p.title),
        category = COALESCE(NULLIF(EXCLUDED.category, ''), p.category),
        price_minor = CASE WHEN EXCLUDED.price_minor > 0 THEN EXCLUDED.price_minor ELSE p.price_minor END,
        currency = CASE WHEN EXCLUDED.price_minor > 0 THEN EXCLUDED.currency ELSE p.currency END,
        source_updated_at = EXCLUDED.source_updated_at,
        updated_at = now()
    WHERE NOT p.from_catalog
      AND (p.source_updated_at IS NULL OR p.source_updated_at < EXCLUDED.source_updated_at)
    RETURNING xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up`

func mergeProducts(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	return tx.QueryRow(ctx, upsertProductsSQL, storeID).Scan(&sum.Products, &sum.ProductsUpdated)
}

// upsertOrdersSQL creates orders and corrects known ones. An order's customer
// is found by external id, else by email. A "paid" import never undoes a
// refund recorded since (by a webhook or by applyRefunds); placed_at only
// moves earlier, so an order split across imports settles on its first line.
// total_minor is set on insert only: updateTotals recomputes it from all the
// order's lines in the database.
const upsertOrdersSQL = `
WITH src AS (
    SELECT o.*, COALESCE(by_id.id, by_email.id) AS customer_id
    FROM import_orders o
    LEFT JOIN customers by_id ON by_id.store_id = $1 AND by_id.external_id = NULLIF(o.cust_ext, '')
    LEFT JOIN customers by_email ON by_email.store_id = $1 AND by_email.email = NULLIF(o.email, '')
), up AS (
    INSERT INTO orders AS o (store_id, external_id, number, customer_id, currency, total_minor, status, placed_at)
    SELECT $1, order_ext, order_ext, customer_id, currency, total_minor, status, placed_at FROM src
    ON CONFLICT (store_id, external_id) DO UPDATE SET
        customer_id = COALESCE(EXCLUDED.customer_id, o.customer_id),
        currency = EXCLUDED.currency,
        status = CASE WHEN EXCLUDED.status = 'paid' AND o.status IN ('partially_refunded', 'refunded')
                      THEN o.status ELSE EXCLUDED.status END,
        placed_at = LEAST(o.placed_at, EXCLUDED.placed_at),
        updated_at = now()
    WHERE (o.customer_id, o.currency, o.status, o.placed_at) IS DISTINCT FROM (
        COALESCE(EXCLUDED.customer_id, o.customer_id),
        EXCLUDED.currency,
        CASE WHEN EXCLUDED.status = 'paid' AND o.status IN ('partially_refunded', 'refunded')
             THEN o.status ELSE EXCLUDED.status END,
        LEAST(o.placed_at, EXCLUDED.placed_at))
    RETURNING xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up`

func mergeOrders(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	return tx.QueryRow(ctx, upsertOrdersSQL, storeID).Scan(&sum.Orders, &sum.OrdersUpdated)
}

// upsertLinesSQL joins the staged lines back to the ids of their orders and
// products. refunded_quantity is not touched: refunds own it.
const upsertLinesSQL = `
WITH up AS (
    INSERT INTO order_lines AS l (order_id, store_id, external_id, product_id, sku, title, quantity, unit_price_minor)
    SELECT o.id, $1, r.line_ext, p.id, r.sku, r.title, r.quantity, r.price_minor
    FROM import_rows r
    JOIN orders o ON o.store_id = $1 AND o.external_id = r.order_ext
    JOIN products p ON p.store_id = $1 AND p.external_id = r.product_ext
    WHERE r.kind = 'line'
    ON CONFLICT (order_id, external_id) DO UPDATE SET
        product_id = EXCLUDED.product_id, sku = EXCLUDED.sku, title = EXCLUDED.title,
        quantity = EXCLUDED.quantity, unit_price_minor = EXCLUDED.unit_price_minor
    WHERE (l.product_id, l.sku, l.title, l.quantity, l.unit_price_minor) IS DISTINCT FROM
          (EXCLUDED.product_id, EXCLUDED.sku, EXCLUDED.title, EXCLUDED.quantity, EXCLUDED.unit_price_minor)
    RETURNING xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up`

func mergeLines(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	return tx.QueryRow(ctx, upsertLinesSQL, storeID).Scan(&sum.Lines, &sum.LinesUpdated)
}

// updateTotalsSQL sets total_minor to the sum of all the order's lines in the
// database, not just the staged ones, so that an order whose lines arrive in
// two imports ends up with the right total. Orders whose total is already
// right are not touched.
const updateTotalsSQL = `
UPDATE orders o SET total_minor = t.total_minor, updated_at = now()
FROM (
    SELECT l.order_id, sum(l.quantity::bigint * l.unit_price_minor) AS total_minor
    FROM import_orders io
    JOIN orders o2 ON o2.store_id = $1 AND o2.external_id = io.order_ext
    JOIN order_lines l ON l.order_id = o2.id
    GROUP BY l.order_id
) t
WHERE o.id = t.order_id AND o.total_minor <> t.total_minor`

func updateTotals(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	tag, err := tx.Exec(ctx, updateTotalsSQL, storeID)
	if err != nil {
		return err
	}
	sum.OrdersUpdated += tag.RowsAffected()
	return nil
}
