// Package shop holds the plain types that flow from a store's webhooks and
// imports into remarket: customers, products, orders, refunds, checkouts and
// views. It does no I/O; parsers produce these and the store package saves them.
package shop

import "time"

// Platform names the kind of shop a store runs on.
type Platform string

// Platforms remarket accepts webhooks from.
const (
	Shopify     Platform = "shopify"
	WooCommerce Platform = "woocommerce"
	Generic     Platform = "generic"
)

// Consent is a customer's email marketing consent state.
type Consent string

// Consent states, following Shopify's email_marketing_consent.state.
const (
	ConsentUnknown       Consent = ""
	ConsentSubscribed    Consent = "subscribed"
	ConsentNotSubscribed Consent = "not_subscribed"
	ConsentPending       Consent = "pending"
	ConsentUnsubscribed  Consent = "unsubscribed"
)

// Customer is a buyer as one delivery describes them. Empty fields mean "not
// stated", never "erase".
type Customer struct {
	ExternalID    string // store-side id, kept as text so 64-bit ids stay exact
	Email         string // normalised with NormalizeEmail
	FirstName     string
	LastName      string
	Country       string // ISO 3166-1 alpha-2
	Consent       Consent
	ConsentSource string    // where the consent came from, e.g. "shopify:customers/update"
	ConsentAt     time.Time // when the customer gave or withdrew it
	UpdatedAt     time.Time // the source's updated_at; older updates do not overwrite newer
}

// Product is a catalog entry. Orders create bare products for lines whose
// product the catalog lacks.
type Product struct {
	ExternalID string // product id, or the SKU when there is none
	SKU        string
	Title      string
	URL        string
	ImageURL   string
	Category   string
	PriceMinor int64
	Currency   string
	InStock    bool
	UpdatedAt  time.Time
}

// OrderStatus is the financial state of an order.
type OrderStatus string

// Order states.
const (
	OrderPending           OrderStatus = "pending"
	OrderPaid              OrderStatus = "paid"
	OrderPartiallyRefunded OrderStatus = "partially_refunded"
	OrderRefunded          OrderStatus = "refunded"
	OrderCancelled         OrderStatus = "cancelled"
)

// LineItem is one product line of an order or checkout. Money is in minor
// units of the order's currency.
type LineItem struct {
	ExternalID       string // line id; parsers fall back to the position
	ProductID        string // store-side product id, or the SKU
	SKU              string
	Title            string
	Category         string
	Quantity         int
	UnitPriceMinor   int64
	RefundedQuantity int // refunds the order payload itself reports
}

// Order is a purchase.
type Order struct {
	ExternalID    string
	Number        string
	Customer      *Customer // nil for a guest without email
	Currency      string
	TotalMinor    int64
	Status        OrderStatus
	CheckoutToken string
	Test          bool
	PlacedAt      time.Time
	UpdatedAt     time.Time
	CancelledAt   *time.Time
	Lines         []LineItem
}

// RefundLine says how many units of an order line a refund returned.
type RefundLine struct {
	LineExternalID string
	Quantity       int
}

// Refund returns some lines of an order.
type Refund struct {
	ExternalID      string
	OrderExternalID string
	CreatedAt       time.Time
	Lines           []RefundLine
}

// Checkout is a cart with a known buyer; one that is never completed is an
// abandoned checkout.
type Checkout struct {
	ExternalID  string
	Token       string
	URL         string
	Customer    *Customer
	Currency    string
	TotalMinor  int64
	CompletedAt *time.Time
	UpdatedAt   time.Time
	Lines       []LineItem
}

// View is an identified customer looking at a product.
type View struct {
	Customer  Customer
	ProductID string
	ViewedAt  time.Time
}

// EventKind says which field of an Event is set.
type EventKind string

// Event kinds.
const (
	KindOrder    EventKind = "order"
	KindRefund   EventKind = "refund"
	KindCheckout EventKind = "checkout"
	KindView     EventKind = "view"
	KindCustomer EventKind = "customer"
	KindProduct  EventKind = "product"
	KindRedact   EventKind = "redact"  // erase the customer's personal data
	KindDelete   EventKind = "delete"  // the store deleted an order (Order.ExternalID only)
	KindIgnored  EventKind = "ignored" // a topic remarket does not use; kept, not processed
)

// Event is one thing a delivery says happened. A delivery may carry several
// (the generic batch form).
type Event struct {
	Kind     EventKind
	Order    *Order
	Refund   *Refund
	Checkout *Checkout
	View     *View
	Customer *Customer // KindCustomer and KindRedact
	Product  *Product
	Reason   string // KindIgnored: why
}
