package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

// TestProductFindIgnoresCaseWhenUnambiguous: "85123a" finds 85123A when
// only one product is spelt so; an exact match wins, and two that differ
// only in case are not guessed between.
func TestProductFindIgnoresCaseWhenUnambiguous(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st := statsStore(t)
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	o := &shop.Order{ExternalID: "o1", Customer: &shop.Customer{Email: "a@x.example"}, Currency: "GBP", Status: shop.OrderPaid,
		PlacedAt: at, UpdatedAt: at}
	for i, p := range []string{"85123A", "Mug", "MUG"} {
		o.Lines = append(o.Lines, shop.LineItem{ExternalID: p, ProductID: p, Title: p, Quantity: 1, UnitPriceMinor: 500 + int64(i)})
	}
	if err := store.OrderUpsert(ctx, pool, st.ID, o); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"85123a": "85123A", "85123A": "85123A", "Mug": "Mug", "MUG": "MUG", "mug": ""} {
		p, err := store.ProductFind(ctx, pool, st.ID, ref)
		switch {
		case want == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("ProductFind(%q) = %q, %v; want ErrNotFound (ambiguous)", ref, p.ExternalID, err)
		case want != "" && (err != nil || p.ExternalID != want):
			t.Errorf("ProductFind(%q) = %q, %v; want %q", ref, p.ExternalID, err, want)
		}
	}
}
