package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/slogtest"
	"github.com/remarket/remarket/internal/store"
)

// fixtureDir holds real webhook bodies; they are read, never copied.
var fixtureDir = filepath.Join("..", "..", "..", "shared", "fixtures", "webhooks")

type fixture struct {
	Body      []byte
	Secret    string
	Signature string
}

func loadFixture(t testing.TB, platform, name string) fixture {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(fixtureDir, platform, name+".json"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	sig, err := os.ReadFile(filepath.Join(fixtureDir, platform, name+".signature.txt"))
	if err != nil {
		t.Fatalf("read fixture signature: %v", err)
	}
	f := fixture{Body: body}
	sc := bufio.NewScanner(bytes.NewReader(sig))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch k {
		case "secret":
			f.Secret = v
		case "signature":
			f.Signature = v
		}
	}
	return f
}

type bundle struct {
	pool *pgxpool.Pool
	srv  *Server
	base string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := dbtest.New(t)
	srv, err := New(Params{Pool: pool, Addr: "127.0.0.1:0", Logger: slogtest.New(t), Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &bundle{pool: pool, srv: srv, base: "http://" + srv.Addr()}
}

func (b *bundle) addStore(t *testing.T, platform, domain, secret string) store.Store {
	t.Helper()
	st, err := store.StoreInsert(context.Background(), b.pool, store.Store{Name: domain, Platform: platform, Domain: domain,
		WebhookSecret: secret, Timezone: "UTC", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (b *bundle) post(t *testing.T, path string, headers map[string]string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitIdle waits until no delivery is pending.
func (b *bundle) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE status = 'pending'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func shopifyHeaders(domain, topic, sig, webhookID string) map[string]string {
	return map[string]string{ingest.ShopifyDomain: domain, ingest.ShopifyTopic: topic, ingest.ShopifyHMAC: sig, ingest.ShopifyWebhookID: webhookID}
}

func TestShopifyFixtures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const domain = "fixture-shop.myshopify.com"
	ordered := []struct{ name, topic string }{
		{"orders_create.exact_ids", "orders/create"},
		{"orders_create", "orders/create"},
		{"orders_paid", "orders/paid"},
		{"checkouts_create", "checkouts/create"},
		{"checkouts_update", "checkouts/update"},
		{"customers_update", "customers/update"},
		{"customers_email_marketing_consent_update", "customers_email_marketing_consent/update"},
		{"refunds_create", "refunds/create"},
	}
	secret := loadFixture(t, "shopify", "orders_create").Secret
	b.addStore(t, "shopify", domain, secret)
	for i, f := range ordered {
		fx := loadFixture(t, "shopify", f.name)
		if code := b.post(t, "/webhooks/shopify", shopifyHeaders(domain, f.topic, fx.Signature, f.name), fx.Body); code != http.StatusAccepted {
			t.Fatalf("%s: status %d, want 202", f.name, code)
		}
		if i == 2 {
			b.waitIdle(t) // refunds need their order first; the rest may race
		}
	}
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE status <> 'processed'`); n != 0 {
		rows, _ := b.pool.Query(context.Background(), `SELECT topic, status, error FROM inbox WHERE status <> 'processed'`)
		for rows.Next() {
			var topic, status, reason string
			_ = rows.Scan(&topic, &status, &reason)
			t.Errorf("%s: %s %s", topic, status, reason)
		}
		rows.Close()
	}
	// Shopify's ids exceed 2^53: the exact-ids sample must keep every digit.
	if n := b.count(t, `SELECT count(*) FROM orders WHERE external_id = '820982911946154508'`); n != 1 {
		t.Errorf("exact order id 820982911946154508 stored %d times, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM checkouts`); n < 1 {
		t.Error("no checkout stored")
	}
	// Same webhook id again: acknowledged, not stored twice, no new job.
	jobs := b.count(t, `SELECT count(*) FROM river_job`)
	fx := loadFixture(t, "shopify", "orders_create")
	if code := b.post(t, "/webhooks/shopify", shopifyHeaders(domain, "orders/create", fx.Signature, "orders_create"), fx.Body); code != http.StatusOK {
		t.Errorf("duplicate: status %d, want 200", code)
	}
	if n := b.count(t, `SELECT count(*) FROM inbox`); n != len(ordered) {
		t.Errorf("inbox holds %d deliveries after a duplicate, want %d", n, len(ordered))
	}
	if n := b.count(t, `SELECT count(*) FROM river_job`); n != jobs {
		t.Errorf("duplicate added jobs: %d -> %d", jobs, n)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const domain = "refusals.myshopify.com"
	fx := loadFixture(t, "shopify", "orders_create")
	st := b.addStore(t, "shopify", domain, fx.Secret)

	wrong := shopifyHeaders(domain, "orders/create", "AAAA"+fx.Signature[4:], "w1")
	if code := b.post(t, "/webhooks/shopify", wrong, fx.Body); code != http.StatusUnauthorized {
		t.Errorf("wrong signature: %d, want 401", code)
	}
	missing := shopifyHeaders(domain, "orders/create", "", "w2")
	if code := b.post(t, "/webhooks/shopify", missing, fx.Body); code != http.StatusUnauthorized {
		t.Errorf("missing signature: %d, want 401", code)
	}
	unknown := shopifyHeaders("nobody.myshopify.com", "orders/create", fx.Signature, "w3")
	if code := b.post(t, "/webhooks/shopify", unknown, fx.Body); code != http.StatusNotFound {
		t.Errorf("unknown store: %d, want 404", code)
	}
	big := bytes.Repeat([]byte("x"), 6<<20)
	if code := b.post(t, "/webhooks/generic/"+st.Domain, nil, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("6 MiB body: %d, want 413", code)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/webhooks/shopify", strings.NewReader("a=b"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d, want 415", resp.StatusCode)
	}
	if n := b.count(t, `SELECT count(*) FROM inbox`); n != 0 {
		t.Errorf("refused deliveries stored: %d rows", n)
	}
}

func TestTruncatedBodyIsKeptAndReplayed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const domain = "truncated.myshopify.com"
	fx := loadFixture(t, "shopify", "orders_create")
	b.addStore(t, "shopify", domain, fx.Secret)
	cut := fx.Body[:len(fx.Body)/2]
	sig := b64(ingest.Sign(fx.Secret, cut))
	if code := b.post(t, "/webhooks/shopify", shopifyHeaders(domain, "orders/create", sig, "t1"), cut); code != http.StatusAccepted {
		t.Fatalf("signed truncated body: %d, want 202", code)
	}
	b.waitIdle(t)
	var id int64
	var status, reason string
	if err := b.pool.QueryRow(context.Background(), `SELECT id, status, error FROM inbox`).Scan(&id, &status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != store.InboxFailed || reason == "" {
		t.Fatalf("truncated delivery: status %q reason %q, want failed with a reason", status, reason)
	}
	// Unknown topic: stored, ignored, acknowledged.
	sig = b64(ingest.Sign(fx.Secret, fx.Body))
	if code := b.post(t, "/webhooks/shopify", shopifyHeaders(domain, "themes/publish", sig, "t2"), fx.Body); code != http.StatusAccepted {
		t.Fatalf("unknown topic: %d, want 202", code)
	}
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE topic = 'themes/publish' AND status = 'ignored'`); n != 1 {
		t.Errorf("unknown topic not stored as ignored")
	}
	// A replay re-runs the stored body: still failed (it is still truncated),
	// but processed again with a second attempt.
	ids, err := store.InboxRequeue(context.Background(), b.pool, id)
	if err != nil || len(ids) != 1 {
		t.Fatalf("requeue: %v %v", ids, err)
	}
	if _, err := b.srv.River().Insert(context.Background(), ingest.DeliveryArgs{InboxID: id}, nil); err != nil {
		t.Fatal(err)
	}
	b.waitIdle(t)
	if n := b.count(t, `SELECT attempts FROM inbox WHERE id = $1`, id); n != 2 {
		t.Errorf("replayed delivery has %d attempts, want 2", n)
	}
}

func TestWooCommerce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fx := loadFixture(t, "woocommerce", "order_created")
	st := b.addStore(t, "woocommerce", "woo.example.com", fx.Secret)
	path := "/webhooks/woocommerce/" + st.Domain

	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader("webhook_id=42"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ping: %d, want 200", resp.StatusCode)
	}
	for _, name := range []string{"order_created", "order_updated"} {
		f := loadFixture(t, "woocommerce", name)
		topic := map[string]string{"order_created": "order.created", "order_updated": "order.updated"}[name]
		h := map[string]string{ingest.WooSignature: f.Signature, ingest.WooTopic: topic, ingest.WooDeliveryID: "d-" + name}
		if code := b.post(t, path, h, f.Body); code != http.StatusAccepted {
			t.Fatalf("%s: %d, want 202", name, code)
		}
	}
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE status = 'processed'`); n != 2 {
		t.Errorf("%d of 2 WooCommerce deliveries processed", n)
	}
	if n := b.count(t, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = 'john.doe@example.com'`); n != 1 {
		t.Errorf("WooCommerce order for john.doe@example.com stored %d times, want 1", n)
	}
}

func b64(b []byte) string { return base64Encode(b) }

// TestBatchJobWithOneBadDelivery: one job covers the deliveries of a group
// commit; a refund ahead of its order fails the batch, which falls back to
// one delivery at a time and retries the refund on its own.
func TestBatchJobWithOneBadDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	st := b.addStore(t, "generic", "batch.example", "batch-secret")
	bodies := []string{
		`{"type":"refund","refund":{"id":"r1","order_id":"o1","lines":[{"line_id":"1","quantity":1}]}}`,
		`{"type":"order","order":{"id":"o1","created_at":"2025-01-01T00:00:00Z","currency":"EUR","status":"paid","customer":{"email":"a@example.com"},"lines":[{"id":"1","product_id":"p1","quantity":2,"price":"5"}]}}`,
		`{"type":"order","order":{"id":"o2","created_at":"2025-01-01T00:00:00Z","currency":"EUR","status":"paid","customer":{"email":"b@example.com"},"lines":[{"id":"1","product_id":"p1","quantity":1,"price":"5"}]}}`,
		`{"type":"order","order":{"id":`,
	}
	var ds []store.Delivery
	for i, body := range bodies {
		ds = append(ds, store.Delivery{StoreID: st.ID, Platform: "generic", Topic: "generic", DedupeKey: fmt.Sprint(i), Body: []byte(body)})
	}
	ids, err := store.InboxInsert(ctx, b.pool, ds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.srv.River().Insert(ctx, ingest.DeliveryArgs{InboxIDs: ids}, nil); err != nil {
		t.Fatal(err)
	}
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE status = 'processed'`); n != 3 {
		t.Errorf("%d of 3 good deliveries processed", n)
	}
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE status = 'failed'`); n != 1 {
		t.Errorf("%d failed, want the truncated one", n)
	}
	if n := b.count(t, `SELECT refunded_quantity FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.external_id = 'o1'`); n != 1 {
		t.Errorf("refunded quantity %d, want 1 once the refund was retried after its order", n)
	}
}
