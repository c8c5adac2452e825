package store

import (
	"context"
	"fmt"
)

// Basket is what an email is about: a customer's latest order or latest
// abandoned checkout, with its first lines.
type Basket struct {
	Number     string // order number; "" for a checkout
	URL        string // where a checkout is completed; "" for an order
	Currency   string
	TotalMinor int64
	Lines      []BasketLine
	More       int // lines left out after the first maxLines
}

// BasketLine is one line of a basket; Quantity leaves out refunded units.
type BasketLine struct {
	Title          string
	Quantity       int
	UnitPriceMinor int64
	URL, ImageURL  string
}

// lastOrderSQL picks each customer's latest order that still counts (paid,
// not refunded in full, not a test) and its lines with what is left after
// refunds. The shop's line order is not stored, so the dearest lines come
// first: those are the ones a long order's summary should not cut.
const lastOrderSQL = `SELECT c.id, o.number, '', o.currency, o.total_minor, o.n, l.title, l.qty, l.unit_price_minor, l.url, l.image_url
FROM unnest($1::bigint[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT o.id, o.number, o.currency, o.total_minor,
           (SELECT count(*) FROM order_lines x WHERE x.order_id = o.id AND x.quantity > x.refunded_quantity) AS n
    FROM orders o
    WHERE o.customer_id = c.id AND o.store_id = $2 AND o.status IN ('paid', 'partially_refunded') AND NOT o.test
    ORDER BY o.placed_at DESC, o.id DESC LIMIT 1) o
LEFT JOIN LATERAL (
    SELECT COALESCE(NULLIF(l.title, ''), p.title, '') AS title, l.quantity - l.refunded_quantity AS qty,
           l.unit_price_minor, COALESCE(p.url, '') AS url, COALESCE(p.image_url, '') AS image_url
    FROM order_lines l LEFT JOIN products p ON p.id = l.product_id
    WHERE l.order_id = o.id AND l.quantity > l.refunded_quantity
    ORDER BY (l.quantity - l.refunded_quantity) * l.unit_price_minor DESC, 1 LIMIT $3) l ON true
ORDER BY c.id, l.qty * l.unit_price_minor DESC, l.title`

// abandonedCheckoutSQL picks each customer's latest abandoned checkout.
const abandonedCheckoutSQL = `SELECT c.id, '', k.url, k.currency, k.total_minor, k.n, l.title, l.quantity, l.price_minor, l.url, l.image_url
FROM unnest($1::bigint[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT k.id, k.url, k.currency, k.total_minor,
           (SELECT count(*) FROM checkout_lines x WHERE x.checkout_id = k.id) AS n
    FROM checkouts k
    WHERE k.customer_id = c.id AND k.status = 'abandoned' AND k.store_id = $2
    ORDER BY k.updated_at DESC, k.id DESC LIMIT 1) k
LEFT JOIN LATERAL (
    SELECT l.position, COALESCE(NULLIF(l.title, ''), p.title, '') AS title, l.quantity, l.price_minor,
           COALESCE(p.url, '') AS url, COALESCE(p.image_url, '') AS image_url
    FROM checkout_lines l LEFT JOIN products p ON p.id = l.product_id
    WHERE l.checkout_id = k.id
    ORDER BY l.position LIMIT $3) l ON true
ORDER BY c.id, l.position`

// LastOrders returns the latest counted order of each of the customers who
// has one, with at most maxLines lines.
func LastOrders(ctx context.Context, db DB, storeID int64, customerIDs []int64, maxLines int) (map[int64]*Basket, error) {
	return baskets(ctx, db, "last orders", lastOrderSQL, storeID, customerIDs, maxLines)
}

// AbandonedCheckouts returns the latest abandoned checkout of each of the
// customers who has one, with at most maxLines lines.
func AbandonedCheckouts(ctx context.Context, db DB, storeID int64, customerIDs []int64, maxLines int) (map[int64]*Basket, error) {
	return baskets(ctx, db, "abandoned checkouts", abandonedCheckoutSQL, storeID, customerIDs, maxLines)
}

func baskets(ctx context.Context, db DB, what, sql string, storeID int64, customerIDs []int64, maxLines int) (map[int64]*Basket, error) {
	rows, err := db.Query(ctx, sql, customerIDs, storeID, maxLines)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	defer rows.Close()
	out := map[int64]*Basket{}
	for rows.Next() {
		var id, n int64
		var b Basket
		var title, url, image *string
		var qty *int32
		var price *int64
		if err := rows.Scan(&id, &b.Number, &b.URL, &b.Currency, &b.TotalMinor, &n, &title, &qty, &price, &url, &image); err != nil {
			return nil, fmt.Errorf("get %s: %w", what, err)
		}
		cur := out[id]
		if cur == nil {
			cur = &b
			out[id] = cur
		}
		if qty != nil { // a basket without lines has one row of NULLs
			cur.Lines = append(cur.Lines, BasketLine{Title: *title, Quantity: int(*qty), UnitPriceMinor: *price, URL: *url, ImageURL: *image})
		}
		cur.More = int(n) - len(cur.Lines)
	}
	return out, rows.Err()
}
