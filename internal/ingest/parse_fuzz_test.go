package ingest

import (
	"testing"

	"github.com/remarket/remarket/internal/shop"
)

// checkEvents holds for any input: an error means no events, and success
// means at least one event whose kind matches the field it sets.
func checkEvents(t *testing.T, events []shop.Event, err error) {
	t.Helper()
	if err != nil {
		if events != nil {
			t.Fatalf("error %v came with %d events", err, len(events))
		}
		return
	}
	if len(events) == 0 {
		t.Fatal("nil error and no events")
	}
	for i, ev := range events {
		if !kindFieldSet(ev) {
			t.Fatalf("event %d: kind %q without its field: %+v", i, ev.Kind, ev)
		}
	}
}

func kindFieldSet(ev shop.Event) bool {
	switch ev.Kind {
	case shop.KindOrder, shop.KindDelete:
		return ev.Order != nil && ev.Order.ExternalID != ""
	case shop.KindRefund:
		return ev.Refund != nil && ev.Refund.ExternalID != "" && ev.Refund.OrderExternalID != ""
	case shop.KindCheckout:
		return ev.Checkout != nil && ev.Checkout.ExternalID != ""
	case shop.KindView:
		return ev.View != nil && ev.View.ProductID != ""
	case shop.KindCustomer, shop.KindRedact:
		return ev.Customer != nil
	case shop.KindProduct:
		return ev.Product != nil && ev.Product.ExternalID != ""
	case shop.KindIgnored:
		return ev.Reason != ""
	}
	return false
}

func FuzzParseShopify(f *testing.F) {
	for name, topic := range shopifyTopics {
		body := readFixture(f, "shopify", name)
		f.Add(topic, body)
		// The same body under other topics exercises the other decoders.
		f.Add("orders/updated", body)
		f.Add("checkouts/update", body)
	}
	f.Add("customers/redact", []byte(`{"customer": {"id": 1, "email": "a@b.c"}}`))
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		events, err := ParseShopify(topic, body)
		checkEvents(t, events, err)
	})
}

func FuzzParseWooCommerce(f *testing.F) {
	for name, topic := range wcTopics {
		body := readFixture(f, "woocommerce", name)
		f.Add(topic, body)
		f.Add("customer.updated", body)
		f.Add("order.deleted", body)
	}
	f.Add("", []byte("webhook_id=12"))
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		events, err := ParseWooCommerce(topic, body)
		checkEvents(t, events, err)
	})
}

func FuzzParseGeneric(f *testing.F) {
	for _, ex := range genericExamples {
		f.Add([]byte(ex))
	}
	// Platform bodies are plausible mistakes: sent to the wrong endpoint.
	for name := range shopifyTopics {
		f.Add(readFixture(f, "shopify", name))
	}
	for name := range wcTopics {
		f.Add(readFixture(f, "woocommerce", name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseGeneric(body)
		checkEvents(t, events, err)
	})
}
