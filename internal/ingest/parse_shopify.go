package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// ParseShopify turns one Shopify delivery body into events. topic is the
// X-Shopify-Topic header. A topic remarket does not use gives one
// shop.KindIgnored event and no error; a body that is not valid JSON or lacks
// the fields the topic needs (an order without id) gives an error saying what
// is wrong.
func ParseShopify(topic string, body []byte) ([]shop.Event, error) {
	topic = strings.ToLower(strings.TrimSpace(topic))
	var (
		ev  shop.Event
		err error
	)
	switch topic {
	case "orders/create", "orders/updated", "orders/paid", "orders/cancelled":
		ev, err = parseShopifyOrder(topic, body)
	case "refunds/create":
		ev, err = parseShopifyRefund(body)
	case "checkouts/create", "checkouts/update":
		ev, err = parseShopifyCheckout(topic, body)
	case "customers/create", "customers/update":
		ev, err = parseShopifyCustomer(topic, body)
	case "customers/email_marketing_consent/update", "customers_email_marketing_consent/update":
		ev, err = parseShopifyConsent(topic, body)
	case "customers/redact":
		ev, err = parseShopifyRedact(body)
	default:
		return ignored(topic), nil
	}
	if err != nil {
		return nil, err
	}
	return []shop.Event{ev}, nil
}

type shopifyConsent struct {
	State     string   `json:"state"`
	UpdatedAt jsonTime `json:"consent_updated_at"`
}

type shopifyAddress struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	CountryCode string `json:"country_code"`
}

type shopifyCustomer struct {
	ID             jsonID          `json:"id"`
	GraphQLID      string          `json:"admin_graphql_api_id"`
	Email          string          `json:"email"`
	FirstName      string          `json:"first_name"`
	LastName       string          `json:"last_name"`
	UpdatedAt      jsonTime        `json:"updated_at"`
	DefaultAddress *shopifyAddress `json:"default_address"`
	Consent        *shopifyConsent `json:"email_marketing_consent"`
}

type shopifyLine struct {
	ID        jsonID `json:"id"`
	GraphQLID string `json:"admin_graphql_api_id"`
	ProductID jsonID `json:"product_id"`
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	Price     amount `json:"price"`
}

type shopifyRefundLine struct {
	LineItemID jsonID `json:"line_item_id"`
	Quantity   int    `json:"quantity"`
}

type shopifyRefund struct {
	ID        jsonID              `json:"id"`
	GraphQLID string              `json:"admin_graphql_api_id"`
	OrderID   jsonID              `json:"order_id"`
	CreatedAt jsonTime            `json:"created_at"`
	Lines     []shopifyRefundLine `json:"refund_line_items"`
}

type shopifyOrder struct {
	ID                    jsonID           `json:"id"`
	GraphQLID             string           `json:"admin_graphql_api_id"`
	Name                  string           `json:"name"`
	OrderNumber           jsonID           `json:"order_number"`
	Email                 string           `json:"email"`
	ContactEmail          string           `json:"contact_email"`
	BuyerAcceptsMarketing bool             `json:"buyer_accepts_marketing"`
	Customer              *shopifyCustomer `json:"customer"`
	BillingAddress        *shopifyAddress  `json:"billing_address"`
	Currency              string           `json:"currency"`
	TotalPrice            amount           `json:"total_price"`
	FinancialStatus       string           `json:"financial_status"`
	CancelledAt           jsonTime         `json:"cancelled_at"`
	CheckoutToken         string           `json:"checkout_token"`
	Test                  bool             `json:"test"`
	CreatedAt             jsonTime         `json:"created_at"`
	ProcessedAt           jsonTime         `json:"processed_at"`
	UpdatedAt             jsonTime         `json:"updated_at"`
	Lines                 []shopifyLine    `json:"line_items"`
	Refunds               []shopifyRefund  `json:"refunds"`
}

type shopifyCheckout struct {
	ID                    jsonID           `json:"id"`
	Token                 string           `json:"token"`
	Email                 string           `json:"email"`
	BuyerAcceptsMarketing bool             `json:"buyer_accepts_marketing"`
	Customer              *shopifyCustomer `json:"customer"`
	BillingAddress        *shopifyAddress  `json:"billing_address"`
	Currency              string           `json:"currency"`
	TotalPrice            amount           `json:"total_price"`
	URL                   string           `json:"abandoned_checkout_url"`
	CreatedAt             jsonTime         `json:"created_at"`
	UpdatedAt             jsonTime         `json:"updated_at"`
	CompletedAt           jsonTime         `json:"completed_at"`
	Lines                 []shopifyLine    `json:"line_items"`
}

// shopifyID returns the numeric id, or the trailing number of the GraphQL id
// ("gid://shopify/Order/820982911946154508") when the numeric one is absent.
func shopifyID(id jsonID, gid string) string {
	if id != "" {
		return string(id)
	}
	if i := strings.LastIndexByte(gid, '/'); i >= 0 && isDigits(gid[i+1:]) {
		return gid[i+1:]
	}
	return ""
}

func parseShopifyOrder(topic string, body []byte) (shop.Event, error) {
	var in shopifyOrder
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify order: %w", err)
	}
	order, err := shopifyOrderFrom(topic, in)
	if err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify %s: %w", named("order", shopifyID(in.ID, in.GraphQLID)), err)
	}
	return shop.Event{Kind: shop.KindOrder, Order: order}, nil
}

func shopifyOrderFrom(topic string, in shopifyOrder) (*shop.Order, error) {
	o := &shop.Order{
		ExternalID:    shopifyID(in.ID, in.GraphQLID),
		Number:        in.Name,
		Currency:      strings.ToUpper(in.Currency),
		Status:        shopifyOrderStatus(in.FinancialStatus, in.CancelledAt),
		CheckoutToken: in.CheckoutToken,
		Test:          in.Test,
		PlacedAt:      in.ProcessedAt.or(in.CreatedAt),
		UpdatedAt:     in.UpdatedAt.Time,
		CancelledAt:   in.CancelledAt.ptr(),
	}
	if o.ExternalID == "" {
		return nil, errors.New("missing id")
	}
	if o.Number == "" {
		o.Number = string(in.OrderNumber)
	}
	total, err := in.TotalPrice.minor(o.Currency)
	if err != nil {
		return nil, fmt.Errorf("total_price: %w", err)
	}
	o.TotalMinor = total
	if o.Lines, err = shopifyLines(in.Lines, o.Currency, refundedByLine(in.Refunds)); err != nil {
		return nil, err
	}
	o.Customer = shopifyBuyer(topic, in.Customer, in.BillingAddress, firstNonEmpty(in.Email, in.ContactEmail))
	applyCheckboxConsent(o.Customer, in.BuyerAcceptsMarketing, o.PlacedAt)
	return o, nil
}

// shopifyOrderStatus reads the state from the body, never from the topic:
// Shopify's test deliveries send the same voided, cancelled body for
// orders/create, orders/paid and orders/cancelled.
func shopifyOrderStatus(financial string, cancelledAt jsonTime) shop.OrderStatus {
	if !cancelledAt.IsZero() {
		return shop.OrderCancelled
	}
	switch financial {
	case "paid", "partially_paid":
		return shop.OrderPaid
	case "partially_refunded":
		return shop.OrderPartiallyRefunded
	case "refunded":
		return shop.OrderRefunded
	case "voided":
		return shop.OrderCancelled
	}
	// pending, authorized, expired and states Shopify may add later: no money
	// has been taken.
	return shop.OrderPending
}

// refundedByLine sums the refunded quantity per line id over the refunds the
// order payload carries.
func refundedByLine(refunds []shopifyRefund) map[string]int {
	out := map[string]int{}
	for _, r := range refunds {
		for _, l := range r.Lines {
			out[string(l.LineItemID)] += l.Quantity
		}
	}
	return out
}

func shopifyLines(in []shopifyLine, currency string, refunded map[string]int) ([]shop.LineItem, error) {
	out := make([]shop.LineItem, 0, len(in))
	for i, l := range in {
		line, err := shopifyLineFrom(l, i, currency)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		line.RefundedQuantity = refunded[line.ExternalID]
		out = append(out, line)
	}
	return out, nil
}

func shopifyLineFrom(l shopifyLine, index int, currency string) (shop.LineItem, error) {
	if err := checkQuantity(l.Quantity); err != nil {
		return shop.LineItem{}, err
	}
	price, err := l.Price.minor(currency)
	if err != nil {
		return shop.LineItem{}, fmt.Errorf("price: %w", err)
	}
	title := firstNonEmpty(l.Title, l.Name)
	return shop.LineItem{
		ExternalID:     lineID(shopifyID(l.ID, l.GraphQLID), index),
		ProductID:      productKey(string(l.ProductID), l.SKU, title),
		SKU:            l.SKU,
		Title:          title,
		Quantity:       l.Quantity,
		UnitPriceMinor: price,
	}, nil
}

// shopifyBuyer builds the customer of an order or checkout from its customer
// object, falling back to the order's own email for guests. It returns nil
// when nobody is identified.
func shopifyBuyer(topic string, in *shopifyCustomer, billing *shopifyAddress, email string) *shop.Customer {
	c := &shop.Customer{}
	if in != nil {
		c = shopifyCustomerFrom(topic, *in)
	}
	if c.Email == "" {
		c.Email = shop.NormalizeEmail(email)
	}
	if c.Country == "" && billing != nil {
		c.Country = country(billing.CountryCode)
	}
	if !customerKnown(c) {
		return nil
	}
	return c
}

// applyCheckboxConsent uses the checkout's "email me with news" box when the
// customer object says nothing about consent. Ticking it subscribes; an
// unticked box is not an opt-out, so it changes nothing.
func applyCheckboxConsent(c *shop.Customer, accepts bool, at time.Time) {
	if c == nil || !accepts || c.Consent != shop.ConsentUnknown {
		return
	}
	c.Consent = shop.ConsentSubscribed
	c.ConsentSource = "shopify:checkout"
	c.ConsentAt = at
}

func shopifyCustomerFrom(topic string, in shopifyCustomer) *shop.Customer {
	c := &shop.Customer{
		ExternalID: shopifyID(in.ID, in.GraphQLID),
		Email:      shop.NormalizeEmail(in.Email),
		FirstName:  strings.TrimSpace(in.FirstName),
		LastName:   strings.TrimSpace(in.LastName),
		UpdatedAt:  in.UpdatedAt.Time,
	}
	if in.DefaultAddress != nil {
		c.Country = country(in.DefaultAddress.CountryCode)
	}
	applyShopifyConsent(c, topic, in.Consent)
	return c
}

// applyShopifyConsent copies email_marketing_consent. The source names the
// topic so that a later audit can tell which delivery set the state.
func applyShopifyConsent(c *shop.Customer, topic string, in *shopifyConsent) {
	if in == nil {
		return
	}
	c.Consent = shopifyConsentState(in.State)
	if c.Consent == shop.ConsentUnknown {
		return
	}
	c.ConsentSource = "shopify:" + topic
	c.ConsentAt = in.UpdatedAt.Time
}

func shopifyConsentState(s string) shop.Consent {
	switch s {
	case "subscribed":
		return shop.ConsentSubscribed
	case "not_subscribed":
		return shop.ConsentNotSubscribed
	case "pending":
		return shop.ConsentPending
	case "unsubscribed", "redacted", "invalid":
		// A redacted or invalid address must never be mailed; unsubscribed
		// is the state that says so most firmly.
		return shop.ConsentUnsubscribed
	}
	return shop.ConsentUnknown
}

func parseShopifyRefund(body []byte) (shop.Event, error) {
	var in shopifyRefund
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify refund: %w", err)
	}
	r := &shop.Refund{
		ExternalID:      shopifyID(in.ID, in.GraphQLID),
		OrderExternalID: string(in.OrderID),
		CreatedAt:       in.CreatedAt.Time,
	}
	if r.ExternalID == "" || r.OrderExternalID == "" {
		return shop.Event{}, errors.New("parse shopify refund: missing id or order_id")
	}
	for i, l := range in.Lines {
		if l.LineItemID == "" {
			return shop.Event{}, fmt.Errorf("parse shopify refund %s: line %d: missing line_item_id", r.ExternalID, i+1)
		}
		if err := checkQuantity(l.Quantity); err != nil {
			return shop.Event{}, fmt.Errorf("parse shopify refund %s: line %d: %w", r.ExternalID, i+1, err)
		}
		r.Lines = append(r.Lines, shop.RefundLine{LineExternalID: string(l.LineItemID), Quantity: l.Quantity})
	}
	return shop.Event{Kind: shop.KindRefund, Refund: r}, nil
}

func parseShopifyCheckout(topic string, body []byte) (shop.Event, error) {
	var in shopifyCheckout
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify checkout: %w", err)
	}
	c := &shop.Checkout{
		ExternalID:  firstNonEmpty(string(in.ID), in.Token),
		Token:       in.Token,
		URL:         in.URL,
		Currency:    strings.ToUpper(in.Currency),
		CompletedAt: in.CompletedAt.ptr(),
		UpdatedAt:   in.UpdatedAt.or(in.CreatedAt),
	}
	if c.ExternalID == "" {
		return shop.Event{}, errors.New("parse shopify checkout: missing id and token")
	}
	var err error
	if c.TotalMinor, err = in.TotalPrice.minor(c.Currency); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify checkout %s: total_price: %w", c.ExternalID, err)
	}
	// Checkout lines carry no line id, and their "key" is not unique either
	// (both fixture lines share one), so lineID falls back to the position.
	if c.Lines, err = shopifyLines(in.Lines, c.Currency, nil); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify checkout %s: %w", c.ExternalID, err)
	}
	c.Customer = shopifyBuyer(topic, in.Customer, in.BillingAddress, in.Email)
	applyCheckboxConsent(c.Customer, in.BuyerAcceptsMarketing, in.UpdatedAt.or(in.CreatedAt))
	return shop.Event{Kind: shop.KindCheckout, Checkout: c}, nil
}

func parseShopifyCustomer(topic string, body []byte) (shop.Event, error) {
	var in shopifyCustomer
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify customer: %w", err)
	}
	c := shopifyCustomerFrom(topic, in)
	if c.ExternalID == "" {
		return shop.Event{}, errors.New("parse shopify customer: missing id")
	}
	return shop.Event{Kind: shop.KindCustomer, Customer: c}, nil
}

// shopifyConsentUpdate is the body of the dedicated consent topic, which
// names its fields differently from the customer object.
type shopifyConsentUpdate struct {
	CustomerID jsonID          `json:"customer_id"`
	Email      string          `json:"email_address"`
	Consent    *shopifyConsent `json:"email_marketing_consent"`
}

func parseShopifyConsent(topic string, body []byte) (shop.Event, error) {
	var in shopifyConsentUpdate
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify consent: %w", err)
	}
	c := &shop.Customer{
		ExternalID: string(in.CustomerID),
		Email:      shop.NormalizeEmail(in.Email),
	}
	if c.ExternalID == "" {
		return shop.Event{}, errors.New("parse shopify consent: missing customer_id")
	}
	applyShopifyConsent(c, topic, in.Consent)
	return shop.Event{Kind: shop.KindCustomer, Customer: c}, nil
}

type shopifyRedact struct {
	Customer *struct {
		ID    jsonID `json:"id"`
		Email string `json:"email"`
	} `json:"customer"`
}

func parseShopifyRedact(body []byte) (shop.Event, error) {
	var in shopifyRedact
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse shopify redact: %w", err)
	}
	if in.Customer == nil {
		return shop.Event{}, errors.New("parse shopify redact: missing customer")
	}
	c := &shop.Customer{ExternalID: string(in.Customer.ID), Email: shop.NormalizeEmail(in.Customer.Email)}
	if !customerKnown(c) {
		return shop.Event{}, errors.New("parse shopify redact: customer has no id or email")
	}
	return shop.Event{Kind: shop.KindRedact, Customer: c}, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
