package ingest

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// ParseWooCommerce turns one WooCommerce delivery body into events. topic is
// the X-WC-Webhook-Topic header (order.created, order.updated,
// order.deleted, customer.created, customer.updated). Any other topic,
// including the unsigned ping WooCommerce sends when a webhook is saved,
// gives one shop.KindIgnored event and no error; a body that is not valid
// JSON or lacks an id gives an error saying what is wrong.
func ParseWooCommerce(topic string, body []byte) ([]shop.Event, error) {
	topic = strings.ToLower(strings.TrimSpace(topic))
	var (
		ev  shop.Event
		err error
	)
	switch topic {
	case "order.created", "order.updated":
		ev, err = parseWCOrder(body)
	case "order.deleted":
		ev, err = parseWCOrderDeleted(body)
	case "customer.created", "customer.updated":
		ev, err = parseWCCustomer(body)
	default:
		return ignored(topic), nil
	}
	if err != nil {
		return nil, err
	}
	return []shop.Event{ev}, nil
}

// wcTime is a WooCommerce *_gmt timestamp: UTC, but written without a zone
// ("2017-03-22T19:28:02"), so time.RFC3339 rejects it. The non-_gmt fields
// are site-local time with no offset and are never read.
type wcTime struct{ time.Time }

const wcTimeLayout = "2006-01-02T15:04:05"

// UnmarshalJSON accepts a zoneless UTC time, an RFC 3339 time or null.
func (t *wcTime) UnmarshalJSON(b []byte) error {
	s, isString, err := scalarText(b)
	if err != nil || (!isString && s != "") {
		return fmt.Errorf("time %.40s: want a date-time string", b)
	}
	t.Time = time.Time{}
	if s == "" {
		return nil
	}
	v, err := time.ParseInLocation(wcTimeLayout, s, time.UTC)
	if err != nil {
		// A proxy or a future version may add the zone.
		if v, err = time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("time %q: %w", s, err)
		}
	}
	t.Time = v.UTC()
	return nil
}

type wcAddress struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Country   string `json:"country"`
	Email     string `json:"email"`
}

type wcLine struct {
	ID        jsonID `json:"id"`
	Name      string `json:"name"`
	ProductID jsonID `json:"product_id"`
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	Price     amount `json:"price"`
	Total     amount `json:"total"`
}

type wcRefund struct {
	ID    jsonID `json:"id"`
	Total amount `json:"total"`
}

type wcOrder struct {
	ID              jsonID     `json:"id"`
	Number          jsonID     `json:"number"`
	Status          string     `json:"status"`
	Currency        string     `json:"currency"`
	DateCreatedGMT  wcTime     `json:"date_created_gmt"`
	DateModifiedGMT wcTime     `json:"date_modified_gmt"`
	Total           amount     `json:"total"`
	CustomerID      jsonID     `json:"customer_id"`
	Billing         *wcAddress `json:"billing"`
	Lines           []wcLine   `json:"line_items"`
	Refunds         []wcRefund `json:"refunds"`
}

func parseWCOrder(body []byte) (shop.Event, error) {
	var in wcOrder
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse woocommerce order: %w", err)
	}
	order, err := wcOrderFrom(in)
	if err != nil {
		return shop.Event{}, fmt.Errorf("parse woocommerce %s: %w", named("order", string(in.ID)), err)
	}
	return shop.Event{Kind: shop.KindOrder, Order: order}, nil
}

func wcOrderFrom(in wcOrder) (*shop.Order, error) {
	if in.ID == "" {
		return nil, errors.New("missing id")
	}
	o := &shop.Order{
		ExternalID: string(in.ID),
		Number:     string(in.Number),
		Currency:   strings.ToUpper(in.Currency),
		Status:     wcOrderStatus(in.Status, len(in.Refunds) > 0),
		PlacedAt:   in.DateCreatedGMT.Time,
		UpdatedAt:  in.DateModifiedGMT.Time,
		Customer:   wcBuyer(in.CustomerID, in.Billing),
	}
	if o.Status == shop.OrderCancelled && !in.DateModifiedGMT.IsZero() {
		// WooCommerce records no cancellation time; the last modification
		// is the closest it says.
		at := in.DateModifiedGMT.Time
		o.CancelledAt = &at
	}
	var err error
	if o.TotalMinor, err = in.Total.minor(o.Currency); err != nil {
		return nil, fmt.Errorf("total: %w", err)
	}
	if o.Lines, err = wcLines(in.Lines, o.Currency); err != nil {
		return nil, err
	}
	return o, nil
}

// wcOrderStatus maps WooCommerce's order status. WooCommerce keeps a
// partially refunded order in processing or completed and only lists the
// refunds, so a paid order with refunds is partially refunded.
func wcOrderStatus(status string, hasRefunds bool) shop.OrderStatus {
	switch status {
	case "processing", "completed":
		if hasRefunds {
			return shop.OrderPartiallyRefunded
		}
		return shop.OrderPaid
	case "refunded":
		return shop.OrderRefunded
	case "cancelled", "failed":
		return shop.OrderCancelled
	}
	// pending, on-hold, checkout-draft and plugin-defined statuses: no
	// payment is known to have arrived.
	return shop.OrderPending
}

// wcBuyer keys the customer on the billing email: guests have customer_id 0,
// which identifies nobody.
func wcBuyer(customerID jsonID, billing *wcAddress) *shop.Customer {
	c := &shop.Customer{}
	if customerID != "0" {
		c.ExternalID = string(customerID)
	}
	if billing != nil {
		c.Email = shop.NormalizeEmail(billing.Email)
		c.FirstName = strings.TrimSpace(billing.FirstName)
		c.LastName = strings.TrimSpace(billing.LastName)
		c.Country = country(billing.Country)
	}
	if !customerKnown(c) {
		return nil
	}
	return c
}

func wcLines(in []wcLine, currency string) ([]shop.LineItem, error) {
	out := make([]shop.LineItem, 0, len(in))
	for i, l := range in {
		if err := checkQuantity(l.Quantity); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		price, err := wcUnitPrice(l, currency)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		// Product names arrive HTML-escaped ("Ship Your Idea &ndash; Color").
		title := html.UnescapeString(strings.TrimSpace(l.Name))
		out = append(out, shop.LineItem{
			ExternalID:     lineID(string(l.ID), i),
			ProductID:      productKey(string(l.ProductID), l.SKU, title),
			SKU:            l.SKU,
			Title:          title,
			Quantity:       l.Quantity,
			UnitPriceMinor: price,
		})
	}
	return out, nil
}

// wcUnitPrice reads the line's price, a PHP float printed as a JSON number
// (3, 12, 3.3333333333333335). Its text is parsed exactly; when PHP printed
// it in exponent form or left it out, total/quantity is used instead.
func wcUnitPrice(l wcLine, currency string) (int64, error) {
	if price, err := l.Price.minor(currency); err == nil && l.Price != "" {
		return price, nil
	}
	total, err := l.Total.minor(currency)
	if err != nil {
		return 0, fmt.Errorf("total: %w", err)
	}
	if l.Quantity == 0 {
		return total, nil
	}
	return divRound(total, int64(l.Quantity)), nil
}

// divRound divides rounding half away from zero, like shop.ParseMinor.
func divRound(a, b int64) int64 {
	q, r := a/b, a%b
	if 2*abs(r) >= b {
		if a < 0 {
			return q - 1
		}
		return q + 1
	}
	return q
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func parseWCOrderDeleted(body []byte) (shop.Event, error) {
	var in struct {
		ID jsonID `json:"id"`
	}
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse woocommerce order deletion: %w", err)
	}
	if in.ID == "" {
		return shop.Event{}, errors.New("parse woocommerce order deletion: missing id")
	}
	return shop.Event{Kind: shop.KindDelete, Order: &shop.Order{ExternalID: string(in.ID)}}, nil
}

type wcCustomer struct {
	ID              jsonID     `json:"id"`
	Email           string     `json:"email"`
	FirstName       string     `json:"first_name"`
	LastName        string     `json:"last_name"`
	DateModifiedGMT wcTime     `json:"date_modified_gmt"`
	Billing         *wcAddress `json:"billing"`
}

// parseWCCustomer leaves consent unknown: WooCommerce core has no marketing
// consent field (plugins keep it in meta data under their own keys).
func parseWCCustomer(body []byte) (shop.Event, error) {
	var in wcCustomer
	if err := decodeBody(body, &in); err != nil {
		return shop.Event{}, fmt.Errorf("parse woocommerce customer: %w", err)
	}
	if in.ID == "" || in.ID == "0" {
		return shop.Event{}, errors.New("parse woocommerce customer: missing id")
	}
	c := &shop.Customer{
		ExternalID: string(in.ID),
		Email:      shop.NormalizeEmail(in.Email),
		FirstName:  strings.TrimSpace(in.FirstName),
		LastName:   strings.TrimSpace(in.LastName),
		UpdatedAt:  in.DateModifiedGMT.Time,
	}
	if in.Billing != nil {
		c.Country = country(in.Billing.Country)
		if c.Email == "" {
			c.Email = shop.NormalizeEmail(in.Billing.Email)
		}
	}
	return shop.Event{Kind: shop.KindCustomer, Customer: c}, nil
}
