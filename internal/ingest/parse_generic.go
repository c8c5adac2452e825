package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/remarket/remarket/internal/shop"
)

// ParseGeneric turns a delivery in remarket's own JSON format (see
// docs/webhooks.md) into events. body is one event object, or a JSON array of
// them (the batch form, for backfills), giving one shop.Event per element in
// order. Any invalid element fails the whole delivery with an error naming
// its position, so that a batch is never half applied; an empty batch is an
// error too.
func ParseGeneric(body []byte) ([]shop.Event, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return parseGenericBatch(trimmed)
	}
	ev, err := parseGenericEvent(trimmed)
	if err != nil {
		return nil, fmt.Errorf("parse generic event: %w", err)
	}
	return []shop.Event{ev}, nil
}

func parseGenericBatch(body []byte) ([]shop.Event, error) {
	var raw []json.RawMessage
	if err := decodeBody(body, &raw); err != nil {
		return nil, fmt.Errorf("parse generic batch: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("parse generic batch: no events")
	}
	out := make([]shop.Event, 0, len(raw))
	for i, r := range raw {
		ev, err := parseGenericEvent(r)
		if err != nil {
			return nil, fmt.Errorf("parse generic batch: event %d: %w", i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

type genericEvent struct {
	Type       string           `json:"type"`
	ID         jsonID           `json:"id"`
	OccurredAt jsonTime         `json:"occurred_at"`
	Order      *genericOrder    `json:"order"`
	Refund     *genericRefund   `json:"refund"`
	Checkout   *genericCheckout `json:"checkout"`
	View       *genericView     `json:"view"`
	Customer   *genericCustomer `json:"customer"`
	Product    *genericProduct  `json:"product"`
}

type genericCustomer struct {
	ID        jsonID   `json:"id"`
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Country   string   `json:"country"`
	Consent   string   `json:"consent"`
	ConsentAt jsonTime `json:"consent_at"`
	UpdatedAt jsonTime `json:"updated_at"`
}

type genericLine struct {
	ID        jsonID `json:"id"`
	ProductID jsonID `json:"product_id"`
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	Category  string `json:"category"`
	Quantity  int    `json:"quantity"`
	Price     amount `json:"price"`
}

type genericOrder struct {
	ID            jsonID           `json:"id"`
	Number        jsonID           `json:"number"`
	CreatedAt     jsonTime         `json:"created_at"`
	UpdatedAt     jsonTime         `json:"updated_at"`
	CancelledAt   jsonTime         `json:"cancelled_at"`
	Currency      string           `json:"currency"`
	Total         amount           `json:"total"`
	Status        string           `json:"status"`
	CheckoutToken string           `json:"checkout_token"`
	Test          bool             `json:"test"`
	Customer      *genericCustomer `json:"customer"`
	Lines         []genericLine    `json:"lines"`
}

type genericRefundLine struct {
	LineID   jsonID `json:"line_id"`
	Quantity int    `json:"quantity"`
}

type genericRefund struct {
	ID        jsonID              `json:"id"`
	OrderID   jsonID              `json:"order_id"`
	CreatedAt jsonTime            `json:"created_at"`
	Lines     []genericRefundLine `json:"lines"`
}

type genericCheckout struct {
	ID          jsonID           `json:"id"`
	Token       string           `json:"token"`
	URL         string           `json:"url"`
	Customer    *genericCustomer `json:"customer"`
	Currency    string           `json:"currency"`
	Total       amount           `json:"total"`
	CompletedAt jsonTime         `json:"completed_at"`
	UpdatedAt   jsonTime         `json:"updated_at"`
	Lines       []genericLine    `json:"lines"`
}

type genericView struct {
	Customer  *genericCustomer `json:"customer"`
	ProductID jsonID           `json:"product_id"`
	ViewedAt  jsonTime         `json:"viewed_at"`
}

type genericProduct struct {
	ID        jsonID   `json:"id"`
	SKU       string   `json:"sku"`
	Title     string   `json:"title"`
	URL       string   `json:"url"`
	ImageURL  string   `json:"image_url"`
	Price     amount   `json:"price"`
	Currency  string   `json:"currency"`
	Category  string   `json:"category"`
	InStock   *bool    `json:"in_stock"`
	UpdatedAt jsonTime `json:"updated_at"`
}

func parseGenericEvent(body []byte) (shop.Event, error) {
	var in genericEvent
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, err
	}
	ev, err := genericEventFrom(in)
	if err != nil {
		return shop.Event{}, fmt.Errorf("%s: %w", genericLabel(in), err)
	}
	return ev, nil
}

// genericLabel names an event in errors by its type and, when the sender
// gave one, its id, so that a failed batch element can be found.
func genericLabel(in genericEvent) string {
	label := "event"
	if in.Type != "" {
		label = in.Type
	}
	if in.ID != "" {
		label += fmt.Sprintf(" (id %q)", string(in.ID))
	}
	return label
}

// genericEventFrom dispatches on type. The event's id is only used in error
// messages: deliveries are deduplicated on X-Remarket-Event-Id instead.
func genericEventFrom(in genericEvent) (shop.Event, error) {
	switch in.Type {
	case "order":
		o, err := genericOrderFrom(in.Order, in.OccurredAt)
		return shop.Event{Kind: shop.KindOrder, Order: o}, err
	case "refund":
		r, err := genericRefundFrom(in.Refund, in.OccurredAt)
		return shop.Event{Kind: shop.KindRefund, Refund: r}, err
	case "checkout":
		c, err := genericCheckoutFrom(in.Checkout, in.OccurredAt)
		return shop.Event{Kind: shop.KindCheckout, Checkout: c}, err
	case "view":
		v, err := genericViewFrom(in.View, in.OccurredAt)
		return shop.Event{Kind: shop.KindView, View: v}, err
	case "customer":
		c, err := genericCustomerEvent(in.Customer, in.OccurredAt)
		return shop.Event{Kind: shop.KindCustomer, Customer: c}, err
	case "product":
		p, err := genericProductFrom(in.Product, in.OccurredAt)
		return shop.Event{Kind: shop.KindProduct, Product: p}, err
	case "":
		return shop.Event{}, errors.New("missing type")
	}
	return shop.Event{}, fmt.Errorf("unknown type %q (want order, refund, checkout, view, customer or product)", in.Type)
}

func genericOrderFrom(in *genericOrder, occurred jsonTime) (*shop.Order, error) {
	if in == nil {
		return nil, errors.New(`missing "order" object`)
	}
	if in.ID == "" {
		return nil, errors.New("order: missing id")
	}
	o := &shop.Order{
		ExternalID:    string(in.ID),
		Number:        string(in.Number),
		CheckoutToken: strings.TrimSpace(in.CheckoutToken),
		Test:          in.Test,
		PlacedAt:      in.CreatedAt.or(occurred),
		UpdatedAt:     in.UpdatedAt.or(occurred),
		CancelledAt:   in.CancelledAt.ptr(),
	}
	var err error
	if o.Status, err = genericOrderStatus(in.Status); err != nil {
		return nil, fmt.Errorf("order %s: %w", o.ExternalID, err)
	}
	if o.Currency, err = genericCurrency(in.Currency); err != nil {
		return nil, fmt.Errorf("order %s: %w", o.ExternalID, err)
	}
	if o.Lines, err = genericLines(in.Lines, o.Currency); err != nil {
		return nil, fmt.Errorf("order %s: %w", o.ExternalID, err)
	}
	if o.TotalMinor, err = genericTotal(in.Total, o.Currency, o.Lines); err != nil {
		return nil, fmt.Errorf("order %s: %w", o.ExternalID, err)
	}
	if o.Customer, err = genericCustomerFrom(in.Customer, "generic:order", occurred); err != nil {
		return nil, fmt.Errorf("order %s: %w", o.ExternalID, err)
	}
	return o, nil
}

func genericOrderStatus(s string) (shop.OrderStatus, error) {
	switch st := shop.OrderStatus(s); st {
	case shop.OrderPending, shop.OrderPaid, shop.OrderPartiallyRefunded, shop.OrderRefunded, shop.OrderCancelled:
		return st, nil
	case "":
		return "", errors.New("missing status")
	}
	return "", fmt.Errorf("unknown status %q (want pending, paid, partially_refunded, refunded or cancelled)", s)
}

// genericCurrency requires an ISO 4217 code: amounts are decimal strings, and
// without the currency "12" could be 12.00 or 12 yen.
func genericCurrency(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		if c == "" {
			return "", errors.New("missing currency")
		}
		return "", fmt.Errorf("currency %q is not an ISO 4217 code", s)
	}
	return c, nil
}

// genericTotal parses the total, which defaults to the sum of the lines so
// that a backfill can leave it out.
func genericTotal(total amount, currency string, lines []shop.LineItem) (int64, error) {
	if total != "" {
		v, err := total.minor(currency)
		if err != nil {
			return 0, fmt.Errorf("total: %w", err)
		}
		return v, nil
	}
	var sum int64
	for _, l := range lines {
		v, ok := mulAdd(sum, int64(l.Quantity), l.UnitPriceMinor)
		if !ok {
			return 0, errors.New("total: sum of lines is too large")
		}
		sum = v
	}
	return sum, nil
}

func genericLines(in []genericLine, currency string) ([]shop.LineItem, error) {
	out := make([]shop.LineItem, 0, len(in))
	for i, l := range in {
		line, err := genericLineFrom(l, i, currency)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, line)
	}
	return out, nil
}

func genericLineFrom(l genericLine, index int, currency string) (shop.LineItem, error) {
	if err := checkQuantity(l.Quantity); err != nil {
		return shop.LineItem{}, err
	}
	price, err := l.Price.minor(currency)
	if err != nil {
		return shop.LineItem{}, fmt.Errorf("price: %w", err)
	}
	title := strings.TrimSpace(l.Title)
	line := shop.LineItem{
		ExternalID:     lineID(string(l.ID), index),
		ProductID:      productKey(string(l.ProductID), strings.TrimSpace(l.SKU), title),
		SKU:            strings.TrimSpace(l.SKU),
		Title:          title,
		Category:       strings.TrimSpace(l.Category),
		Quantity:       l.Quantity,
		UnitPriceMinor: price,
	}
	if line.ProductID == "" {
		return shop.LineItem{}, errors.New("missing product_id, sku and title")
	}
	return line, nil
}

// genericCustomerFrom maps an embedded customer; nil stays nil (a guest). The
// consent source names the event type that set it.
func genericCustomerFrom(in *genericCustomer, source string, occurred jsonTime) (*shop.Customer, error) {
	if in == nil {
		return nil, nil
	}
	c := &shop.Customer{
		ExternalID: string(in.ID),
		Email:      shop.NormalizeEmail(in.Email),
		FirstName:  strings.TrimSpace(in.FirstName),
		LastName:   strings.TrimSpace(in.LastName),
		Country:    country(in.Country),
		UpdatedAt:  in.UpdatedAt.or(occurred),
	}
	if in.Email != "" && c.Email == "" {
		return nil, fmt.Errorf("customer: email %q is not an address", in.Email)
	}
	if !customerKnown(c) {
		return nil, errors.New("customer: missing id and email")
	}
	var err error
	if c.Consent, err = genericConsent(in.Consent); err != nil {
		return nil, fmt.Errorf("customer: %w", err)
	}
	if c.Consent != shop.ConsentUnknown {
		c.ConsentSource = source
		c.ConsentAt = in.ConsentAt.or(occurred)
	}
	return c, nil
}

func genericConsent(s string) (shop.Consent, error) {
	switch c := shop.Consent(s); c {
	case shop.ConsentUnknown, shop.ConsentSubscribed, shop.ConsentNotSubscribed, shop.ConsentPending, shop.ConsentUnsubscribed:
		return c, nil
	}
	return "", fmt.Errorf("unknown consent %q (want subscribed, not_subscribed, pending or unsubscribed)", s)
}

func genericRefundFrom(in *genericRefund, occurred jsonTime) (*shop.Refund, error) {
	if in == nil {
		return nil, errors.New(`missing "refund" object`)
	}
	if in.ID == "" || in.OrderID == "" {
		return nil, errors.New("refund: missing id or order_id")
	}
	r := &shop.Refund{
		ExternalID:      string(in.ID),
		OrderExternalID: string(in.OrderID),
		CreatedAt:       in.CreatedAt.or(occurred),
	}
	for i, l := range in.Lines {
		if l.LineID == "" {
			return nil, fmt.Errorf("refund %s: line %d: missing line_id", r.ExternalID, i+1)
		}
		if err := checkQuantity(l.Quantity); err != nil {
			return nil, fmt.Errorf("refund %s: line %d: %w", r.ExternalID, i+1, err)
		}
		r.Lines = append(r.Lines, shop.RefundLine{LineExternalID: string(l.LineID), Quantity: l.Quantity})
	}
	return r, nil
}

func genericCheckoutFrom(in *genericCheckout, occurred jsonTime) (*shop.Checkout, error) {
	if in == nil {
		return nil, errors.New(`missing "checkout" object`)
	}
	c := &shop.Checkout{
		ExternalID:  firstNonEmpty(string(in.ID), in.Token),
		Token:       strings.TrimSpace(in.Token),
		URL:         strings.TrimSpace(in.URL),
		CompletedAt: in.CompletedAt.ptr(),
		UpdatedAt:   in.UpdatedAt.or(occurred),
	}
	if c.ExternalID == "" {
		return nil, errors.New("checkout: missing id and token")
	}
	var err error
	if c.Currency, err = genericCurrency(in.Currency); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", c.ExternalID, err)
	}
	if c.Lines, err = genericLines(in.Lines, c.Currency); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", c.ExternalID, err)
	}
	if c.TotalMinor, err = genericTotal(in.Total, c.Currency, c.Lines); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", c.ExternalID, err)
	}
	if c.Customer, err = genericCustomerFrom(in.Customer, "generic:checkout", occurred); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", c.ExternalID, err)
	}
	return c, nil
}

// genericViewFrom needs a customer and a time: an anonymous view cannot be
// remarketed, and a view without a time cannot be ordered against purchases.
func genericViewFrom(in *genericView, occurred jsonTime) (*shop.View, error) {
	if in == nil {
		return nil, errors.New(`missing "view" object`)
	}
	if in.ProductID == "" {
		return nil, errors.New("view: missing product_id")
	}
	if in.Customer == nil {
		return nil, errors.New("view: missing customer")
	}
	c, err := genericCustomerFrom(in.Customer, "generic:view", occurred)
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	v := &shop.View{Customer: *c, ProductID: string(in.ProductID), ViewedAt: in.ViewedAt.or(occurred)}
	if v.ViewedAt.IsZero() {
		return nil, errors.New("view: missing viewed_at and occurred_at")
	}
	return v, nil
}

func genericCustomerEvent(in *genericCustomer, occurred jsonTime) (*shop.Customer, error) {
	if in == nil {
		return nil, errors.New(`missing "customer" object`)
	}
	return genericCustomerFrom(in, "generic:customer", occurred)
}

func genericProductFrom(in *genericProduct, occurred jsonTime) (*shop.Product, error) {
	if in == nil {
		return nil, errors.New(`missing "product" object`)
	}
	p := &shop.Product{
		ExternalID: firstNonEmpty(string(in.ID), in.SKU),
		SKU:        strings.TrimSpace(in.SKU),
		Title:      strings.TrimSpace(in.Title),
		URL:        strings.TrimSpace(in.URL),
		ImageURL:   strings.TrimSpace(in.ImageURL),
		Category:   strings.TrimSpace(in.Category),
		// A feed that does not track stock should not hide its products
		// from recommendations, so an absent in_stock means in stock.
		InStock:   in.InStock == nil || *in.InStock,
		UpdatedAt: in.UpdatedAt.or(occurred),
	}
	if p.ExternalID == "" {
		return nil, errors.New("product: missing id and sku")
	}
	if in.Price == "" {
		return p, nil
	}
	var err error
	if p.Currency, err = genericCurrency(in.Currency); err != nil {
		return nil, fmt.Errorf("product %s: %w", p.ExternalID, err)
	}
	if p.PriceMinor, err = in.Price.minor(p.Currency); err != nil {
		return nil, fmt.Errorf("product %s: price: %w", p.ExternalID, err)
	}
	return p, nil
}

// mulAdd returns acc + q*price and whether it fits in an int64; a fuzzed or
// mistyped quantity must not wrap into a negative total.
func mulAdd(acc, q, price int64) (int64, bool) {
	if q != 0 && (price > math.MaxInt64/q || price < math.MinInt64/q) {
		return 0, false
	}
	p := q * price
	if (p > 0 && acc > math.MaxInt64-p) || (p < 0 && acc < math.MinInt64-p) {
		return 0, false
	}
	return acc + p, true
}
