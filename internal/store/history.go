package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Purchase is one kept order line: paid, not cancelled, less what was refunded.
type Purchase struct {
	Customer, Order, Product int64
	At                       time.Time
	Quantity                 int
	UnitPriceMinor           int64
}

// purchasesSQL lists what customers bought and kept, in time order;
// refunded units and cancelled or test orders are left out, so they never
// count as purchases. $2 limits it to one customer, $3 and $4 to a range of
// order ids, $5 to a list of them.
const purchasesSQL = `SELECT o.customer_id, o.id, l.product_id, o.placed_at, l.quantity - l.refunded_quantity, l.unit_price_minor
FROM orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.store_id = $1 AND o.customer_id IS NOT NULL AND l.product_id IS NOT NULL
  AND o.status IN ('paid', 'partially_refunded') AND NOT o.test AND l.quantity > l.refunded_quantity
  AND ($2 = 0 OR o.customer_id = $2) AND o.id > $3 AND ($4 = 0 OR o.id <= $4) AND ($5::bigint[] IS NULL OR o.id = ANY($5))
ORDER BY o.placed_at, o.id, l.id`

// PurchasesParams selects purchases.
type PurchasesParams struct {
	StoreID    int64
	CustomerID int64   // 0: every customer
	AfterOrder int64   // only orders with a higher id (the ones a model has not seen)
	UpToOrder  int64   // and no higher than this one (0: no bound)
	Orders     []int64 // only these orders (nil: any)
}

// PurchasesEach streams a store's kept purchases in time order, an order's
// lines together.
func PurchasesEach(ctx context.Context, db DB, p PurchasesParams, fn func(Purchase) error) error {
	rows, err := db.Query(ctx, purchasesSQL, p.StoreID, p.CustomerID, p.AfterOrder, p.UpToOrder, p.Orders)
	if err != nil {
		return fmt.Errorf("list purchases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pu Purchase
		if err := rows.Scan(&pu.Customer, &pu.Order, &pu.Product, &pu.At, &pu.Quantity, &pu.UnitPriceMinor); err != nil {
			return fmt.Errorf("list purchases: %w", err)
		}
		if err := fn(pu); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RecentDays is how far back a customer's recommendations count as recent:
// products an email showed them within it are demoted in the next.
const RecentDays = 30

// recentSQL lists (customer_id, product) for the products sent within
// RecentDays to the customers of the ledger rows that customers (a
// condition on sends) selects.
func recentSQL(customers string) string {
	return `SELECT DISTINCT customer_id, unnest(products) AS product FROM sends
WHERE (` + customers + `) AND status = 'sent' AND sent_at > now() - make_interval(days => ` + strconv.Itoa(RecentDays) + `)`
}

// RecentlyRecommendedMany returns, for each customer, the products sent to
// them within RecentDays, so that recommendations can demote them.
func RecentlyRecommendedMany(ctx context.Context, db DB, customerIDs []int64) (map[int64]map[int64]bool, error) {
	rows, err := db.Query(ctx, recentSQL(`customer_id = ANY($1)`), customerIDs)
	if err != nil {
		return nil, fmt.Errorf("recent recommendations: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[int64]bool{}
	for rows.Next() {
		var c, p int64
		if err := rows.Scan(&c, &p); err != nil {
			return nil, fmt.Errorf("recent recommendations: %w", err)
		}
		if out[c] == nil {
			out[c] = map[int64]bool{}
		}
		out[c][p] = true
	}
	return out, rows.Err()
}
