package ingest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/store"
)

// TestProcessingKeepsProductStats: the transaction that processes a
// delivery also updates the product statistics, and a refund of a whole
// line takes its product out of them.
func TestProcessingKeepsProductStats(t *testing.T) {
	b := procSetup(t)
	ctx := context.Background()
	many := func(bodies ...string) {
		t.Helper()
		var ds []store.Delivery
		for _, body := range bodies {
			ds = append(ds, store.Delivery{StoreID: b.storeID, Platform: "generic", Topic: "generic", Body: []byte(body)})
		}
		if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return ProcessMany(ctx, tx, ds, false) }); err != nil {
			t.Fatal(err)
		}
	}
	pairs := func() int64 {
		t.Helper()
		var n int64
		if err := b.pool.QueryRow(ctx, `SELECT COALESCE(sum(orders), 0) FROM pair_stats_now WHERE store_id = $1`, b.storeID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	many(orderV2)
	tee, err := store.ProductFind(ctx, b.pool, b.storeID, "p1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.ProductStatsGet(ctx, b.pool, b.storeID, tee.ID, 5)
	if err != nil || s.Orders != 1 || s.Units != 2 || s.Buyers != 1 || len(s.BoughtWith) != 1 || s.BoughtWith[0].Title != "Socks" {
		t.Fatalf("after the order: %+v (%v), want 1 order of 2 units by 1 buyer, bought with Socks", s, err)
	}
	many(`{"type":"refund","refund":{"id":"r1","order_id":"1001","created_at":"2025-03-03T10:00:00Z","lines":[{"line_id":"l2","quantity":1}]}}`)
	if n := pairs(); n != 0 {
		t.Errorf("after the socks were returned, %d co-purchases remain, want 0", n)
	}
}
