package store_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

// TestProductStats builds a small store whose statistics are known, one
// transaction per change as order processing makes them, then checks that a
// rebuild from the stored orders gives the same numbers.
func TestProductStats(t *testing.T) {
	ctx := context.Background()
	pool, st := statsStore(t)
	day0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	order := func(ext, customer string, day int, products ...string) *shop.Order {
		o := &shop.Order{ExternalID: ext, Customer: &shop.Customer{Email: customer}, Currency: "GBP", Status: shop.OrderPaid,
			PlacedAt: day0.AddDate(0, 0, day), UpdatedAt: day0.AddDate(0, 0, day)}
		for i, p := range products {
			o.Lines = append(o.Lines, shop.LineItem{ExternalID: fmt.Sprint(i), ProductID: p, Title: p, Quantity: 2, UnitPriceMinor: 500})
		}
		return o
	}
	inTx := func(what string, fn func(tx pgx.Tx) error) {
		t.Helper()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return store.StatsSync(ctx, tx, st.ID)
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	inTx("first orders", func(tx pgx.Tx) error {
		return store.OrdersUpsert(ctx, tx, st.ID, []*shop.Order{order("o1", "a@x.example", 0, "tea", "mug"),
			order("o2", "b@x.example", 1, "tea", "mug", "pot")})
	})
	inTx("a buys tea again", func(tx pgx.Tx) error {
		return store.OrderUpsert(ctx, tx, st.ID, order("o3", "a@x.example", 30, "tea"))
	})
	inTx("b returns the pot", func(tx pgx.Tx) error {
		return store.RefundApply(ctx, tx, st.ID, &shop.Refund{ExternalID: "r1", OrderExternalID: "o2", CreatedAt: day0,
			Lines: []shop.RefundLine{{LineExternalID: "2", Quantity: 2}}})
	})
	inTx("c orders", func(tx pgx.Tx) error {
		return store.OrderUpsert(ctx, tx, st.ID, order("o4", "c@x.example", 2, "mug", "pot"))
	})
	inTx("c's order is cancelled", func(tx pgx.Tx) error { return store.OrderCancel(ctx, tx, st.ID, "o4") })
	inTx("d buys a mug, and a spoon a week later", func(tx pgx.Tx) error {
		return store.OrdersUpsert(ctx, tx, st.ID, []*shop.Order{order("o5", "d@x.example", 3, "mug"),
			order("o6", "d@x.example", 10, "spoon")})
	})

	tea := wantStats(t, pool, st.ID, "tea", 3, 2, 1)
	if tea.RepurchaseDays == nil || math.Abs(*tea.RepurchaseDays-30) > 1e-9 {
		t.Errorf("tea repurchase days %v, want 30", tea.RepurchaseDays)
	}
	mug := wantStats(t, pool, st.ID, "mug", 3, 3, 0)
	if len(mug.BoughtWith) != 1 || mug.BoughtWith[0].Title != "tea" || mug.BoughtWith[0].Orders != 2 {
		t.Errorf("mug bought with %+v, want tea in 2 orders only (the pot was returned, c's order cancelled, d's spoon came in another order)", mug.BoughtWith)
	}
	if got := fmt.Sprint(mug.SameCustomers); got != fmt.Sprintf("[{%d tea 2} {%d spoon 1}]", productID(t, pool, st.ID, "tea"), productID(t, pool, st.ID, "spoon")) {
		t.Errorf("mug's buyers also bought %s, want tea (a, b) and spoon (d, in another order); not the returned or cancelled pot", got)
	}
	if _, err := store.ProductStatsGet(ctx, pool, st.ID, productID(t, pool, st.ID, "pot"), 5); err != store.ErrNoStats {
		t.Errorf("pot: %v, want ErrNoStats: every pot was returned or cancelled", err)
	}

	incremental := dumpStats(t, pool, st.ID)
	if _, err := store.StatsFold(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if folded := dumpStats(t, pool, st.ID); folded != incremental {
		t.Errorf("folding changed the statistics:\n%s\nwant\n%s", folded, incremental)
	}
	// The pot's pairs fell to zero (returned, cancelled): folding drops them.
	var zero int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pair_stats WHERE store_id = $1 AND orders = 0`, st.ID).Scan(&zero); err != nil || zero != 0 {
		t.Errorf("%d pair rows at zero after folding (%v), want none", zero, err)
	}
	if err := store.StatsRebuild(ctx, pool, st.ID); err != nil {
		t.Fatal(err)
	}
	if rebuilt := dumpStats(t, pool, st.ID); rebuilt != incremental {
		t.Errorf("rebuilt statistics differ from the ones kept order by order:\n%s\nwant\n%s", rebuilt, incremental)
	}
}

// statsStore is a fresh database with one store.
func statsStore(t *testing.T) (*pgxpool.Pool, store.Store) {
	t.Helper()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(context.Background(), pool, store.Store{Name: "Tea", Platform: "generic", Domain: "tea.example",
		WebhookSecret: "secret-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return pool, st
}

func wantStats(t *testing.T, pool *pgxpool.Pool, storeID int64, product string, orders, buyers, repeat int64) store.ProductStats {
	t.Helper()
	s, err := store.ProductStatsGet(context.Background(), pool, storeID, productID(t, pool, storeID, product), 5)
	if err != nil {
		t.Fatalf("%s: %v", product, err)
	}
	if s.Orders != orders || s.Buyers != buyers || s.RepeatBuyers != repeat || s.Units != 2*orders {
		t.Errorf("%s: %d orders, %d units, %d buyers, %d repeat buyers; want %d, %d, %d, %d", product, s.Orders, s.Units, s.Buyers,
			s.RepeatBuyers, orders, 2*orders, buyers, repeat)
	}
	return s
}

func productID(t *testing.T, pool *pgxpool.Pool, storeID int64, ext string) int64 {
	t.Helper()
	p, err := store.ProductFind(context.Background(), pool, storeID, ext)
	if err != nil {
		t.Fatalf("product %s: %v", ext, err)
	}
	return p.ID
}

// dumpStats prints every statistic of the store as it reads now.
func dumpStats(t *testing.T, pool *pgxpool.Pool, storeID int64) string {
	t.Helper()
	var out string
	err := pool.QueryRow(context.Background(), `SELECT
    (SELECT COALESCE(string_agg(format('%s %s %s %s %s %s %s', product_id, orders, units, buyers, repeat_buyers, repeat_gaps, round(repeat_days::numeric, 6)), E'\n' ORDER BY product_id), '')
     FROM product_stats_now WHERE store_id = $1 AND (orders, units, buyers, repeat_buyers, repeat_gaps) <> (0, 0, 0, 0, 0))
    || E'\n' ||
    (SELECT COALESCE(string_agg(format('%s-%s %s', product_a, product_b, orders), E'\n' ORDER BY product_a, product_b), '')
     FROM pair_stats_now WHERE store_id = $1)
    || E'\n' ||
    (SELECT COALESCE(string_agg(format('%s-%s %s', product_a, product_b, customers), E'\n' ORDER BY product_a, product_b), '')
     FROM history_pair_stats_now WHERE store_id = $1)`, storeID).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProductStatsConcurrentCustomer: a refund and a new order of one
// customer, in two transactions at once, each recompute that customer's
// history; the second must wait for the first, or it recomputes without the
// first's change and the statistics drift from the orders.
func TestProductStatsConcurrentCustomer(t *testing.T) {
	ctx := context.Background()
	pool, st := statsStore(t)
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	order := func(ext string, day int) *shop.Order {
		return &shop.Order{ExternalID: ext, Customer: &shop.Customer{Email: "a@x.example"}, Currency: "GBP", Status: shop.OrderPaid,
			PlacedAt: at.AddDate(0, 0, day), UpdatedAt: at.AddDate(0, 0, day),
			Lines: []shop.LineItem{{ExternalID: "1", ProductID: "tea", Quantity: 2, UnitPriceMinor: 500}}}
	}
	sync := func(tx pgx.Tx) error { return store.StatsSync(ctx, tx, st.ID) }
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := store.OrderUpsert(ctx, tx, st.ID, order("o1", 0)); err != nil {
			return err
		}
		return sync(tx)
	}); err != nil {
		t.Fatal(err)
	}
	// The new order's transaction stays open while the refund runs.
	tx1, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx) //nolint:errcheck
	if err := store.OrderUpsert(ctx, tx1, st.ID, order("o2", 20)); err != nil {
		t.Fatal(err)
	}
	if err := sync(tx1); err != nil {
		t.Fatal(err)
	}
	refunded := make(chan error, 1)
	go func() {
		refunded <- pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if err := store.RefundApply(ctx, tx, st.ID, &shop.Refund{ExternalID: "r1", OrderExternalID: "o1", CreatedAt: at,
				Lines: []shop.RefundLine{{LineExternalID: "1", Quantity: 2}}}); err != nil {
				return err
			}
			return sync(tx)
		})
	}()
	time.Sleep(300 * time.Millisecond) // the refund reaches the customer's lock
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-refunded; err != nil {
		t.Fatal(err)
	}
	kept := dumpStats(t, pool, st.ID)
	if err := store.StatsRebuild(ctx, pool, st.ID); err != nil {
		t.Fatal(err)
	}
	if rebuilt := dumpStats(t, pool, st.ID); rebuilt != kept {
		t.Errorf("statistics after concurrent changes:\n%s\nwant, as rebuilt:\n%s", kept, rebuilt)
	}
	if s := wantStats(t, pool, st.ID, "tea", 1, 1, 0); s.RepurchaseDays != nil {
		t.Errorf("one order of tea is left, yet a repurchase interval: %v", *s.RepurchaseDays)
	}
}

// TestPricePosition: a product's place by price among its category's
// products, cheapest 0, dearest 1, follows the catalog at once.
func TestPricePosition(t *testing.T) {
	ctx := context.Background()
	pool, st := statsStore(t)
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for i, price := range []int64{900, 1500, 3000} {
		if err := store.ProductUpsert(ctx, pool, st.ID, &shop.Product{ExternalID: fmt.Sprint("pot", i), Title: fmt.Sprint("Pot ", i),
			Category: "teapots", PriceMinor: price, Currency: "GBP", InStock: true, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.OrderUpsert(ctx, pool, st.ID, &shop.Order{ExternalID: "o1", Customer: &shop.Customer{Email: "a@x.example"},
		Currency: "GBP", Status: shop.OrderPaid, PlacedAt: at, UpdatedAt: at,
		Lines: []shop.LineItem{{ExternalID: "1", ProductID: "pot1", Quantity: 1, UnitPriceMinor: 1500}}}); err != nil {
		t.Fatal(err)
	}
	if err := store.StatsRebuild(ctx, pool, st.ID); err != nil {
		t.Fatal(err)
	}
	s, err := store.ProductStatsGet(ctx, pool, st.ID, productID(t, pool, st.ID, "pot1"), 5)
	if err != nil || s.PricePosition == nil || *s.PricePosition != 0.5 || s.Category != "teapots" {
		t.Fatalf("pot1: %+v (%v), want price position 0.5 among teapots", s, err)
	}
	// A dearer pot arrives: the middle pot moves down without any recompute.
	if err := store.ProductUpsert(ctx, pool, st.ID, &shop.Product{ExternalID: "pot3", Title: "Pot 3", Category: "teapots",
		PriceMinor: 4500, Currency: "GBP", InStock: true, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	s, _ = store.ProductStatsGet(ctx, pool, st.ID, productID(t, pool, st.ID, "pot1"), 5)
	if s.PricePosition == nil || math.Abs(*s.PricePosition-1.0/3) > 1e-9 {
		t.Errorf("pot1 after a dearer pot: %v, want 1/3", s.PricePosition)
	}
}

// TestFoldSkipsWhileRebuilding: a fold during a rebuild (here, a
// transaction holding the rebuild's side of their lock) folds nothing, so
// it cannot add totals the rebuild's delete did not see; the next fold
// takes the changes.
func TestFoldSkipsWhileRebuilding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st := statsStore(t)
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := store.OrderUpsert(ctx, tx, st.ID, &shop.Order{ExternalID: "o1", Customer: &shop.Customer{Email: "a@x.example"},
			Currency: "GBP", Status: shop.OrderPaid, PlacedAt: at, UpdatedAt: at,
			Lines: []shop.LineItem{{ExternalID: "1", ProductID: "tea", Title: "tea", Quantity: 1, UnitPriceMinor: 500}}}); err != nil {
			return err
		}
		return store.StatsSync(ctx, tx, st.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	rebuild, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rebuild.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, store.StatsFoldLock); err != nil {
		t.Fatal(err)
	}
	if n, err := store.StatsFold(ctx, pool); err != nil || n != 0 {
		t.Errorf("fold during a rebuild: %d rows, %v; want 0 and no error", n, err)
	}
	_ = rebuild.Rollback(ctx)
	if n, err := store.StatsFold(ctx, pool); err != nil || n == 0 {
		t.Errorf("fold after the rebuild: %d rows, %v; want the pending changes", n, err)
	}
}
