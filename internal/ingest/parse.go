// Package ingest verifies and decodes webhook deliveries from the shops
// remarket supports and turns them into shop events.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// The parsers decode into small typed structs instead of map[string]any: a
// map turns every JSON number into a float64, and Shopify ids exceed 2^53, so
// 820982911946154508 would silently become 820982911946154496.

// ignored reports a topic remarket does not use. It is not an error: the
// delivery is kept so that a later version can replay it.
func ignored(topic string) []shop.Event {
	return []shop.Event{{Kind: shop.KindIgnored, Reason: fmt.Sprintf("unknown topic %q", topic)}}
}

// decodeBody unmarshals one delivery body. Unknown fields are ignored because
// platforms add fields all the time.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("decode body: empty body")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

// jsonID is a store-side id that may arrive as a JSON number or string. It
// keeps the exact digits of a number (never going through float64) and
// decodes null as "".
type jsonID string

// UnmarshalJSON accepts an integer, a string or null.
func (id *jsonID) UnmarshalJSON(b []byte) error {
	s, isString, err := scalarText(b)
	if err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if !isString && s != "" && !isDigits(s) {
		return fmt.Errorf("id %s is not a whole number", s)
	}
	*id = jsonID(s)
	return nil
}

// amount is a decimal money amount as text. Shopify and WooCommerce send most
// amounts as strings but some as numbers ("subtotal": 199, "price": 3), so
// both are accepted; the text is kept so that no float rounding happens.
type amount string

// UnmarshalJSON accepts a number, a string or null.
func (a *amount) UnmarshalJSON(b []byte) error {
	s, _, err := scalarText(b)
	if err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	*a = amount(s)
	return nil
}

// maxWholeDigits bounds the integer part of an amount. shop.ParseMinor
// checks its own range only before scaling to minor units, so a 19-digit
// amount would wrap around; no real order is anywhere near 10^15.
const maxWholeDigits = 15

// minor converts the amount to minor units of currency. An absent amount is 0.
func (a amount) minor(currency string) (int64, error) {
	s := strings.TrimSpace(string(a))
	if s == "" {
		return 0, nil
	}
	whole, _, _ := strings.Cut(strings.TrimLeft(s, "+-"), ".")
	if len(whole) > maxWholeDigits {
		return 0, fmt.Errorf("parse amount %q: too large", s)
	}
	v, err := shop.ParseMinor(s, currency)
	if err != nil {
		return 0, fmt.Errorf("convert to %s minor units: %w", currency, err)
	}
	return v, nil
}

// jsonTime is an RFC 3339 timestamp; null and "" decode as the zero time.
// Times are kept in UTC so that equal instants compare equal.
type jsonTime struct{ time.Time }

// UnmarshalJSON accepts an RFC 3339 string or null.
func (t *jsonTime) UnmarshalJSON(b []byte) error {
	s, isString, err := scalarText(b)
	if err != nil || (!isString && s != "") {
		return fmt.Errorf("time %.40s: want an RFC 3339 string", b)
	}
	t.Time = time.Time{}
	if s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("time %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// ptr returns nil for the zero time, for optional fields like CompletedAt.
func (t jsonTime) ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// or returns t, or fallback when t is zero.
func (t jsonTime) or(fallback jsonTime) time.Time {
	if t.IsZero() {
		return fallback.Time
	}
	return t.Time
}

// scalarText returns the text of a JSON string or number, "" for null, and
// whether it was a string. Objects, arrays and booleans are errors.
func scalarText(b []byte) (text string, isString bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return "", false, errors.New("empty value")
	case string(b) == "null":
		return "", false, nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", true, err
		}
		return strings.TrimSpace(s), true, nil
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		return string(b), false, nil
	default:
		return "", false, fmt.Errorf("%.40s is not a string or number", b)
	}
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// productKey picks the id a line's product is known by: the store's product
// id, else the SKU, else the title. Custom items have neither id nor SKU, and
// the "title:" prefix keeps such keys from colliding with real ids.
func productKey(productID, sku, title string) string {
	switch {
	case productID != "" && productID != "0":
		return productID
	case sku != "":
		return sku
	case title != "":
		return "title:" + title
	}
	return ""
}

// lineID returns the line's own id, or its 1-based position when the source
// has none (Shopify checkout lines, custom generic lines).
func lineID(id string, index int) string {
	if id != "" {
		return id
	}
	return strconv.Itoa(index + 1)
}

// checkQuantity rejects negative quantities, which would turn into negative
// revenue and purchase counts downstream.
func checkQuantity(q int) error {
	if q < 0 {
		return fmt.Errorf("quantity %d is negative", q)
	}
	return nil
}

// customerKnown reports whether c identifies anyone; a customer without id
// and email cannot be matched to anything, so parsers return nil instead.
func customerKnown(c *shop.Customer) bool {
	return c != nil && (c.ExternalID != "" || c.Email != "")
}

// country normalises an ISO 3166-1 alpha-2 code.
func country(code string) string {
	return strings.ToUpper(strings.TrimSpace(code))
}

// named labels an error with the object and its id when the id is known.
func named(what, id string) string {
	if id == "" {
		return what
	}
	return what + " " + id
}
