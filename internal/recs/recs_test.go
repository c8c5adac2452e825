package recs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

// shopFixture is a store in a fresh database with a served model over it.
type shopFixture struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	st   store.Store
	svc  *Service
	at   time.Time // the next order's time
}

func newShop(t *testing.T) *shopFixture {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "r", Platform: "generic", Domain: "r.example", WebhookSecret: "x", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return &shopFixture{t: t, ctx: ctx, pool: pool, st: st, svc: &Service{DB: pool, Opts: recommend.DefaultOptions},
		at: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// order stores a paid order of one of each product through db (the pool,
// or a transaction left open).
func (f *shopFixture) order(db store.DB, id, customer string, products ...string) {
	f.t.Helper()
	o := &shop.Order{ExternalID: id, Customer: &shop.Customer{ExternalID: customer}, Currency: "EUR", Status: shop.OrderPaid, PlacedAt: f.at, UpdatedAt: f.at}
	for i, p := range products {
		o.Lines = append(o.Lines, shop.LineItem{ExternalID: fmt.Sprint(i + 1), ProductID: p, Title: "T " + p, Quantity: 1, UnitPriceMinor: 100})
	}
	f.at = f.at.Add(time.Hour)
	if err := store.OrderUpsert(f.ctx, db, f.st.ID, o); err != nil {
		f.t.Fatal(err)
	}
}

// refund refunds one line of an order.
func (f *shopFixture) refund(id, order, line string) {
	f.t.Helper()
	if err := store.RefundApply(f.ctx, f.pool, f.st.ID, &shop.Refund{ExternalID: id, OrderExternalID: order, CreatedAt: f.at,
		Lines: []shop.RefundLine{{LineExternalID: line, Quantity: 1}}}); err != nil {
		f.t.Fatal(err)
	}
}

// crossSell returns the products (external ids) the served model would
// recommend to a customer now.
func (f *shopFixture) crossSell(customer string) []string {
	f.t.Helper()
	cu, err := store.CustomerFind(f.ctx, f.pool, f.st.ID, customer)
	if err != nil {
		f.t.Fatal(err)
	}
	ps, err := f.svc.Recommend(f.ctx, f.st.ID, recommend.Request{Customer: cu.ID, Strategy: recommend.CrossSell, K: 5})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		pr, _ := store.ProductsByID(f.ctx, f.pool, []int64{p.Product})
		out = append(out, pr[p.Product].ExternalID)
	}
	return out
}

// TestModelStaysCurrent: a served model picks up new orders and refunds
// without anyone rebuilding it.
func TestModelStaysCurrent(t *testing.T) {
	t.Parallel()
	f := newShop(t)
	// tea and mug go together for many customers.
	for i := range 6 {
		f.order(f.pool, fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug")
	}
	f.order(f.pool, "x1", "newbie", "tea")
	if got := f.crossSell("newbie"); !slices.Contains(got, "mug") {
		t.Fatalf("cross-sell for a tea buyer = %v, want mug", got)
	}
	// The newbie buys the mug: the model must learn it without a rebuild.
	f.order(f.pool, "x2", "newbie", "mug")
	if got := f.crossSell("newbie"); slices.Contains(got, "mug") {
		t.Errorf("after buying the mug it is still recommended: %v", got)
	}
	// The mug is refunded: it no longer counts as bought (a retrain).
	f.refund("r1", "x2", "1")
	if got := f.crossSell("newbie"); !slices.Contains(got, "mug") {
		t.Errorf("after the refund the mug should be recommended again: %v", got)
	}
	// The shop marks the mug out of stock: it is never recommended.
	if err := store.ProductUpsert(f.ctx, f.pool, f.st.ID, &shop.Product{ExternalID: "mug", Title: "T mug", InStock: false, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := f.crossSell("newbie"); slices.Contains(got, "mug") {
		t.Errorf("an out-of-stock mug is still recommended: %v", got)
	}
}

// TestLateCommitIsNotMissed: an order whose transaction began first (lower
// id, older timestamps) but commits after a later one was already seen by
// the model still reaches it, without a retrain.
func TestLateCommitIsNotMissed(t *testing.T) {
	t.Parallel()
	f := newShop(t)
	for i := range 4 {
		f.order(f.pool, fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug", "pot")
	}
	f.order(f.pool, "a0", "amy", "tea")
	f.order(f.pool, "b0", "bob", "tea")
	if !slices.Contains(f.crossSell("amy"), "mug") || !slices.Contains(f.crossSell("bob"), "pot") {
		t.Fatal("the model already thinks amy owns the mug or bob the pot")
	}
	model, _ := f.svc.Model(f.ctx, f.st.ID)

	// Amy's mug order begins first and stays open; Bob's pot order commits.
	late, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback(f.ctx) //nolint:errcheck
	f.order(late, "a1", "amy", "mug")
	f.order(f.pool, "b1", "bob", "pot")
	if slices.Contains(f.crossSell("bob"), "pot") || !slices.Contains(f.crossSell("amy"), "mug") {
		t.Fatal("after bob's order, the model should know his pot and not yet amy's mug")
	}
	if err := late.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.crossSell("amy"), "mug") {
		t.Error("amy's mug order, committed late, never reached the model")
	}
	if m, _ := f.svc.Model(f.ctx, f.st.ID); m != model {
		t.Error("the model was trained again; new orders should be added to it")
	}
}

// TestSecondPartialRefundReachesTheModel: a refund that leaves the order
// partially refunded, after another one did, still takes the product out of
// what the customer owns.
func TestSecondPartialRefundReachesTheModel(t *testing.T) {
	t.Parallel()
	f := newShop(t)
	for i := range 5 {
		f.order(f.pool, fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug", "pot", "cup")
	}
	f.order(f.pool, "z1", "zoe", "tea", "mug", "pot")
	if slices.Contains(f.crossSell("zoe"), "mug") {
		t.Fatal("zoe owns the mug, yet it is recommended")
	}
	f.refund("r1", "z1", "1") // the tea: the order becomes partially refunded
	if !slices.Contains(f.crossSell("zoe"), "tea") {
		t.Fatal("after the first refund the tea should be recommended again")
	}
	f.refund("r2", "z1", "2") // the mug: still partially refunded (the pot is kept)
	if !slices.Contains(f.crossSell("zoe"), "mug") {
		t.Error("after the second partial refund the mug should be recommended again")
	}
}

// TestRecommendWhileOrdersArrive: 8 goroutines ask a store's picks while
// orders are stored, each request checking for changes at most a
// millisecond old, so that refreshes run between and beside the requests
// (run with -race). The served model takes every order in without being
// trained again.
func TestRecommendWhileOrdersArrive(t *testing.T) {
	t.Parallel()
	f := newShop(t)
	f.svc.CheckEvery = time.Millisecond
	for i := range 6 {
		f.order(f.pool, fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug", "pot")
	}
	f.order(f.pool, "x0", "newbie", "tea")
	model, err := f.svc.Model(f.ctx, f.st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var custs []int64
	for _, c := range []string{"c0", "c3", "newbie"} {
		cu, err := store.CustomerFind(f.ctx, f.pool, f.st.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		custs = append(custs, cu.ID)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() { f.askUntil(done, custs[g%len(custs)]) })
	}
	for i := range 20 {
		f.order(f.pool, fmt.Sprint("n", i), fmt.Sprint("d", i), "tea", "cup")
	}
	f.order(f.pool, "x1", "newbie", "mug", "pot")
	close(done)
	wg.Wait()
	time.Sleep(2 * f.svc.CheckEvery)
	if got := f.crossSell("newbie"); !slices.Equal(got, []string{"cup"}) {
		t.Errorf("cross-sell for the newbie after all orders = %v, want [cup]", got)
	}
	if m, _ := f.svc.Model(f.ctx, f.st.ID); m != model {
		t.Error("the model was trained again; new orders should be added to it")
	}
}

// askUntil asks a customer's blend and cross-sell picks until done is
// closed.
func (f *shopFixture) askUntil(done <-chan struct{}, customer int64) {
	for {
		select {
		case <-done:
			return
		default:
		}
		for _, s := range []string{recommend.Blend, recommend.CrossSell} {
			ps, err := f.svc.Recommend(f.ctx, f.st.ID, recommend.Request{Customer: customer, Strategy: s, K: 5})
			if err != nil {
				f.t.Error(err)
				return
			}
			for _, p := range ps {
				if p.Reason == "" {
					f.t.Errorf("%s: pick %+v without a reason", s, p)
				}
			}
		}
	}
}
