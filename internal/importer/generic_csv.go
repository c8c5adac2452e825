package importer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// Columns of the generic CSV format, in no particular order (see
// docs/import.md).
const (
	colOrderID = iota
	colPlacedAt
	colCustomerID
	colEmail
	colProductID
	colSKU
	colTitle
	colCategory
	colQuantity
	colUnitPrice
	colCurrency
	colStatus
	numGenericColumns
)

var genericColumns = [numGenericColumns]string{
	"order_id", "placed_at", "customer_id", "email", "product_id", "sku",
	"title", "category", "quantity", "unit_price", "currency", "status",
}

var orderStatuses = map[string]bool{
	string(shop.OrderPending): true, string(shop.OrderPaid): true,
	string(shop.OrderPartiallyRefunded): true, string(shop.OrderRefunded): true,
	string(shop.OrderCancelled): true,
}

// genericCSV parses the generic CSV format. Each file has its own header, so
// column order may differ between files.
type genericCSV struct {
	loc      *time.Location
	currency string // the store's, for rows without one
	ordinals *ordinals
	index    [numGenericColumns]int // column position in the file, -1 if absent
	width    int                    // number of columns in the header
}

func newGenericCSV(loc *time.Location, currency string) *genericCSV {
	return &genericCSV{loc: loc, currency: currency, ordinals: newOrdinals()}
}

func (p *genericCSV) readHeader(h []string) error {
	for i := range p.index {
		p.index[i] = -1
	}
	p.width = len(h)
	var unknown []string
	for pos, name := range h {
		name = strings.ToLower(strings.TrimSpace(name))
		col := columnNamed(name)
		switch {
		case col < 0:
			unknown = append(unknown, strconv.Quote(name))
		case p.index[col] >= 0:
			return fmt.Errorf("column %q appears twice", name)
		default:
			p.index[col] = pos
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown columns %s (known: %s)", strings.Join(unknown, ", "), strings.Join(genericColumns[:], ", "))
	}
	return p.checkRequired()
}

func (p *genericCSV) checkRequired() error {
	var missing []string
	for _, col := range []int{colOrderID, colPlacedAt, colQuantity, colUnitPrice} {
		if p.index[col] < 0 {
			missing = append(missing, genericColumns[col])
		}
	}
	if p.index[colCustomerID] < 0 && p.index[colEmail] < 0 {
		missing = append(missing, "customer_id or email")
	}
	if p.index[colProductID] < 0 && p.index[colSKU] < 0 {
		missing = append(missing, "product_id or sku")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing columns: %s", strings.Join(missing, ", "))
	}
	return nil
}

func columnNamed(name string) int {
	for i, c := range genericColumns {
		if c == name {
			return i
		}
	}
	return -1
}

// field returns the trimmed value of col, or "" when the file lacks it.
func (p *genericCSV) field(rec []string, col int) string {
	if p.index[col] < 0 {
		return ""
	}
	return strings.TrimSpace(rec[p.index[col]])
}

// parse never skips: every problem in a generic file is the exporter's to
// fix, so it is reported as a rejected row.
func (p *genericCSV) parse(rec []string) (r row, skip, reject string) {
	if len(rec) != p.width {
		return r, "", fmt.Sprintf("has %d columns, want %d", len(rec), p.width)
	}
	r.orderExt = p.field(rec, colOrderID)
	if r.orderExt == "" {
		return r, "", "order_id is empty"
	}
	r.lineExt = p.ordinals.next(r.orderExt)
	if err := p.parseCustomer(rec, &r); err != nil {
		return r, "", err.Error()
	}
	if err := p.parseProduct(rec, &r); err != nil {
		return r, "", err.Error()
	}
	if err := p.parseOrder(rec, &r); err != nil {
		return r, "", err.Error()
	}
	r.kind = kindLine
	return r, "", ""
}

func (p *genericCSV) parseCustomer(rec []string, r *row) error {
	r.custExt = p.field(rec, colCustomerID)
	if raw := p.field(rec, colEmail); raw != "" {
		if r.email = shop.NormalizeEmail(raw); r.email == "" {
			return fmt.Errorf("email %q is not an address", raw)
		}
	}
	if r.custExt == "" && r.email == "" {
		return errors.New("a customer needs customer_id or email")
	}
	return nil
}

func (p *genericCSV) parseProduct(rec []string, r *row) error {
	r.sku = p.field(rec, colSKU)
	r.productExt = p.field(rec, colProductID)
	if r.productExt == "" {
		r.productExt = r.sku
	}
	if r.productExt == "" {
		return errors.New("a line needs product_id or sku")
	}
	r.title, r.category = p.field(rec, colTitle), p.field(rec, colCategory)
	return nil
}

func (p *genericCSV) parseOrder(rec []string, r *row) error {
	var err error
	if r.placedAt, err = p.timestamp(p.field(rec, colPlacedAt)); err != nil {
		return err
	}
	qty, err := strconv.Atoi(p.field(rec, colQuantity))
	if err != nil || qty <= 0 || qty > math.MaxInt32 {
		return fmt.Errorf("quantity %q is not a positive whole number", p.field(rec, colQuantity))
	}
	r.quantity = int32(qty)
	r.currency = strings.ToUpper(p.field(rec, colCurrency))
	if r.currency == "" {
		r.currency = p.currency
	}
	if len(r.currency) != 3 {
		return fmt.Errorf("currency %q is not an ISO 4217 code", r.currency)
	}
	price := p.field(rec, colUnitPrice)
	if r.priceMinor, err = shop.ParseMinor(price, r.currency); err != nil || r.priceMinor < 0 {
		return fmt.Errorf("unit_price %q is not a decimal amount of at least 0", price)
	}
	r.status = strings.ToLower(p.field(rec, colStatus))
	if r.status == "" {
		r.status = string(shop.OrderPaid)
	}
	if !orderStatuses[r.status] {
		return fmt.Errorf("status %q is not one of pending, paid, partially_refunded, refunded, cancelled", r.status)
	}
	return nil
}

// timestamp accepts RFC 3339, or "YYYY-MM-DD HH:MM:SS" in the store's
// timezone.
func (p *genericCSV) timestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateTime, s, p.loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("placed_at %q is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS", s)
}

// newParser returns the parser for p.Format, which validate has checked.
func newParser(p Params) parser {
	if p.Format == FormatOnlineRetail {
		return newOnlineRetail(p.Location)
	}
	return newGenericCSV(p.Location, p.Currency)
}
