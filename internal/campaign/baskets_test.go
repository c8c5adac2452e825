package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/store"
)

// TestEmailsShowTheLatestOrderAndCheckout: a thank-you email lists the
// customer's latest order as it stands after refunds, cut short for a long
// order, and an abandoned-checkout email shows the abandoned cart.
func TestEmailsShowTheLatestOrderAndCheckout(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	var lines []shop.LineItem
	for i := range 14 {
		lines = append(lines, shop.LineItem{ExternalID: fmt.Sprint(i), ProductID: fmt.Sprint("p", i), Title: fmt.Sprintf("Loose leaf %02d", i),
			Quantity: 2, UnitPriceMinor: 300})
	}
	lines[1].UnitPriceMinor = 900 // first in the list even after half is refunded
	ana := &shop.Customer{Email: "ana@example.com"}
	if err := store.OrderUpsert(ctx, b.pool, b.st.ID, &shop.Order{ExternalID: "A-77", Number: "#1077", Customer: ana, Currency: "GBP",
		Status: shop.OrderPaid, TotalMinor: 8400, PlacedAt: at, UpdatedAt: at, Lines: lines}); err != nil {
		t.Fatal(err)
	}
	if err := store.RefundApply(ctx, b.pool, b.st.ID, &shop.Refund{ExternalID: "r1", OrderExternalID: "A-77", CreatedAt: at,
		Lines: []shop.RefundLine{{LineExternalID: "0", Quantity: 2}, {LineExternalID: "1", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	got := b.preview(t, "thank-you", "ana@example.com")
	for _, want := range []string{"order #1077", "1 x Loose leaf 01 - £9.00\n2 x Loose leaf 02", "2 x Loose leaf 12 - £6.00\nand 1 more item", "Total: £84.00"} {
		if !strings.Contains(got, want) {
			t.Errorf("thank-you text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "x Loose leaf 00") || strings.Contains(got, "x Loose leaf 13") {
		t.Errorf("thank-you shows a refunded line or more than 12 lines:\n%s", got)
	}

	if err := store.CheckoutUpsert(ctx, b.pool, b.st.ID, &shop.Checkout{ExternalID: "k1", Token: "tok", URL: "https://tea.example/checkouts/tok",
		Customer: ana, Currency: "GBP", TotalMinor: 1650, UpdatedAt: at.Add(-2 * time.Hour),
		Lines: []shop.LineItem{{ProductID: "pot", Title: "Cast iron teapot", Quantity: 1, UnitPriceMinor: 1650}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CheckoutsMarkAbandoned(ctx, b.pool, 60); err != nil {
		t.Fatal(err)
	}
	got = b.preview(t, "abandoned-checkout", "ana@example.com")
	for _, want := range []string{"1 x Cast iron teapot", "https://tea.example/checkouts/tok", "Total: £16.50"} {
		if !strings.Contains(got, want) {
			t.Errorf("abandoned-checkout text lacks %q:\n%s", want, got)
		}
	}
	if got = b.preview(t, "abandoned-checkout", "ben@example.com"); strings.Contains(got, "Total:") {
		t.Errorf("a customer without an abandoned checkout is shown one:\n%s", got)
	}
}

// preview composes a template's email for one customer, as campaign
// preview does, and returns its text part.
func (b *bundle) preview(t *testing.T, template, email string) string {
	t.Helper()
	ctx := context.Background()
	c, err := b.svc.Create(ctx, b.st, campaign.CreateParams{Name: template, Template: template, Segment: "orders>=1", K: 2})
	if err != nil {
		t.Fatal(err)
	}
	cu, err := store.CustomerFind(ctx, b.pool, b.st.ID, email)
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.svc.Composer.Compose(ctx, b.st, c, cu, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m.Message.Text
}
