package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/campaign"
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
	a := store.Audience{StoreID: st.ID, Where: "true", FrequencyCapHour: campaign.DefaultFrequencyCapHours}
	// Each insert starts from an empty ledger, the fill's case, and the two
	// take turns going first.
	measure := func(insert func(id int64) error) float64 {
		if _, err := pool.Exec(ctx, `TRUNCATE sends`); err != nil {
			b.Fatal(err)
		}
		id := newCampaign(b, pool, st.ID)
		t := time.Now() // wall time: the work is PostgreSQL's
		if err := insert(id); err != nil {
			b.Fatal(err)
		}
		return float64(time.Since(t).Microseconds()) / float64(n)
	}
	fillOnce := func(id int64) error {
		added, err := store.LedgerFill(ctx, pool, id, a)
		if err == nil && added != int64(n) {
			err = fmt.Errorf("filled %d of %d", added, n)
		}
		return err
	}
	plainOnce := func(id int64) error {
		_, err := pool.Exec(ctx, `INSERT INTO sends (store_id, source_key, campaign_id, customer_id, email)
SELECT $1, 'campaign:' || $2::bigint, $2, c.id, c.email FROM customers c WHERE c.store_id = $1`, st.ID, id)
		return err
	}
	var fill, plain float64
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			fill += measure(fillOnce)
			plain += measure(plainOnce)
		} else {
			plain += measure(plainOnce)
			fill += measure(fillOnce)
		}
	}
	fill, plain = fill/float64(b.N), plain/float64(b.N)
	b.ReportMetric(fill, "fill-µs/customer")
	b.ReportMetric(plain, "plain-insert-µs/customer")
	b.ReportMetric(fill/plain, "ratio")
}
