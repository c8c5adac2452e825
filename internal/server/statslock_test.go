package server

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/store"
)

// TestDeliveriesWaitForAStatsRebuild: while a store's statistics are being
// rebuilt, its deliveries are not failed and do not hold connections
// waiting: their job is snoozed without using an attempt, and they are
// processed, with their statistics, once the rebuild is over.
func TestDeliveriesWaitForAStatsRebuild(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	st := b.addStore(t, "generic", "rebuild.example", "rebuild-secret")
	rebuild, err := b.pool.Begin(ctx) // holds what remarket_stats_rebuild holds
	if err != nil {
		t.Fatal(err)
	}
	defer rebuild.Rollback(ctx) //nolint:errcheck
	if _, err := rebuild.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::int)`, store.StatsRebuildLock, st.ID); err != nil {
		t.Fatal(err)
	}
	ids, err := store.InboxInsert(ctx, b.pool, []store.Delivery{{StoreID: st.ID, Platform: "generic", Topic: "generic", DedupeKey: "o1",
		Body: []byte(`{"type":"order","order":{"id":"o1","created_at":"2025-01-01T00:00:00Z","currency":"EUR","status":"paid",` +
			`"customer":{"email":"a@example.com"},"lines":[{"id":"1","product_id":"p1","quantity":2,"price":"5"}]}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.srv.River().Insert(ctx, ingest.DeliveryArgs{InboxIDs: ids}, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := b.srv.River().JobGet(ctx, res.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		// River snoozes a job by scheduling it later, with the attempt
		// given back.
		if j.ScheduledAt.After(res.Job.ScheduledAt.Add(4*time.Second)) && j.Attempt == 0 && len(j.Errors) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s, attempt %d, errors %v: want it snoozed", j.State, j.Attempt, j.Errors)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE status = 'pending'`); n != 1 {
		t.Errorf("%d deliveries pending during the rebuild, want 1", n)
	}
	// What a snoozed job asks before trying again.
	if busy, err := store.StatsRebuildingFor(ctx, b.pool, ids); err != nil || !busy {
		t.Errorf("StatsRebuildingFor during the rebuild: %v, %v; want true", busy, err)
	}
	if err := rebuild.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if busy, err := store.StatsRebuildingFor(ctx, b.pool, ids); err != nil || busy {
		t.Errorf("StatsRebuildingFor after the rebuild: %v, %v; want false", busy, err)
	}
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM product_stats_now WHERE store_id = $1 AND orders = 1 AND units = 2`, st.ID); n != 1 {
		t.Errorf("after the rebuild the order is not in the statistics (%d rows)", n)
	}
}
