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
