package store_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/store"
)

// BenchmarkLedgerFill plans a campaign to every customer of a store with a
// fresh ledger and the production frequency cap (20 hours), beside a plain
// INSERT … SELECT of the same rows without any skip reason, in the same run.
// Each customer's suppression and recent sends used to be a subquery that
// PostgreSQL planned as a scan of the (then empty) ledger, which the fill
// itself kept growing: 20,000 customers took 18 s, 200,000 did not finish.
// REMARKET_BENCH_CUSTOMERS sets the store's size (default 20,000).
//
//	go test ./internal/store -run XXX -bench LedgerFill -benchtime 3x
func BenchmarkLedgerFill(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("REMARKET_BENCH_CUSTOMERS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	pool := dbtest.New(b)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "Fill", Platform: "generic", Domain: "fill.example",
		WebhookSecret: "secret-secret"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO customers (store_id, external_id, email, consent)
SELECT $1, 'c' || i, 'c' || i || '@example.com', 'subscribed' FROM generate_series(1, $2) i`, st.ID, n); err != nil {
		b.Fatal(err)
	}
	if err := store.AnalyzeTables(ctx, pool); err != nil {
		b.Fatal(err)
	}
	campaign := func() int64 {
		c, err := store.CampaignInsert(ctx, pool, store.Campaign{StoreID: st.ID, Name: "fill", Template: "cross-sell", Strategy: "blend", K: 6, Segment: "all"})
		if err != nil {
			b.Fatal(err)
		}
		return c.ID
	}
	var fill, plain float64
	for b.Loop() {
		id := campaign()
		t := time.Now() // wall time: the work is PostgreSQL's
		added, err := store.LedgerFill(ctx, pool, id, store.Audience{StoreID: st.ID, Where: "true", FrequencyCapHour: 20})
		if err != nil || added != int64(n) {
			b.Fatalf("filled %d of %d: %v", added, n, err)
		}
		fill += float64(time.Since(t).Microseconds()) / float64(n)
		id = campaign()
		t = time.Now()
		if _, err := pool.Exec(ctx, `INSERT INTO sends (store_id, source_key, campaign_id, customer_id, email)
SELECT $1, 'campaign:' || $2::bigint, $2, c.id, c.email FROM customers c WHERE c.store_id = $1`, st.ID, id); err != nil {
			b.Fatal(err)
		}
		plain += float64(time.Since(t).Microseconds()) / float64(n)
	}
	fill, plain = fill/float64(b.N), plain/float64(b.N)
	b.ReportMetric(fill, "fill-µs/customer")
	b.ReportMetric(plain, "plain-insert-µs/customer")
	b.ReportMetric(fill/plain, "ratio")
}
