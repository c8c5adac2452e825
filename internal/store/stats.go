package store

import (
	"context"
	"fmt"
)

// Counts summarises what is stored for a store.
type Counts struct {
	Customers           int64            `json:"customers"`
	CustomersSubscribed int64            `json:"customers_subscribed"`
	Products            int64            `json:"products"`
	Orders              map[string]int64 `json:"orders"`
	OrderLines          int64            `json:"order_lines"`
	Checkouts           map[string]int64 `json:"checkouts"`
	Views               int64            `json:"views"`
	Inbox               map[string]int64 `json:"inbox"`
}

const countsSQL = `SELECT
    (SELECT count(*) FROM customers WHERE store_id = $1),
    (SELECT count(*) FROM customers WHERE store_id = $1 AND consent = 'subscribed'),
    (SELECT count(*) FROM products WHERE store_id = $1),
    (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) n FROM orders WHERE store_id = $1 GROUP BY status) x),
    (SELECT count(*) FROM order_lines WHERE store_id = $1),
    (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) n FROM checkouts WHERE store_id = $1 GROUP BY status) x),
    (SELECT count(*) FROM views WHERE store_id = $1),
    (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) n FROM inbox WHERE store_id = $1 GROUP BY status) x)`

// StoreCounts counts a store's customers, products, orders, checkouts, views
// and deliveries.
func StoreCounts(ctx context.Context, db DB, storeID int64) (Counts, error) {
	var c Counts
	err := db.QueryRow(ctx, countsSQL, storeID).Scan(&c.Customers, &c.CustomersSubscribed, &c.Products, &c.Orders,
		&c.OrderLines, &c.Checkouts, &c.Views, &c.Inbox)
	if err != nil {
		return Counts{}, fmt.Errorf("count store %d: %w", storeID, err)
	}
	return c, nil
}
