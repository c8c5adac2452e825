package importer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/store"
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

// createStaging creates the staging table. The merge's hash joins and sorts
// (matching cancellations hashes some 150k order and product pairs) would
// spill to disk at the default 4MB work_mem, so the transaction raises it for
// itself.
func createStaging(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
		return fmt.Errorf("raise work_mem: %w", err)
	}
	if _, err := tx.Exec(ctx, createStagingSQL); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	return nil
}

// analyzeIfGrown refreshes the planner's statistics of table when the import
// has just grown it by a fifth or more. Autovacuum cannot see rows of an
// uncommitted transaction, so without this the first import into an empty
// store plans the next statements for tables of a few rows and picks nested
// loops that take minutes. A small sample is enough for that, and autovacuum
// analyzes the table properly once the import commits (it changed a fifth of
// the rows); a table many times larger than the import is left alone.
func analyzeIfGrown(ctx context.Context, tx pgx.Tx, table string, added int64) error {
	if added == 0 {
		return nil
	}
	var rows float64
	if err := tx.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table).Scan(&rows); err != nil {
		return fmt.Errorf("read size of %s: %w", table, err)
	}
	if rows >= 0 && float64(added) < rows/5 { // -1: never analyzed
		return nil
	}
	return analyzeSmall(ctx, tx, table)
}

// step is one statement group of the merge.
type step struct {
	name string
	fn   func(context.Context, pgx.Tx, int64, *Summary) error
}

// mergeSteps move the staged rows into the store's tables, in dependency
// order.
var mergeSteps = []step{
	{"merge customers", mergeCustomers},
	{"merge products", mergeProducts},
	{"merge orders", mergeOrders},
	{"merge order lines", mergeLines},
	{"update order totals", updateTotals},
	{"apply cancellations", applyRefunds},
}

// runSteps runs steps in order. Merging takes longer than reading the files,
// so each step says what it is doing and how long it took on progressTo
// (when not nil).
func runSteps(ctx context.Context, tx pgx.Tx, steps []step, storeID int64, sum *Summary, progressTo io.Writer) error {
	for _, s := range steps {
		start := time.Now()
		if progressTo != nil {
			fmt.Fprintf(progressTo, "import: %s… ", s.name)
		}
		if err := s.fn(ctx, tx, storeID, sum); err != nil {
			if progressTo != nil {
				fmt.Fprintln(progressTo, "failed")
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if progressTo != nil {
			fmt.Fprintln(progressTo, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// insertCustomersSQL creates customers not seen before. DO NOTHING without a
// conflict target covers both unique keys: a known external id is left alone,
// and a new id whose email already belongs to another customer is not
// created, so its orders go to the customer who owns the email.
const insertCustomersSQL = `
WITH created AS (
    INSERT INTO customers (store_id, external_id, email, country)
    SELECT $1, external_id, email, country FROM import_customers ORDER BY first_seq
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
	if err := analyzeIfGrown(ctx, tx, "customers", sum.Customers); err != nil {
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
// source_updated_at is the time of the product's latest line, so that
// importing an older file after a newer one does not roll prices back, and a
// repeated import (same times) updates nothing.
const upsertProductsSQL = `
WITH up AS (
    INSERT INTO products AS p (store_id, external_id, sku, title, category, price_minor, currency, source_updated_at)
    SELECT $1, product_ext, sku, title, category, price_minor, currency, seen_at FROM import_products ORDER BY first_seq
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
	if err := tx.QueryRow(ctx, upsertProductsSQL, storeID).Scan(&sum.Products, &sum.ProductsUpdated); err != nil {
		return err
	}
	return analyzeIfGrown(ctx, tx, "products", sum.Products)
}

// upsertOrdersSQL creates orders and corrects known ones, and notes in
// import_order_ids which orders it created or changed. An order's customer
// is found by external id, else by email. A "paid" import never undoes a
// refund recorded since (by a webhook or by applyRefunds); placed_at only
// moves earlier, so an order split across imports settles on its first line.
// total_minor is set on insert only: updateTotals recomputes it for orders
// that already existed.
const upsertOrdersSQL = `
WITH src AS (
    SELECT o.*, COALESCE(by_id.id, by_email.id) AS customer_id
    FROM import_orders o
    LEFT JOIN customers by_id ON by_id.store_id = $1 AND by_id.external_id = NULLIF(o.cust_ext, '')
    LEFT JOIN customers by_email ON by_email.store_id = $1 AND by_email.email = NULLIF(o.email, '')
), up AS (
    INSERT INTO orders AS o (store_id, external_id, number, customer_id, currency, total_minor, status, placed_at)
    SELECT $1, order_ext, order_ext, customer_id, currency, total_minor, status, placed_at FROM src ORDER BY first_seq
    ON CONFLICT (store_id, external_id) DO UPDATE SET
        customer_id = COALESCE(EXCLUDED.customer_id, o.customer_id),
        currency = EXCLUDED.currency,
        status = CASE WHEN EXCLUDED.status = 'paid' AND o.status IN ('partially_refunded', 'refunded')
                      THEN o.status ELSE EXCLUDED.status END,
        placed_at = LEAST(o.placed_at, EXCLUDED.placed_at),
        ` + store.OrderChanged + `
    WHERE (o.customer_id, o.currency, o.status, o.placed_at) IS DISTINCT FROM (
        COALESCE(EXCLUDED.customer_id, o.customer_id),
        EXCLUDED.currency,
        CASE WHEN EXCLUDED.status = 'paid' AND o.status IN ('partially_refunded', 'refunded')
             THEN o.status ELSE EXCLUDED.status END,
        LEAST(o.placed_at, EXCLUDED.placed_at))
    RETURNING o.id, o.external_id, xmax = 0 AS created
)
INSERT INTO import_order_ids SELECT id, external_id, created FROM up`

func mergeOrders(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	if _, err := tx.Exec(ctx, upsertOrdersSQL, storeID); err != nil {
		return err
	}
	if err := analyzeSmall(ctx, tx, "import_order_ids"); err != nil {
		return err
	}
	err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM import_order_ids`).
		Scan(&sum.Orders, &sum.OrdersUpdated)
	if err != nil {
		return err
	}
	return analyzeIfGrown(ctx, tx, "orders", sum.Orders)
}

// insertNewLinesSQL inserts the lines of the orders this import created. No
// other transaction can see those orders, so their lines cannot exist yet
// and a plain INSERT is safe; it saves the ON CONFLICT arbiter check, which
// costs seconds over 400k lines.
const insertNewLinesSQL = `
INSERT INTO order_lines (order_id, store_id, external_id, product_id, sku, title, quantity, unit_price_minor)
SELECT n.id, $1, r.line_ext, p.id, r.sku, r.title, r.quantity, r.price_minor
FROM import_rows r
JOIN import_order_ids n ON n.order_ext = r.order_ext AND n.created
JOIN products p ON p.store_id = $1 AND p.external_id = r.product_ext`

// upsertOldLinesSQL upserts the lines of orders that existed before. It
// leaves refunded_quantity alone: refunds own it.
const upsertOldLinesSQL = `
WITH up AS (
    INSERT INTO order_lines AS l (order_id, store_id, external_id, product_id, sku, title, quantity, unit_price_minor)
    SELECT o.id, $1, r.line_ext, p.id, r.sku, r.title, r.quantity, r.price_minor
    FROM import_rows r
    JOIN orders o ON o.store_id = $1 AND o.external_id = r.order_ext
    JOIN products p ON p.store_id = $1 AND p.external_id = r.product_ext
    WHERE NOT EXISTS (SELECT 1 FROM import_order_ids n WHERE n.id = o.id AND n.created)
    ON CONFLICT (order_id, external_id) DO UPDATE SET
        product_id = EXCLUDED.product_id, sku = EXCLUDED.sku, title = EXCLUDED.title,
        quantity = EXCLUDED.quantity, unit_price_minor = EXCLUDED.unit_price_minor
    WHERE (l.product_id, l.sku, l.title, l.quantity, l.unit_price_minor) IS DISTINCT FROM
          (EXCLUDED.product_id, EXCLUDED.sku, EXCLUDED.title, EXCLUDED.quantity, EXCLUDED.unit_price_minor)
    RETURNING xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up`

func mergeLines(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	tag, err := tx.Exec(ctx, insertNewLinesSQL, storeID)
	if err != nil {
		return fmt.Errorf("insert lines of new orders: %w", err)
	}
	sum.Lines = tag.RowsAffected()
	var allNew bool
	err = tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM import_orders) = (SELECT count(*) FROM import_order_ids WHERE created)`).
		Scan(&allNew)
	if err != nil {
		return fmt.Errorf("count new orders: %w", err)
	}
	if !allNew { // a first import skips a pass over every staged row
		var created int64
		if err := tx.QueryRow(ctx, upsertOldLinesSQL, storeID).Scan(&created, &sum.LinesUpdated); err != nil {
			return fmt.Errorf("upsert lines of known orders: %w", err)
		}
		sum.Lines += created
	}
	return analyzeIfGrown(ctx, tx, "order_lines", sum.Lines)
}

// updateTotalsSQL sets total_minor to the sum of all the order's lines in the
// database, not just the staged ones, so that an order whose lines arrive in
// two imports ends up with the right total. Orders this import created got
// all their lines from it, so their total is already right and they are
// skipped; so are orders whose total is right.
const updateTotalsSQL = `
UPDATE orders o SET total_minor = t.total_minor, ` + store.OrderChanged + `
FROM (
    SELECT l.order_id, sum(l.quantity::bigint * l.unit_price_minor) AS total_minor
    FROM import_orders io
    JOIN orders o2 ON o2.store_id = $1 AND o2.external_id = io.order_ext
    JOIN order_lines l ON l.order_id = o2.id
    WHERE NOT EXISTS (SELECT 1 FROM import_order_ids n WHERE n.id = o2.id AND n.created)
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
