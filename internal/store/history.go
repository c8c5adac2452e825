package store

import (
	"context"
	"fmt"
	"time"
)

// Purchase is one kept order line: paid, not cancelled, less what was refunded.
type Purchase struct {
	Customer, Order, Product int64
	At                       time.Time
	Quantity                 int
	UnitPriceMinor           int64
}

// purchasesSQL lists what customers bought and kept, oldest first; refunded
// units and cancelled orders are left out, so they never count as purchases.
const purchasesSQL = `SELECT o.customer_id, o.id, l.product_id, o.placed_at, l.quantity - l.refunded_quantity, l.unit_price_minor
FROM orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.store_id = $1 AND o.customer_id IS NOT NULL AND l.product_id IS NOT NULL
  AND o.status IN ('paid', 'partially_refunded') AND NOT o.test AND l.quantity > l.refunded_quantity
  AND ($2 = 0 OR o.customer_id = $2)
ORDER BY o.placed_at, o.id`

// PurchasesEach streams a store's kept purchases (customerID 0: everyone's)
// in time order.
func PurchasesEach(ctx context.Context, db DB, storeID, customerID int64, fn func(Purchase) error) error {
	rows, err := db.Query(ctx, purchasesSQL, storeID, customerID)
	if err != nil {
		return fmt.Errorf("list purchases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Purchase
		if err := rows.Scan(&p.Customer, &p.Order, &p.Product, &p.At, &p.Quantity, &p.UnitPriceMinor); err != nil {
			return fmt.Errorf("list purchases: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PurchasesAfter streams the kept purchases of orders with ids above
// afterID, order by order; new products are first made known to the caller
// through ProductsEach.
func PurchasesAfter(ctx context.Context, db DB, storeID, afterID int64, fn func(Purchase) error) error {
	rows, err := db.Query(ctx, `SELECT o.customer_id, o.id, l.product_id, o.placed_at, l.quantity - l.refunded_quantity, l.unit_price_minor
FROM orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.store_id = $1 AND o.id > $2 AND o.customer_id IS NOT NULL AND l.product_id IS NOT NULL
  AND o.status IN ('paid', 'partially_refunded') AND NOT o.test AND l.quantity > l.refunded_quantity
ORDER BY o.id, l.id`, storeID, afterID)
	if err != nil {
		return fmt.Errorf("list new purchases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Purchase
		if err := rows.Scan(&p.Customer, &p.Order, &p.Product, &p.At, &p.Quantity, &p.UnitPriceMinor); err != nil {
			return fmt.Errorf("list new purchases: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RecentlyRecommended returns the products sent to a customer in the last
// days, so that recommendations can demote them.
func RecentlyRecommended(ctx context.Context, db DB, customerID int64, days int) (map[int64]bool, error) {
	rows, err := db.Query(ctx, `SELECT DISTINCT unnest(products) FROM sends
WHERE customer_id = $1 AND status = 'sent' AND sent_at > now() - make_interval(days => $2)`, customerID, days)
	if err != nil {
		return nil, fmt.Errorf("recent recommendations: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("recent recommendations: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}
