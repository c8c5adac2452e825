package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/store"
)

type procBundle struct {
	pool    *pgxpool.Pool
	storeID int64
}

func procSetup(t *testing.T) *procBundle {
	t.Helper()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(context.Background(), pool, store.Store{Name: "p", Platform: "generic", Domain: "p.example",
		WebhookSecret: "secret-secret", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return &procBundle{pool: pool, storeID: st.ID}
}

// process runs one generic body through Process in its own transaction.
func (b *procBundle) process(t *testing.T, body string) Outcome {
	t.Helper()
	var out Outcome
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		var err error
		out, err = Process(context.Background(), tx, store.Delivery{StoreID: b.storeID, Platform: "generic", Topic: "generic", Body: []byte(body)})
		return err
	})
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	return out
}

// snapshot renders every business table, so that two snapshots are equal
// exactly when nothing changed (updated_at columns left out).
func (b *procBundle) snapshot(t *testing.T) string {
	t.Helper()
	var s string
	for _, q := range []string{
		`SELECT id, external_id, email, first_name, last_name, country, consent, consent_source, consent_at, source_updated_at FROM customers ORDER BY id`,
		`SELECT id, external_id, sku, title, price_minor, in_stock FROM products ORDER BY id`,
		`SELECT id, external_id, customer_id, total_minor, status, placed_at, source_updated_at FROM orders ORDER BY id`,
		`SELECT id, order_id, external_id, product_id, quantity, unit_price_minor, refunded_quantity FROM order_lines ORDER BY id`,
		`SELECT * FROM refund_lines ORDER BY 1, 2, 3`,
		`SELECT id, external_id, status, total_minor FROM checkouts ORDER BY id`,
		`SELECT * FROM checkout_lines ORDER BY 1, 2`,
		`SELECT * FROM views ORDER BY 1, 2, 3`,
	} {
		rows, err := b.pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			v, _ := rows.Values()
			s += fmt.Sprintln(v...)
		}
		rows.Close()
	}
	return s
}

const orderV2 = `{"type":"order","order":{"id":"1001","created_at":"2025-03-01T10:00:00Z","updated_at":"2025-03-02T10:00:00Z",
"currency":"EUR","status":"paid","checkout_token":"tok1",
"customer":{"id":"c1","email":"Ana@Example.com","first_name":"Ana","consent":"subscribed","consent_at":"2025-03-01T09:00:00Z"},
"lines":[{"id":"l1","product_id":"p1","title":"Tee","quantity":2,"price":"19.95"},{"id":"l2","product_id":"p2","title":"Socks","quantity":1,"price":"5.00"}]}}`

const orderV1 = `{"type":"order","order":{"id":"1001","created_at":"2025-03-01T10:00:00Z","updated_at":"2025-03-01T10:00:00Z",
"currency":"EUR","status":"pending","customer":{"id":"c1","email":"ana@example.com","first_name":"Anna"},
"lines":[{"id":"l1","product_id":"p1","title":"Tee","quantity":1,"price":"19.95"}]}}`

func TestProcessIsIdempotent(t *testing.T) {
	t.Parallel()
	b := procSetup(t)
	checkout := `{"type":"checkout","checkout":{"id":"k1","token":"tok1","currency":"EUR","updated_at":"2025-03-01T09:30:00Z",
"customer":{"email":"ana@example.com"},"lines":[{"product_id":"p1","quantity":2,"price":"19.95"}]}}`
	view := `{"type":"view","view":{"customer":{"email":"ana@example.com"},"product_id":"p3","viewed_at":"2025-03-01T08:00:00Z"}}`
	refund := `{"type":"refund","refund":{"id":"r1","order_id":"1001","created_at":"2025-03-03T10:00:00Z","lines":[{"line_id":"l1","quantity":1}]}}`
	bodies := []string{checkout, view, orderV2, refund}
	for _, body := range bodies {
		if out := b.process(t, body); out.Status != store.InboxProcessed {
			t.Fatalf("first pass: %+v", out)
		}
	}
	before := b.snapshot(t)
	for _, body := range bodies {
		b.process(t, body)
	}
	if after := b.snapshot(t); after != before {
		t.Fatalf("processing every delivery twice changed data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var status, email string
	var refunded int
	if err := b.pool.QueryRow(context.Background(), `SELECT o.status, c.email, l.refunded_quantity FROM orders o
JOIN customers c ON c.id = o.customer_id JOIN order_lines l ON l.order_id = o.id AND l.external_id = 'l1'`).Scan(&status, &email, &refunded); err != nil {
		t.Fatal(err)
	}
	if status != "partially_refunded" || email != "ana@example.com" || refunded != 1 {
		t.Errorf("order status %q email %q refunded %d; want partially_refunded, ana@example.com, 1", status, email, refunded)
	}
	var ck string
	if err := b.pool.QueryRow(context.Background(), `SELECT status FROM checkouts WHERE external_id = 'k1'`).Scan(&ck); err != nil || ck != "recovered" {
		t.Errorf("checkout status %q (%v), want recovered by the order carrying its token", ck, err)
	}
	var customers int
	_ = b.pool.QueryRow(context.Background(), `SELECT count(*) FROM customers`).Scan(&customers)
	if customers != 1 {
		t.Errorf("%d customers, want 1: checkout by email and order by id are the same person", customers)
	}
}

func TestOlderUpdateDoesNotOverwrite(t *testing.T) {
	t.Parallel()
	b := procSetup(t)
	b.process(t, orderV2)
	before := b.snapshot(t)
	b.process(t, orderV1) // a late retry of the first version
	if after := b.snapshot(t); after != before {
		t.Fatalf("an older update changed data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Consent follows the newest consent time: an old opt-in never undoes a later opt-out.
	b.process(t, `{"type":"customer","customer":{"id":"c1","consent":"unsubscribed","consent_at":"2025-04-01T00:00:00Z"}}`)
	b.process(t, `{"type":"customer","customer":{"id":"c1","consent":"subscribed","consent_at":"2025-03-15T00:00:00Z"}}`)
	var consent string
	_ = b.pool.QueryRow(context.Background(), `SELECT consent FROM customers WHERE external_id = 'c1'`).Scan(&consent)
	if consent != "unsubscribed" {
		t.Errorf("consent %q, want unsubscribed (the newer change)", consent)
	}
}

func TestRefundBeforeOrderWaits(t *testing.T) {
	t.Parallel()
	b := procSetup(t)
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		_, err := Process(context.Background(), tx, store.Delivery{StoreID: b.storeID, Platform: "generic",
			Body: []byte(`{"type":"refund","refund":{"id":"r9","order_id":"404","lines":[{"line_id":"1","quantity":1}]}}`)})
		return err
	})
	if err == nil {
		t.Fatal("a refund for an unknown order must ask for a retry (error), not be dropped")
	}
}

func TestRedactKeepsAnonymousLines(t *testing.T) {
	t.Parallel()
	b := procSetup(t)
	b.process(t, orderV2)
	err := pgx.BeginFunc(context.Background(), b.pool, func(tx pgx.Tx) error {
		_, err := Process(context.Background(), tx, store.Delivery{StoreID: b.storeID, Platform: "shopify", Topic: "customers/redact",
			Body: []byte(`{"shop_id":1,"shop_domain":"p.example","customer":{"id":"c1","email":"ana@example.com"},"orders_to_redact":[]}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var email *string
	var first string
	var lines int
	_ = b.pool.QueryRow(context.Background(), `SELECT email, first_name, (SELECT count(*) FROM order_lines) FROM customers`).Scan(&email, &first, &lines)
	if email != nil || first != "" || lines != 2 {
		t.Errorf("after redact: email %v, first name %q, %d lines; want no email, no name, 2 lines kept", email, first, lines)
	}
}

func TestBatchOfOrders(t *testing.T) {
	t.Parallel()
	b := procSetup(t)
	body := `[` + orderV2 + `,
{"type":"order","order":{"id":"1002","created_at":"2025-03-05T10:00:00Z","currency":"EUR","status":"paid",
 "customer":{"email":"ana@example.com","last_name":"Lopez"},"lines":[{"product_id":"p2","quantity":3,"price":"5.00"},{"product_id":"p9","title":"New","quantity":1,"price":"1.00"}]}},
{"type":"order","order":{"id":"1003","created_at":"2025-03-06T10:00:00Z","currency":"EUR","status":"paid",
 "customer":{"id":"c2","email":"bo@example.com"},"lines":[{"sku":"S-1","quantity":1,"price":"2.00"}]}},
{"type":"refund","refund":{"id":"r1","order_id":"1002","lines":[{"line_id":"1","quantity":3}]}}]`
	if out := b.process(t, body); out.Status != store.InboxProcessed {
		t.Fatalf("batch: %+v", out)
	}
	before := b.snapshot(t)
	b.process(t, body)
	if after := b.snapshot(t); after != before {
		t.Fatalf("processing a batch twice changed data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var customers, orders, lines, products int
	var last, status string
	_ = b.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
(SELECT count(*) FROM order_lines), (SELECT count(*) FROM products),
(SELECT last_name FROM customers WHERE email = 'ana@example.com'), (SELECT status FROM orders WHERE external_id = '1002')`).Scan(
		&customers, &orders, &lines, &products, &last, &status)
	if customers != 2 || orders != 3 || lines != 5 || products != 4 || last != "Lopez" || status != "partially_refunded" {
		t.Errorf("got %d customers, %d orders, %d lines, %d products, last name %q, order 1002 %q; want 2, 3, 5, 4, Lopez, partially_refunded",
			customers, orders, lines, products, last, status)
	}
}

func TestCheckoutAbandonedThenRecovered(t *testing.T) {
	t.Parallel()
	b := procSetup(t)
	ctx := context.Background()
	old := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	b.process(t, `{"type":"checkout","checkout":{"id":"k9","token":"tok9","currency":"EUR","updated_at":"`+old+`",
"customer":{"email":"cy@example.com"},"lines":[{"product_id":"p1","quantity":1,"price":"5.00"}]}}`)
	n, err := store.CheckoutsMarkAbandoned(ctx, b.pool, 60)
	if err != nil || n != 1 {
		t.Fatalf("marked %d abandoned (%v), want 1", n, err)
	}
	b.process(t, `{"type":"order","order":{"id":"o9","created_at":"`+old+`","currency":"EUR","status":"paid","checkout_token":"tok9",
"customer":{"email":"cy@example.com"},"lines":[{"product_id":"p1","quantity":1,"price":"5.00"}]}}`)
	var status string
	_ = b.pool.QueryRow(ctx, `SELECT status FROM checkouts WHERE external_id = 'k9'`).Scan(&status)
	if status != "recovered" {
		t.Errorf("checkout %q after its order, want recovered", status)
	}
}
