package importer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// aggregates derives, while the rows stream past, the one row per order,
// product and customer that the merge upserts. Doing it here costs a few map
// operations per row; doing it in SQL costs a sort or hash of every staged
// row, per table, in a backend that is the import's bottleneck. Memory grows
// with the number of distinct orders, products and customers (and of
// cancellation lines), not rows.
type aggregates struct {
	orders   map[string]*orderAgg
	products map[string]*productAgg
	byID     map[string]*customerAgg // customers with an external id
	byEmail  map[string]*customerAgg // customers known by email only
	refunds  [][]any                 // cancellation lines, a few percent of the rows

	lastOrderExt string // the previous line's order, to skip a map lookup
	lastOrder    *orderAgg
}

// orderAgg is an order: fields from its first line, the earliest time and
// the sum of its lines.
type orderAgg struct {
	first    int64 // seq of the first line, to create orders in input order
	placedAt time.Time
	custExt  string
	email    string
	currency string
	status   string
	total    int64
}

// productAgg is a product: sku, title and price from its latest line that
// has a title and a positive price (else its latest line), category from its
// latest line that has one. The data has zero-priced lines with notes such
// as "check" for a title, which must not become the product's name.
type productAgg struct {
	first      int64
	sku        string
	title      string
	priceMinor int64
	currency   string
	good       bool      // the chosen line has a title and a positive price
	at         time.Time // when the chosen line was placed
	seq        int64     // and its position, to break ties
	category   string
	categoryAt time.Time
	seenAt     time.Time // the latest line of the product
}

// customerAgg is a customer: email and country from their latest line,
// preferring lines with an email.
type customerAgg struct {
	first      int64
	externalID string
	email      string
	country    string
	at         time.Time
	seq        int64
}

func newAggregates() *aggregates {
	return &aggregates{orders: map[string]*orderAgg{}, products: map[string]*productAgg{},
		byID: map[string]*customerAgg{}, byEmail: map[string]*customerAgg{}}
}

// addRefund keeps a cancellation line, as a row of import_refunds. Its id is
// its invoice and line ordinal, e.g. "C536379:1".
func (a *aggregates) addRefund(r *row, seq int64) {
	a.refunds = append(a.refunds, []any{seq, r.orderExt + ":" + r.lineExt, r.placedAt,
		strings.Clone(r.custExt), strings.Clone(r.productExt), r.quantity})
}

// add counts a purchase line at position seq. Strings kept are
// copies: the row's fields slice the whole CSV record.
func (a *aggregates) add(r *row, seq int64) {
	a.addOrder(r, seq)
	a.addProduct(r, seq)
	a.addCustomer(r, seq)
}

func (a *aggregates) addOrder(r *row, seq int64) {
	o, ok := a.lastOrder, r.orderExt == a.lastOrderExt && a.lastOrder != nil
	if !ok { // lines of one order are nearly always contiguous
		o, ok = a.orders[r.orderExt]
	}
	if !ok {
		o = &orderAgg{first: seq, placedAt: r.placedAt, custExt: strings.Clone(r.custExt), email: strings.Clone(r.email),
			currency: strings.Clone(r.currency), status: strings.Clone(r.status)}
		a.orders[strings.Clone(r.orderExt)] = o
	}
	a.lastOrderExt, a.lastOrder = r.orderExt, o
	if r.placedAt.Before(o.placedAt) {
		o.placedAt = r.placedAt
	}
	o.total += int64(r.quantity) * r.priceMinor
}

func (a *aggregates) addProduct(r *row, seq int64) {
	p, ok := a.products[r.productExt]
	if !ok {
		p = &productAgg{first: seq}
		a.products[strings.Clone(r.productExt)] = p
	}
	good := r.title != "" && r.priceMinor > 0
	if !ok || later(good, r.placedAt, seq, p.good, p.at, p.seq) {
		keep(&p.sku, r.sku)
		keep(&p.title, r.title)
		keep(&p.currency, r.currency)
		p.priceMinor, p.good, p.at, p.seq = r.priceMinor, good, r.placedAt, seq
	}
	if r.category != "" && !r.placedAt.Before(p.categoryAt) {
		keep(&p.category, r.category)
		p.categoryAt = r.placedAt
	}
	if r.placedAt.After(p.seenAt) {
		p.seenAt = r.placedAt
	}
}

// addCustomer keys a customer by external id, else by email.
func (a *aggregates) addCustomer(r *row, seq int64) {
	m, key := a.byID, r.custExt
	if key == "" {
		m, key = a.byEmail, r.email
	}
	c, ok := m[key]
	if !ok {
		c = &customerAgg{first: seq, externalID: strings.Clone(r.custExt)}
		m[strings.Clone(key)] = c
	}
	if !ok || later(r.email != "", r.placedAt, seq, c.email != "", c.at, c.seq) {
		keep(&c.email, r.email)
		keep(&c.country, r.country)
		c.at, c.seq = r.placedAt, seq
	}
}

// keep sets *dst to a copy of src. The copy detaches it from the CSV record
// src slices; most lines repeat the stored value, which then costs nothing.
func keep(dst *string, src string) {
	if *dst != src {
		*dst = strings.Clone(src)
	}
}

// later reports whether line (good, at, seq) beats the chosen line: a good
// line beats any other, then the later time, then the later position.
func later(good bool, at time.Time, seq int64, chosenGood bool, chosenAt time.Time, chosenSeq int64) bool {
	if good != chosenGood {
		return good
	}
	if !at.Equal(chosenAt) {
		return at.After(chosenAt)
	}
	return seq > chosenSeq
}

const createAggregatesSQL = `
CREATE TEMP TABLE import_orders (
    order_ext text NOT NULL, placed_at timestamptz NOT NULL, cust_ext text NOT NULL, email text NOT NULL,
    currency text NOT NULL, status text NOT NULL, total_minor bigint NOT NULL, first_seq bigint NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_products (
    product_ext text NOT NULL, sku text NOT NULL, title text NOT NULL, category text NOT NULL,
    price_minor bigint NOT NULL, currency text NOT NULL, seen_at timestamptz NOT NULL, first_seq bigint NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_customers (
    external_id text, email text, country text NOT NULL, first_seq bigint NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_refunds (
    seq bigint NOT NULL, refund_ext text NOT NULL, placed_at timestamptz NOT NULL, cust_ext text NOT NULL,
    product_ext text NOT NULL, quantity int NOT NULL -- units returned, positive
) ON COMMIT DROP;
-- filled by upsertOrdersSQL
CREATE TEMP TABLE import_order_ids (
    id bigint NOT NULL, order_ext text NOT NULL, created boolean NOT NULL
) ON COMMIT DROP`

// save copies the aggregates into their temp tables and gives the planner
// statistics for them and for the staging table (a fresh temp table has
// none, and without them it picks nested loops over half a million rows).
func (a *aggregates) save(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, createAggregatesSQL); err != nil {
		return fmt.Errorf("create aggregate tables: %w", err)
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"import_orders", []string{"order_ext", "placed_at", "cust_ext", "email", "currency", "status", "total_minor", "first_seq"}, a.orderRows()},
		{"import_products", []string{"product_ext", "sku", "title", "category", "price_minor", "currency", "seen_at", "first_seq"}, a.productRows()},
		{"import_customers", []string{"external_id", "email", "country", "first_seq"}, a.customerRows()},
		{"import_refunds", []string{"seq", "refund_ext", "placed_at", "cust_ext", "product_ext", "quantity"}, a.refunds},
	}
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copy %s: %w", c.table, err)
		}
	}
	return analyzeSmall(ctx, tx, "import_rows, import_orders, import_products, import_customers, import_refunds")
}

// analyzeSmall analyzes tables from a sample a tenth of the usual size: the
// merge statements only need row counts and rough distinct counts to choose
// hash joins, and the full sample costs half a second on the staging table.
func analyzeSmall(ctx context.Context, tx pgx.Tx, tables string) error {
	var old string
	err := tx.QueryRow(ctx, `SELECT current_setting('default_statistics_target'), set_config('default_statistics_target', '10', true)`).
		Scan(&old, nil)
	if err != nil {
		return fmt.Errorf("lower statistics target: %w", err)
	}
	if _, err := tx.Exec(ctx, "ANALYZE "+tables); err != nil {
		return fmt.Errorf("analyze %s: %w", tables, err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('default_statistics_target', $1, true)`, old); err != nil {
		return fmt.Errorf("restore statistics target: %w", err)
	}
	return nil
}

func (a *aggregates) orderRows() [][]any {
	rows := make([][]any, 0, len(a.orders))
	for ext, o := range a.orders {
		rows = append(rows, []any{ext, o.placedAt, o.custExt, o.email, o.currency, o.status, o.total, o.first})
	}
	return rows
}

func (a *aggregates) productRows() [][]any {
	rows := make([][]any, 0, len(a.products))
	for ext, p := range a.products {
		rows = append(rows, []any{ext, p.sku, p.title, p.category, p.priceMinor, p.currency, p.seenAt, p.first})
	}
	return rows
}

func (a *aggregates) customerRows() [][]any {
	rows := make([][]any, 0, len(a.byID)+len(a.byEmail))
	for _, m := range []map[string]*customerAgg{a.byID, a.byEmail} {
		for _, c := range m {
			rows = append(rows, []any{nullIfEmpty(c.externalID), nullIfEmpty(c.email), c.country, c.first})
		}
	}
	return rows
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
