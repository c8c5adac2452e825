package recs

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

// TestModelStaysCurrent: a served model picks up new orders and refunds
// without anyone rebuilding it.
func TestModelStaysCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "r", Platform: "generic", Domain: "r.example", WebhookSecret: "x", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	order := func(id, customer string, products ...string) {
		t.Helper()
		o := &shop.Order{ExternalID: id, Customer: &shop.Customer{ExternalID: customer}, Currency: "EUR", Status: shop.OrderPaid, PlacedAt: at, UpdatedAt: at}
		for i, p := range products {
			o.Lines = append(o.Lines, shop.LineItem{ExternalID: fmt.Sprint(i + 1), ProductID: p, Title: "T " + p, Quantity: 1, UnitPriceMinor: 100})
		}
		at = at.Add(time.Hour)
		if err := store.OrderUpsert(ctx, pool, st.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	// tea and mug go together for many customers.
	for i := range 6 {
		order(fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug")
	}
	order("x1", "newbie", "tea")
	svc := &Service{DB: pool, Opts: recommend.DefaultOptions}
	newbie, err := store.CustomerFind(ctx, pool, st.ID, "newbie")
	if err != nil {
		t.Fatal(err)
	}
	picks := func() []string {
		t.Helper()
		ps, err := svc.Recommend(ctx, st.ID, recommend.Request{Customer: newbie.ID, Strategy: recommend.CrossSell, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			pr, _ := store.ProductsByID(ctx, pool, []int64{p.Product})
			out = append(out, pr[p.Product].ExternalID)
		}
		return out
	}
	if got := picks(); !slices.Contains(got, "mug") {
		t.Fatalf("cross-sell for a tea buyer = %v, want mug", got)
	}
	// The newbie buys the mug: the model must learn it without a rebuild.
	order("x2", "newbie", "mug")
	if got := picks(); slices.Contains(got, "mug") {
		t.Errorf("after buying the mug it is still recommended: %v", got)
	}
	// The mug is refunded: it no longer counts as bought (a retrain).
	if err := store.RefundApply(ctx, pool, st.ID, &shop.Refund{ExternalID: "r1", OrderExternalID: "x2", CreatedAt: at,
		Lines: []shop.RefundLine{{LineExternalID: "1", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	if got := picks(); !slices.Contains(got, "mug") {
		t.Errorf("after the refund the mug should be recommended again: %v", got)
	}
	// The shop marks the mug out of stock: it is never recommended.
	if err := store.ProductUpsert(ctx, pool, st.ID, &shop.Product{ExternalID: "mug", Title: "T mug", InStock: false, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := picks(); slices.Contains(got, "mug") {
		t.Errorf("an out-of-stock mug is still recommended: %v", got)
	}
}

// TestLateCommitIsNotMissed: an order whose transaction began first (lower
// id, older timestamps) but commits after a later one was already seen by
// the model still reaches it, without a retrain.
func TestLateCommitIsNotMissed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "l", Platform: "generic", Domain: "l.example", WebhookSecret: "x", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	order := func(db store.DB, id, customer string, products ...string) {
		t.Helper()
		o := &shop.Order{ExternalID: id, Customer: &shop.Customer{ExternalID: customer}, Currency: "EUR", Status: shop.OrderPaid, PlacedAt: at, UpdatedAt: at}
		for i, p := range products {
			o.Lines = append(o.Lines, shop.LineItem{ExternalID: fmt.Sprint(i + 1), ProductID: p, Title: "T " + p, Quantity: 1, UnitPriceMinor: 100})
		}
		at = at.Add(time.Hour)
		if err := store.OrderUpsert(ctx, db, st.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		order(pool, fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug", "pot")
	}
	order(pool, "a0", "amy", "tea")
	order(pool, "b0", "bob", "tea")
	svc := &Service{DB: pool, Opts: recommend.DefaultOptions}
	owns := func(customer, product string) bool {
		t.Helper()
		cu, err := store.CustomerFind(ctx, pool, st.ID, customer)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := svc.Recommend(ctx, st.ID, recommend.Request{Customer: cu.ID, Strategy: recommend.CrossSell, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			pr, _ := store.ProductsByID(ctx, pool, []int64{p.Product})
			if pr[p.Product].ExternalID == product {
				return false
			}
		}
		return true
	}
	if owns("amy", "mug") || owns("bob", "pot") {
		t.Fatal("the model already thinks amy owns the mug or bob the pot")
	}
	model, _ := svc.Model(ctx, st.ID)

	// Amy's mug order begins first and stays open; Bob's pot order commits.
	late, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback(ctx) //nolint:errcheck
	order(late, "a1", "amy", "mug")
	order(pool, "b1", "bob", "pot")
	if !owns("bob", "pot") || owns("amy", "mug") {
		t.Fatal("after bob's order, the model should know his pot and not yet amy's mug")
	}
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !owns("amy", "mug") {
		t.Error("amy's mug order, committed late, never reached the model")
	}
	if m, _ := svc.Model(ctx, st.ID); m != model {
		t.Error("the model was trained again; new orders should be added to it")
	}
}

// TestSecondPartialRefundReachesTheModel: a refund that leaves the order
// partially refunded, after another one did, still takes the product out of
// what the customer owns.
func TestSecondPartialRefundReachesTheModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "p", Platform: "generic", Domain: "p.example", WebhookSecret: "x", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	order := func(id, customer string, products ...string) {
		t.Helper()
		o := &shop.Order{ExternalID: id, Customer: &shop.Customer{ExternalID: customer}, Currency: "EUR", Status: shop.OrderPaid, PlacedAt: at, UpdatedAt: at}
		for i, p := range products {
			o.Lines = append(o.Lines, shop.LineItem{ExternalID: fmt.Sprint(i + 1), ProductID: p, Title: "T " + p, Quantity: 1, UnitPriceMinor: 100})
		}
		at = at.Add(time.Hour)
		if err := store.OrderUpsert(ctx, pool, st.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		order(fmt.Sprint("o", i), fmt.Sprint("c", i), "tea", "mug", "pot", "cup")
	}
	order("z1", "zoe", "tea", "mug", "pot")
	svc := &Service{DB: pool, Opts: recommend.DefaultOptions}
	zoe, err := store.CustomerFind(ctx, pool, st.ID, "zoe")
	if err != nil {
		t.Fatal(err)
	}
	recommended := func(product string) bool {
		t.Helper()
		ps, err := svc.Recommend(ctx, st.ID, recommend.Request{Customer: zoe.ID, Strategy: recommend.CrossSell, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			pr, _ := store.ProductsByID(ctx, pool, []int64{p.Product})
			if pr[p.Product].ExternalID == product {
				return true
			}
		}
		return false
	}
	refund := func(id, line string) {
		t.Helper()
		if err := store.RefundApply(ctx, pool, st.ID, &shop.Refund{ExternalID: id, OrderExternalID: "z1", CreatedAt: at,
			Lines: []shop.RefundLine{{LineExternalID: line, Quantity: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if recommended("mug") {
		t.Fatal("zoe owns the mug, yet it is recommended")
	}
	refund("r1", "1") // the tea: the order becomes partially refunded
	if !recommended("tea") {
		t.Fatal("after the first refund the tea should be recommended again")
	}
	refund("r2", "2") // the mug: still partially refunded (the pot is kept)
	if !recommended("mug") {
		t.Error("after the second partial refund the mug should be recommended again")
	}
}
