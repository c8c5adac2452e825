package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// fixtureDir holds third-party webhook bodies shared by all packages; they are
// read in place, never copied into the repo (see its README for provenance).
const fixtureDir = "../../../shared/fixtures/webhooks"

// shopifyTopics maps each Shopify fixture to the topic it was delivered as.
var shopifyTopics = map[string]string{
	"orders_create.json":                            "orders/create",
	"orders_paid.json":                              "orders/paid",
	"orders_create.exact_ids.json":                  "orders/create",
	"refunds_create.json":                           "refunds/create",
	"checkouts_create.json":                         "checkouts/create",
	"checkouts_update.json":                         "checkouts/update",
	"customers_update.json":                         "customers/update",
	"customers_email_marketing_consent_update.json": "customers_email_marketing_consent/update",
}

// wcTopics maps each WooCommerce fixture to its topic.
var wcTopics = map[string]string{
	"order_created.json": "order.created",
	"order_updated.json": "order.updated",
}

func readFixture(tb testing.TB, platform, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, platform, name))
	noErr(tb, err)
	return b
}

// fixtureNames lists the platform's *.json fixtures, so that a fixture added
// later without a topic fails TestFixturesHaveTopics.
func fixtureNames(tb testing.TB, platform string) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(fixtureDir, platform, "*.json"))
	noErr(tb, err)
	if len(names) == 0 {
		tb.Fatalf("no fixtures under %s", fixtureDir)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func one(t *testing.T, events []shop.Event, err error, kind shop.EventKind) shop.Event {
	t.Helper()
	noErr(t, err)
	equal(t, 1, len(events))
	equal(t, kind, events[0].Kind)
	return events[0]
}

func TestFixturesHaveTopics(t *testing.T) {
	t.Parallel()
	for _, n := range fixtureNames(t, "shopify") {
		if _, ok := shopifyTopics[n]; !ok {
			t.Errorf("shopify fixture %s has no topic in shopifyTopics", n)
		}
	}
	for _, n := range fixtureNames(t, "woocommerce") {
		if _, ok := wcTopics[n]; !ok {
			t.Errorf("woocommerce fixture %s has no topic in wcTopics", n)
		}
	}
}

func TestParseShopifyOrderFixtures(t *testing.T) {
	t.Parallel()
	// orders_create and orders_paid are byte-identical test bodies: voided and
	// cancelled whatever the topic says.
	for _, name := range []string{"orders_create.json", "orders_paid.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := shopifyTopics[name]
			events, err := ParseShopify(topic, readFixture(t, "shopify", name))
			o := one(t, events, err, shop.KindOrder).Order

			// The hookdeck capture rounded ids through float64; we keep
			// whatever digits the body has.
			equal(t, "820982911946154500", o.ExternalID)
			equal(t, "#9999", o.Number)
			equal(t, "USD", o.Currency)
			equal(t, int64(38800), o.TotalMinor)
			equal(t, shop.OrderCancelled, o.Status)
			equal(t, true, o.Test)
			equal(t, utc("2022-01-01T00:00:00Z"), o.PlacedAt)
			equal(t, utc("2022-01-01T00:00:00Z"), o.UpdatedAt)
			notNil(t, o.CancelledAt)
			equal(t, utc("2022-01-01T00:00:00Z"), *o.CancelledAt)
			equal(t, "", o.CheckoutToken)

			equal(t, 2, len(o.Lines))
			equal(t, shop.LineItem{
				ExternalID: "866550311766439000", ProductID: "632910392", SKU: "IPOD2008PINK",
				Title: "IPod Nano - 8GB", Quantity: 1, UnitPriceMinor: 19900,
			}, o.Lines[0])
			equal(t, "141249953214522980", o.Lines[1].ExternalID)

			// customer.email wins over the order's email (jon@).
			equal(t, &shop.Customer{
				ExternalID: "115310627314723950", Email: "john@example.com",
				FirstName: "John", LastName: "Smith", Country: "CA",
				Consent: shop.ConsentNotSubscribed, ConsentSource: "shopify:" + topic,
			}, o.Customer)
		})
	}
}

// gidRE finds the authoritative id Shopify repeats as a string.
var gidRE = regexp.MustCompile(`"admin_graphql_api_id": "gid://shopify/Order/(\d+)"`)

func TestParseShopifyExactIDs(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "shopify", "orders_create.exact_ids.json")
	m := gidRE.FindSubmatch(body)
	notNil(t, m)
	equal(t, "820982911946154508", string(m[1]))

	events, err := ParseShopify("orders/create", body)
	o := one(t, events, err, shop.KindOrder).Order
	equal(t, string(m[1]), o.ExternalID, "the id must survive exactly, not as 820982911946154496")
	equal(t, "115310627314723954", o.Customer.ExternalID)
	equal(t, int64(35997), o.TotalMinor)
	equal(t, shop.OrderCancelled, o.Status)

	equal(t, 3, len(o.Lines))
	wantLines := []struct {
		id, product string
		price       int64
	}{
		{"487817672276298554", "788032119674292922", 8999},
		{"976318377106520349", "788032119674292923", 15999},
		{"315789986012684393", "788032119674292924", 11999},
	}
	for i, w := range wantLines {
		equal(t, w.id, o.Lines[i].ExternalID)
		equal(t, w.product, o.Lines[i].ProductID)
		equal(t, w.price, o.Lines[i].UnitPriceMinor)
	}

	// The 2025 sample's customer has no email_marketing_consent, and the
	// buyer ticked the checkout box.
	equal(t, shop.ConsentSubscribed, o.Customer.Consent)
	equal(t, "shopify:checkout", o.Customer.ConsentSource)
	equal(t, o.PlacedAt, o.Customer.ConsentAt)
}

func TestParseShopifyRefundFixture(t *testing.T) {
	t.Parallel()
	events, err := ParseShopify("refunds/create", readFixture(t, "shopify", "refunds_create.json"))
	r := one(t, events, err, shop.KindRefund).Refund
	equal(t, &shop.Refund{
		ExternalID:      "890088186047892400",
		OrderExternalID: "820982911946154500",
		CreatedAt:       utc("2022-01-01T00:00:00Z"),
		Lines: []shop.RefundLine{
			{LineExternalID: "866550311766439000", Quantity: 1},
			{LineExternalID: "141249953214522980", Quantity: 1},
		},
	}, r)
}

func TestParseShopifyCheckoutFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"checkouts_create.json", "checkouts_update.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := shopifyTopics[name]
			events, err := ParseShopify(topic, readFixture(t, "shopify", name))
			c := one(t, events, err, shop.KindCheckout).Checkout
			equal(t, "981820079255243500", c.ExternalID)
			equal(t, "123123123", c.Token)
			equal(t, "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token", c.URL)
			isNil(t, c.CompletedAt)
			equal(t, utc("2022-01-01T00:00:00Z"), c.UpdatedAt)
			equal(t, "USD", c.Currency)
			equal(t, int64(42188), c.TotalMinor)

			// Both lines share one "key", so position is the only line id.
			equal(t, 2, len(c.Lines))
			for i, l := range c.Lines {
				equal(t, []string{"1", "2"}[i], l.ExternalID)
				equal(t, "632910392", l.ProductID)
				equal(t, int64(19900), l.UnitPriceMinor)
				equal(t, 1, l.Quantity)
			}

			equal(t, &shop.Customer{
				ExternalID: "603851970716743400", Email: "john@example.com",
				FirstName: "John", LastName: "Smith", Country: "CA",
				Consent: shop.ConsentNotSubscribed, ConsentSource: "shopify:" + topic,
			}, c.Customer)
		})
	}
}

func TestParseShopifyCustomerFixtures(t *testing.T) {
	t.Parallel()
	events, err := ParseShopify("customers/update", readFixture(t, "shopify", "customers_update.json"))
	c := one(t, events, err, shop.KindCustomer).Customer
	// email_marketing_consent is null here: consent stays unknown.
	equal(t, &shop.Customer{
		ExternalID: "706405506930370000", Email: "bob@biller.com",
		FirstName: "Bob", LastName: "Biller",
		UpdatedAt: utc("2022-01-01T00:00:00Z"),
	}, c)

	// The consent topic's test sample has every value null.
	topic := shopifyTopics["customers_email_marketing_consent_update.json"]
	events, err = ParseShopify(topic, readFixture(t, "shopify", "customers_email_marketing_consent_update.json"))
	c = one(t, events, err, shop.KindCustomer).Customer
	equal(t, &shop.Customer{ExternalID: "706405506930370000"}, c)
}

func TestParseShopifyConsentTopic(t *testing.T) {
	t.Parallel()
	body := []byte(`{"customer_id": 9007199254740993, "email_address": " Ann@Example.com",
		"email_marketing_consent": {"state": "unsubscribed", "opt_in_level": "single_opt_in",
		"consent_updated_at": "2024-05-01T10:00:00+02:00"}}`)
	for _, topic := range []string{"customers/email_marketing_consent/update", "customers_email_marketing_consent/update"} {
		events, err := ParseShopify(topic, body)
		c := one(t, events, err, shop.KindCustomer).Customer
		equal(t, &shop.Customer{
			ExternalID: "9007199254740993", Email: "ann@example.com",
			Consent: shop.ConsentUnsubscribed, ConsentSource: "shopify:" + topic,
			ConsentAt: utc("2024-05-01T08:00:00Z"),
		}, c)
	}
}

func TestParseShopifyOrderStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		financial, cancelledAt string
		want                   shop.OrderStatus
	}{
		{"paid", "null", shop.OrderPaid},
		{"partially_paid", "null", shop.OrderPaid},
		{"partially_refunded", "null", shop.OrderPartiallyRefunded},
		{"refunded", "null", shop.OrderRefunded},
		{"voided", "null", shop.OrderCancelled},
		{"pending", "null", shop.OrderPending},
		{"authorized", "null", shop.OrderPending},
		{"expired", "null", shop.OrderPending},
		{"paid", `"2024-01-02T03:04:05Z"`, shop.OrderCancelled},
	}
	for _, c := range cases {
		body := `{"id": 1, "currency": "USD", "total_price": "1.00", "financial_status": "` +
			c.financial + `", "cancelled_at": ` + c.cancelledAt + `}`
		// The topic must not matter.
		for _, topic := range []string{"orders/create", "orders/cancelled", "orders/paid", "orders/updated"} {
			events, err := ParseShopify(topic, []byte(body))
			o := one(t, events, err, shop.KindOrder).Order
			equal(t, c.want, o.Status, "%s + cancelled_at %s on %s", c.financial, c.cancelledAt, topic)
		}
	}
}

func TestParseShopifyOrderEdges(t *testing.T) {
	t.Parallel()
	// A guest order: no customer object, a number total, string ids, a custom
	// line without product or SKU, and refunds reported inside the order.
	body := []byte(`{
	  "id": "5001", "order_number": 1001, "contact_email": "Guest@Example.com ",
	  "customer": null, "billing_address": {"country_code": "de"},
	  "currency": "JPY", "total_price": 1500, "financial_status": "partially_refunded",
	  "checkout_token": "tok", "buyer_accepts_marketing": false,
	  "created_at": "2024-01-01T09:00:00+09:00", "processed_at": null,
	  "line_items": [
	    {"id": 11, "product_id": 22, "sku": "A", "title": "Mug", "quantity": 3, "price": "500"},
	    {"id": 12, "product_id": null, "sku": null, "title": "Gift wrap", "quantity": 1, "price": 0}
	  ],
	  "refunds": [
	    {"id": 1, "refund_line_items": [{"line_item_id": 11, "quantity": 1}]},
	    {"id": 2, "refund_line_items": [{"line_item_id": "11", "quantity": 1}]}
	  ]
	}`)
	events, err := ParseShopify("orders/updated", body)
	o := one(t, events, err, shop.KindOrder).Order
	equal(t, "5001", o.ExternalID)
	equal(t, "1001", o.Number)
	equal(t, int64(1500), o.TotalMinor)
	equal(t, shop.OrderPartiallyRefunded, o.Status)
	equal(t, "tok", o.CheckoutToken)
	equal(t, utc("2024-01-01T00:00:00Z"), o.PlacedAt)
	equal(t, &shop.Customer{Email: "guest@example.com", Country: "DE"}, o.Customer)
	equal(t, 2, o.Lines[0].RefundedQuantity)
	equal(t, int64(500), o.Lines[0].UnitPriceMinor)
	equal(t, "title:Gift wrap", o.Lines[1].ProductID)
	equal(t, 0, o.Lines[1].RefundedQuantity)

	// Nobody to mail: no customer and no email.
	events, err = ParseShopify("orders/create", []byte(`{"id": 1, "currency": "USD"}`))
	isNil(t, one(t, events, err, shop.KindOrder).Order.Customer)

	// No numeric id, but the GraphQL id carries it.
	events, err = ParseShopify("orders/create", []byte(`{"admin_graphql_api_id": "gid://shopify/Order/820982911946154508"}`))
	equal(t, "820982911946154508", one(t, events, err, shop.KindOrder).Order.ExternalID)
}

func TestParseShopifyRedact(t *testing.T) {
	t.Parallel()
	body := []byte(`{"shop_id": 954889, "shop_domain": "snowdevil.myshopify.com",
		"customer": {"id": 191167, "email": "John@Example.com", "phone": "555-625-1199"},
		"orders_to_redact": [299938, 280263]}`)
	events, err := ParseShopify("customers/redact", body)
	c := one(t, events, err, shop.KindRedact).Customer
	equal(t, &shop.Customer{ExternalID: "191167", Email: "john@example.com"}, c)

	_, err = ParseShopify("customers/redact", []byte(`{"shop_id": 1}`))
	errContains(t, err, "missing customer")
}

func TestParseShopifyErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		topic, body, want string
	}{
		{"orders/create", `{"email": "a@b.c"}`, "parse shopify order: missing id"},
		{"orders/create", `{"id": 820982911946154508.0}`, "not a whole number"},
		{"orders/create", `{"id": 1e3}`, "not a whole number"},
		{"orders/create", `{"id": {"a": 1}}`, "not a string or number"},
		{"orders/create", `{"id": 1, "total_price": "12,50"}`, "parse shopify order 1: total_price"},
		{"orders/create", `{"id": 1, "total_price": "99999999999999999999.00"}`, "too large"},
		{"orders/create", `{"id": 1, "updated_at": "yesterday"}`, `time "yesterday"`},
		{"orders/create", `{"id": 1, "line_items": [{"id": 2, "quantity": -1}]}`, "line 1: quantity -1 is negative"},
		{"orders/create", `[]`, "decode body"},
		{"orders/create", ``, "empty body"},
		{"refunds/create", `{"id": 1}`, "missing id or order_id"},
		{"refunds/create", `{"id": 1, "order_id": 2, "refund_line_items": [{"quantity": 1}]}`, "missing line_item_id"},
		{"checkouts/update", `{"email": "a@b.c"}`, "missing id and token"},
		{"customers/update", `{"email": "a@b.c"}`, "parse shopify customer: missing id"},
		{"customers_email_marketing_consent/update", `{}`, "missing customer_id"},
	}
	for _, c := range cases {
		events, err := ParseShopify(c.topic, []byte(c.body))
		errContains(t, err, c.want, "%s %s", c.topic, c.body)
		isNil(t, events)
	}
}

func TestParseWooCommerceFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		modified time.Time
	}{
		{"order_created.json", utc("2017-03-22T19:28:08Z")},
		{"order_updated.json", utc("2017-03-22T19:30:35Z")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			events, err := ParseWooCommerce(wcTopics[c.name], readFixture(t, "woocommerce", c.name))
			o := one(t, events, err, shop.KindOrder).Order
			equal(t, "727", o.ExternalID)
			equal(t, "727", o.Number)
			equal(t, shop.OrderPaid, o.Status) // processing, then completed
			equal(t, "USD", o.Currency)
			equal(t, int64(2935), o.TotalMinor)
			// date_created_gmt "2017-03-22T19:28:02" has no Z but is UTC;
			// date_created is site-local (three hours behind) and unused.
			equal(t, utc("2017-03-22T19:28:02Z"), o.PlacedAt)
			equal(t, c.modified, o.UpdatedAt)
			isNil(t, o.CancelledAt)
			// customer_id is 0: a guest, known only by billing email.
			equal(t, &shop.Customer{
				Email: "john.doe@example.com", FirstName: "John", LastName: "Doe", Country: "US",
			}, o.Customer)
			equal(t, []shop.LineItem{
				{ExternalID: "315", ProductID: "93", Title: "Woo Single #1", Quantity: 2, UnitPriceMinor: 300},
				{
					ExternalID: "316", ProductID: "22", SKU: "Bar3",
					Title:    "Ship Your Idea \u2013 Color: Black, Size: M Test",
					Quantity: 1, UnitPriceMinor: 1200,
				},
			}, o.Lines)
		})
	}
}

func TestParseWooCommerceOrderStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status  string
		refunds string
		want    shop.OrderStatus
	}{
		{"processing", `[]`, shop.OrderPaid},
		{"completed", `[]`, shop.OrderPaid},
		{"completed", `[{"id": 5, "total": "-2.00"}]`, shop.OrderPartiallyRefunded},
		{"refunded", `[{"id": 5, "total": "-29.35"}]`, shop.OrderRefunded},
		{"cancelled", `[]`, shop.OrderCancelled},
		{"failed", `[]`, shop.OrderCancelled},
		{"pending", `[]`, shop.OrderPending},
		{"on-hold", `[]`, shop.OrderPending},
		{"checkout-draft", `[]`, shop.OrderPending},
	}
	for _, c := range cases {
		body := `{"id": 1, "status": "` + c.status + `", "currency": "EUR", "total": "1.00",
			"date_modified_gmt": "2024-02-03T04:05:06", "refunds": ` + c.refunds + `}`
		events, err := ParseWooCommerce("order.updated", []byte(body))
		o := one(t, events, err, shop.KindOrder).Order
		equal(t, c.want, o.Status, c.status)
		if c.want == shop.OrderCancelled {
			equal(t, utc("2024-02-03T04:05:06Z"), *o.CancelledAt)
		}
	}
}

func TestParseWooCommerceEdges(t *testing.T) {
	t.Parallel()
	// A registered customer, a fractional float price, and a price PHP
	// printed in exponent form (falls back to total/quantity).
	body := []byte(`{"id": 9, "number": "WC-9", "status": "processing", "currency": "EUR",
		"total": "10.00", "customer_id": 42, "billing": {"email": "X@Y.Z", "country": "fr"},
		"line_items": [
		  {"id": 1, "product_id": 0, "sku": "", "name": "Fish &amp; Chips", "quantity": 3, "price": 3.3333333333333335, "total": "10.00"},
		  {"id": 2, "product_id": 7, "quantity": 2, "price": 1.0e-5, "total": "0.03"}
		]}`)
	events, err := ParseWooCommerce("order.created", body)
	o := one(t, events, err, shop.KindOrder).Order
	equal(t, "WC-9", o.Number)
	equal(t, &shop.Customer{ExternalID: "42", Email: "x@y.z", Country: "FR"}, o.Customer)
	equal(t, "title:Fish & Chips", o.Lines[0].ProductID)
	equal(t, int64(333), o.Lines[0].UnitPriceMinor)
	equal(t, int64(2), o.Lines[1].UnitPriceMinor) // 0.03 / 2 rounds half up

	events, err = ParseWooCommerce("order.deleted", []byte(`{"id": 727}`))
	ev := one(t, events, err, shop.KindDelete)
	equal(t, &shop.Order{ExternalID: "727"}, ev.Order)

	customer := []byte(`{"id": 25, "date_modified_gmt": "2017-03-21T19:29:21", "email": "John.Doe@example.com",
		"first_name": "John", "last_name": "Doe", "billing": {"country": "US", "email": "other@example.com"}}`)
	for _, topic := range []string{"customer.created", "customer.updated"} {
		events, err = ParseWooCommerce(topic, customer)
		c := one(t, events, err, shop.KindCustomer).Customer
		equal(t, &shop.Customer{
			ExternalID: "25", Email: "john.doe@example.com", FirstName: "John", LastName: "Doe",
			Country: "US", UpdatedAt: utc("2017-03-21T19:29:21Z"),
		}, c)
	}
}

func TestParseWooCommerceErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		topic, body, want string
	}{
		{"order.created", `{"status": "processing"}`, "parse woocommerce order: missing id"},
		{"order.updated", `{"id": 1, "total": "abc"}`, "parse woocommerce order 1: total"},
		{"order.updated", `{"id": 1, "date_created_gmt": "22/03/2017"}`, "time"},
		{"order.deleted", `{}`, "missing id"},
		{"customer.updated", `{"id": 0, "email": "a@b.c"}`, "missing id"},
		{"order.created", `{"id": 1,`, "decode body"},
	}
	for _, c := range cases {
		events, err := ParseWooCommerce(c.topic, []byte(c.body))
		errContains(t, err, c.want, "%s %s", c.topic, c.body)
		isNil(t, events)
	}
}

func TestUnknownTopicIgnored(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "shopify", "orders_create.json")
	events, err := ParseShopify("products/update", body)
	noErr(t, err)
	equal(t, []shop.Event{{Kind: shop.KindIgnored, Reason: `unknown topic "products/update"`}}, events)

	// WooCommerce's ping has no topic header and a form body.
	events, err = ParseWooCommerce("", []byte("webhook_id=12"))
	noErr(t, err)
	equal(t, shop.KindIgnored, events[0].Kind)

	events, err = ParseWooCommerce("product.updated", body)
	noErr(t, err)
	equal(t, []shop.Event{{Kind: shop.KindIgnored, Reason: `unknown topic "product.updated"`}}, events)
}

// TestTruncatedBodies cuts every fixture in half: the parser must say the
// body is broken, not panic or return a half-read order.
func TestTruncatedBodies(t *testing.T) {
	t.Parallel()
	for name, topic := range shopifyTopics {
		body := readFixture(t, "shopify", name)
		_, err := ParseShopify(topic, body[:len(body)/2])
		errContains(t, err, "decode body", name)
	}
	for name, topic := range wcTopics {
		body := readFixture(t, "woocommerce", name)
		_, err := ParseWooCommerce(topic, body[:len(body)/2])
		errContains(t, err, "decode body", name)
	}
	for _, ex := range genericExamples {
		_, err := ParseGeneric([]byte(ex[:len(ex)/2]))
		errContains(t, err, "decode body")
	}
}

// The examples in docs/webhooks.md, verbatim. TestDocsExamples checks that
// the document still shows exactly these.
const (
	docOrder = `{
  "type": "order",
  "id": "evt_order_1001_paid",
  "occurred_at": "2025-03-01T10:05:00Z",
  "order": {
    "id": "1001",
    "number": "#1001",
    "created_at": "2025-03-01T10:00:00Z",
    "updated_at": "2025-03-01T10:05:00Z",
    "currency": "EUR",
    "total": "59.90",
    "status": "paid",
    "checkout_token": "c1a2b3",
    "customer": {
      "id": "cus_77",
      "email": "Ana.Lopez@example.com",
      "first_name": "Ana",
      "last_name": "López",
      "country": "ES",
      "consent": "subscribed",
      "consent_at": "2025-03-01T09:58:00Z"
    },
    "lines": [
      {"id": "1001-1", "product_id": "p-42", "sku": "TEE-BLK-M", "title": "Black tee", "category": "Shirts", "quantity": 2, "price": "19.95"},
      {"id": "1001-2", "product_id": "p-7", "sku": "SOCK-3", "title": "Socks, 3 pairs", "category": "Socks", "quantity": 1, "price": "20.00"}
    ]
  }
}`
	docRefund = `{
  "type": "refund",
  "id": "evt_refund_5001",
  "occurred_at": "2025-03-04T08:00:00Z",
  "refund": {
    "id": "5001",
    "order_id": "1001",
    "created_at": "2025-03-04T08:00:00Z",
    "lines": [
      {"line_id": "1001-1", "quantity": 1}
    ]
  }
}`
	docCheckout = `{
  "type": "checkout",
  "id": "evt_checkout_c1a2b3",
  "occurred_at": "2025-03-01T09:58:00Z",
  "checkout": {
    "id": "chk_981",
    "token": "c1a2b3",
    "url": "https://shop.example.com/cart/recover/c1a2b3",
    "customer": {"email": "ana.lopez@example.com", "first_name": "Ana"},
    "currency": "EUR",
    "total": "59.90",
    "completed_at": null,
    "updated_at": "2025-03-01T09:58:00Z",
    "lines": [
      {"product_id": "p-42", "sku": "TEE-BLK-M", "title": "Black tee", "quantity": 2, "price": "19.95"},
      {"product_id": "p-7", "title": "Socks, 3 pairs", "quantity": 1, "price": "20.00"}
    ]
  }
}`
	docView = `{
  "type": "view",
  "occurred_at": "2025-03-02T18:30:00Z",
  "view": {
    "customer": {"id": "cus_77", "email": "ana.lopez@example.com"},
    "product_id": "p-42",
    "viewed_at": "2025-03-02T18:30:00Z"
  }
}`
	docCustomer = `{
  "type": "customer",
  "id": "evt_customer_cus_77",
  "occurred_at": "2025-03-05T12:00:00Z",
  "customer": {
    "id": "cus_77",
    "email": "ana.lopez@example.com",
    "first_name": "Ana",
    "last_name": "López",
    "country": "ES",
    "consent": "unsubscribed",
    "consent_at": "2025-03-05T12:00:00Z",
    "updated_at": "2025-03-05T12:00:00Z"
  }
}`
	docProduct = `{
  "type": "product",
  "occurred_at": "2025-02-20T07:00:00Z",
  "product": {
    "id": "p-42",
    "sku": "TEE-BLK-M",
    "title": "Black tee",
    "url": "https://shop.example.com/products/black-tee",
    "image_url": "https://shop.example.com/img/black-tee.jpg",
    "price": "19.95",
    "currency": "EUR",
    "category": "Shirts",
    "in_stock": true,
    "updated_at": "2025-02-20T07:00:00Z"
  }
}`
	docBatch = `[
  {
    "type": "product",
    "product": {"id": "p-7", "title": "Socks, 3 pairs", "price": "20.00", "currency": "EUR", "category": "Socks", "in_stock": true}
  },
  {
    "type": "order",
    "id": "backfill-900",
    "order": {
      "id": 900,
      "number": 900,
      "created_at": "2024-11-02T15:20:00+01:00",
      "currency": "EUR",
      "status": "paid",
      "customer": {"email": "old.customer@example.com"},
      "lines": [{"product_id": "p-7", "quantity": 3, "price": "20.00"}]
    }
  },
  {
    "type": "refund",
    "refund": {"id": 77, "order_id": 900, "created_at": "2024-11-10T09:00:00Z", "lines": [{"line_id": 1, "quantity": 1}]}
  }
]`
)

var genericExamples = []string{docOrder, docRefund, docCheckout, docView, docCustomer, docProduct, docBatch}

// jsonBlockRE finds the ```json blocks of docs/webhooks.md; only generic
// examples use that fence.
var jsonBlockRE = regexp.MustCompile("(?s)```json\n(.*?)\n```")

func TestDocsExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/webhooks.md")
	noErr(t, err)
	var blocks []string
	for _, m := range jsonBlockRE.FindAllSubmatch(doc, -1) {
		blocks = append(blocks, string(m[1]))
	}
	equal(t, genericExamples, blocks, "docs/webhooks.md and the test literals have drifted apart")
}

func TestParseGenericOrder(t *testing.T) {
	t.Parallel()
	events, err := ParseGeneric([]byte(docOrder))
	o := one(t, events, err, shop.KindOrder).Order
	equal(t, &shop.Order{
		ExternalID: "1001", Number: "#1001", Currency: "EUR", TotalMinor: 5990,
		Status: shop.OrderPaid, CheckoutToken: "c1a2b3",
		PlacedAt: utc("2025-03-01T10:00:00Z"), UpdatedAt: utc("2025-03-01T10:05:00Z"),
		Customer: &shop.Customer{
			ExternalID: "cus_77", Email: "ana.lopez@example.com", FirstName: "Ana", LastName: "López",
			Country: "ES", Consent: shop.ConsentSubscribed, ConsentSource: "generic:order",
			ConsentAt: utc("2025-03-01T09:58:00Z"), UpdatedAt: utc("2025-03-01T10:05:00Z"),
		},
		Lines: []shop.LineItem{
			{ExternalID: "1001-1", ProductID: "p-42", SKU: "TEE-BLK-M", Title: "Black tee", Category: "Shirts", Quantity: 2, UnitPriceMinor: 1995},
			{ExternalID: "1001-2", ProductID: "p-7", SKU: "SOCK-3", Title: "Socks, 3 pairs", Category: "Socks", Quantity: 1, UnitPriceMinor: 2000},
		},
	}, o)
}

func TestParseGenericOtherTypes(t *testing.T) {
	t.Parallel()
	events, err := ParseGeneric([]byte(docRefund))
	equal(t, &shop.Refund{
		ExternalID: "5001", OrderExternalID: "1001", CreatedAt: utc("2025-03-04T08:00:00Z"),
		Lines: []shop.RefundLine{{LineExternalID: "1001-1", Quantity: 1}},
	}, one(t, events, err, shop.KindRefund).Refund)

	events, err = ParseGeneric([]byte(docCheckout))
	c := one(t, events, err, shop.KindCheckout).Checkout
	equal(t, "chk_981", c.ExternalID)
	equal(t, "c1a2b3", c.Token)
	equal(t, "https://shop.example.com/cart/recover/c1a2b3", c.URL)
	isNil(t, c.CompletedAt)
	equal(t, int64(5990), c.TotalMinor)
	equal(t, "ana.lopez@example.com", c.Customer.Email)
	equal(t, shop.ConsentUnknown, c.Customer.Consent)
	equal(t, []string{"1", "2"}, []string{c.Lines[0].ExternalID, c.Lines[1].ExternalID})

	events, err = ParseGeneric([]byte(docView))
	equal(t, &shop.View{
		Customer:  shop.Customer{ExternalID: "cus_77", Email: "ana.lopez@example.com", UpdatedAt: utc("2025-03-02T18:30:00Z")},
		ProductID: "p-42", ViewedAt: utc("2025-03-02T18:30:00Z"),
	}, one(t, events, err, shop.KindView).View)

	events, err = ParseGeneric([]byte(docCustomer))
	equal(t, &shop.Customer{
		ExternalID: "cus_77", Email: "ana.lopez@example.com", FirstName: "Ana", LastName: "López", Country: "ES",
		Consent: shop.ConsentUnsubscribed, ConsentSource: "generic:customer",
		ConsentAt: utc("2025-03-05T12:00:00Z"), UpdatedAt: utc("2025-03-05T12:00:00Z"),
	}, one(t, events, err, shop.KindCustomer).Customer)

	events, err = ParseGeneric([]byte(docProduct))
	equal(t, &shop.Product{
		ExternalID: "p-42", SKU: "TEE-BLK-M", Title: "Black tee",
		URL: "https://shop.example.com/products/black-tee", ImageURL: "https://shop.example.com/img/black-tee.jpg",
		Category: "Shirts", PriceMinor: 1995, Currency: "EUR", InStock: true, UpdatedAt: utc("2025-02-20T07:00:00Z"),
	}, one(t, events, err, shop.KindProduct).Product)
}

func TestParseGenericBatch(t *testing.T) {
	t.Parallel()
	events, err := ParseGeneric([]byte(docBatch))
	noErr(t, err)
	equal(t, 3, len(events))
	equal(t, shop.KindProduct, events[0].Kind)
	equal(t, int64(2000), events[0].Product.PriceMinor)

	o := events[1].Order
	equal(t, "900", o.ExternalID)
	equal(t, "900", o.Number)
	equal(t, int64(6000), o.TotalMinor, "total defaults to the sum of the lines")
	equal(t, "1", o.Lines[0].ExternalID)
	equal(t, utc("2024-11-02T14:20:00Z"), o.PlacedAt)
	equal(t, true, o.UpdatedAt.IsZero())

	equal(t, &shop.Refund{
		ExternalID: "77", OrderExternalID: "900", CreatedAt: utc("2024-11-10T09:00:00Z"),
		Lines: []shop.RefundLine{{LineExternalID: "1", Quantity: 1}},
	}, events[2].Refund)
}

func TestParseGenericExactIDs(t *testing.T) {
	t.Parallel()
	body := `{"type": "refund", "refund": {"id": 890088186047892319, "order_id": "820982911946154508",
		"lines": [{"line_id": 866550311766439020, "quantity": 1}]}}`
	events, err := ParseGeneric([]byte(body))
	r := one(t, events, err, shop.KindRefund).Refund
	equal(t, "890088186047892319", r.ExternalID)
	equal(t, "820982911946154508", r.OrderExternalID)
	equal(t, "866550311766439020", r.Lines[0].LineExternalID)
}

func TestParseGenericErrors(t *testing.T) {
	t.Parallel()
	withOrder := func(field string) string {
		return `{"type": "order", "order": {"id": "1", "currency": "EUR", "status": "paid"` + field + `}}`
	}
	cases := []struct {
		body, want string
	}{
		{`{"type": "wishlist", "wishlist": {}}`, `unknown type "wishlist"`},
		{`{"order": {"id": 1}}`, "missing type"},
		{`{"type": "order"}`, `missing "order" object`},
		{`{"type": "order", "order": {"currency": "EUR", "status": "paid"}}`, "order: missing id"},
		{`{"type": "order", "order": {"id": 1, "currency": "EUR"}}`, "missing status"},
		{strings.Replace(docOrder, `"status": "paid"`, `"status": "complete"`, 1),
			`parse generic event: order (id "evt_order_1001_paid"): order 1001: unknown status "complete"`},
		{`{"type": "order", "order": {"id": 1, "status": "paid"}}`, "missing currency"},
		{`{"type": "order", "order": {"id": 1, "status": "paid", "currency": "euro"}}`, "not an ISO 4217 code"},
		{withOrder(`, "total": 1e3`), "total"},
		{withOrder(`, "customer": {"first_name": "Ann"}`), "customer: missing id and email"},
		{withOrder(`, "customer": {"email": "not-an-address"}`), "is not an address"},
		{withOrder(`, "customer": {"id": 1, "consent": "yes"}`), `unknown consent "yes"`},
		{withOrder(`, "lines": [{"quantity": 1, "price": "1"}]`), "line 1: missing product_id, sku and title"},
		{withOrder(`, "lines": [{"sku": "a", "quantity": 9223372036854775807, "price": "99999999999999"}]`), "too large"},
		{withOrder(`, "created_at": "2025-03-01 10:00:00"`), "time"},
		{`{"type": "refund", "refund": {"id": 1}}`, "missing id or order_id"},
		{`{"type": "checkout", "checkout": {"currency": "EUR"}}`, "missing id and token"},
		{`{"type": "view", "view": {"product_id": 1}}`, "view: missing customer"},
		{`{"type": "view", "view": {"customer": {"id": 1}, "product_id": 1}}`, "missing viewed_at and occurred_at"},
		{`{"type": "customer"}`, `missing "customer" object`},
		{`{"type": "product", "product": {"title": "x"}}`, "missing id and sku"},
		{`{"type": "product", "product": {"id": 1, "price": "2.00"}}`, "missing currency"},
		{`[]`, "parse generic batch: no events"},
		{`[` + docProduct + `, ` + docView + `, {"type": "refund", "refund": {"id": 77, "order_id": 900, "lines": [{"quantity": 1}]}}]`,
			"parse generic batch: event 2: refund: refund 77: line 1: missing line_id"},
		{`{"type": "order", "order": `, "decode body"},
		{``, "empty body"},
		{`"order"`, "decode body"},
	}
	for _, c := range cases {
		events, err := ParseGeneric([]byte(c.body))
		errContains(t, err, c.want, c.body)
		isNil(t, events)
	}
}

// TestExactIDsNeedTypedDecoding documents why the parsers avoid map[string]any.
func TestExactIDsNeedTypedDecoding(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "shopify", "orders_create.exact_ids.json")
	var loose map[string]any
	noErr(t, json.NewDecoder(bytes.NewReader(body)).Decode(&loose))
	if got := jsonNumberText(loose["id"]); got == "820982911946154508" {
		t.Fatalf("map[string]any kept %s exactly; the float64 premise no longer holds", got)
	}
}

func jsonNumberText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The helpers below keep the tests on the standard library.

func noErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("unexpected error: %v", err)
	}
}

func equal(tb testing.TB, want, got any, msg ...any) {
	tb.Helper()
	if !reflect.DeepEqual(want, got) {
		tb.Fatalf("%snot equal\nwant: %s\ngot:  %s", label(msg), show(want), show(got))
	}
}

func errContains(tb testing.TB, err error, want string, msg ...any) {
	tb.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		tb.Fatalf("%serror %v does not contain %q", label(msg), err, want)
	}
}

func isNil(tb testing.TB, v any) {
	tb.Helper()
	if !nilValue(v) {
		tb.Fatalf("want nil, got %s", show(v))
	}
}

func notNil(tb testing.TB, v any) {
	tb.Helper()
	if nilValue(v) {
		tb.Fatal("want a value, got nil")
	}
}

func nilValue(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// show prints values as JSON so that pointers show what they point to.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func label(msg []any) string {
	if len(msg) == 0 {
		return ""
	}
	if f, ok := msg[0].(string); ok {
		return fmt.Sprintf(f, msg[1:]...) + ": "
	}
	return fmt.Sprint(msg...) + ": "
}
