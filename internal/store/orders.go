package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/shop"
)

// OrderUpsert saves one order with its customer, products and lines, unless
// the stored order is as new or newer.
func OrderUpsert(ctx context.Context, db DB, storeID int64, o *shop.Order) error {
	return OrdersUpsert(ctx, db, storeID, []*shop.Order{o})
}

// lineArgs gives each line a unique id (its position when the store sent
// none or a repeated one) and lays the lines out as arrays.
func lineArgs(lines []shop.LineItem) []any {
	seen := map[string]bool{}
	var ext, prod, sku, title, cat []string
	var price []int64
	var qty, refunded []int32
	for i, l := range lines {
		e := l.ExternalID
		if e == "" || seen[e] {
			e = fmt.Sprintf("#%d", i+1)
		}
		seen[e] = true
		ext, prod, sku, title, cat = append(ext, e), append(prod, l.ProductID), append(sku, l.SKU), append(title, l.Title), append(cat, l.Category)
		qty, price, refunded = append(qty, int32(l.Quantity)), append(price, l.UnitPriceMinor), append(refunded, int32(min(l.RefundedQuantity, l.Quantity)))
	}
	return []any{ext, prod, sku, title, cat, qty, price, refunded}
}

// OrderCancel marks an order the store deleted as cancelled; it stays for history.
func OrderCancel(ctx context.Context, db DB, storeID int64, externalID string) error {
	_, err := db.Exec(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now()), `+OrderChanged+`
WHERE store_id = $1 AND external_id = $2 AND status <> 'cancelled'`, storeID, externalID)
	if err != nil {
		return fmt.Errorf("cancel order %s: %w", externalID, err)
	}
	return nil
}

// ErrOrderUnknown is returned for a refund whose order has not arrived yet;
// the caller retries later, since webhooks arrive out of order.
var ErrOrderUnknown = errors.New("order not stored yet")

const refundLinesSQL = `INSERT INTO refund_lines (store_id, refund_external_id, order_line_id, quantity, refunded_at)
SELECT $1, $2, ol.id, x.q, $5 FROM unnest($3::text[], $4::int[]) AS x(e, q)
JOIN order_lines ol ON ol.order_id = $6 AND ol.external_id = x.e
ON CONFLICT DO NOTHING`

// refundSumSQL raises the lines' refunded quantities to what the recorded
// refunds add up to, and touches the order when any line changed: the
// status may stay "partially_refunded", but whoever follows the order's
// changes (recommendation models) must see a second partial refund too.
const refundSumSQL = `WITH changed AS (
    UPDATE order_lines ol SET refunded_quantity = LEAST(ol.quantity, r.total)
    FROM (SELECT rl.order_line_id, sum(rl.quantity)::int AS total FROM refund_lines rl
          JOIN order_lines l ON l.id = rl.order_line_id WHERE l.order_id = $1 GROUP BY rl.order_line_id) r
    WHERE ol.id = r.order_line_id AND ol.refunded_quantity < LEAST(ol.quantity, r.total)
    RETURNING ol.id)
UPDATE orders SET ` + OrderChanged + ` WHERE id = $1 AND EXISTS (SELECT 1 FROM changed)`

const refundStatusSQL = `UPDATE orders o SET status = CASE WHEN s.all_refunded THEN 'refunded' ELSE 'partially_refunded' END,
    ` + OrderChanged + `
FROM (SELECT bool_and(refunded_quantity >= quantity) AS all_refunded, bool_or(refunded_quantity > 0) AS any_refunded
      FROM order_lines WHERE order_id = $1) s
WHERE o.id = $1 AND o.status <> 'cancelled' AND s.any_refunded
    AND o.status <> CASE WHEN s.all_refunded THEN 'refunded' ELSE 'partially_refunded' END`

// RefundApply records a refund once and updates the refunded quantities and
// the order's status. It returns ErrOrderUnknown when the order is missing.
func RefundApply(ctx context.Context, db DB, storeID int64, r *shop.Refund) error {
	var orderID int64
	err := db.QueryRow(ctx, `SELECT id FROM orders WHERE store_id = $1 AND external_id = $2`, storeID, r.OrderExternalID).Scan(&orderID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("refund %s for order %s: %w", r.ExternalID, r.OrderExternalID, ErrOrderUnknown)
	}
	if err != nil {
		return fmt.Errorf("refund %s: %w", r.ExternalID, err)
	}
	var ext []string
	var qty []int32
	for _, l := range r.Lines {
		ext, qty = append(ext, l.LineExternalID), append(qty, int32(l.Quantity))
	}
	b := batch{}
	b.add(refundLinesSQL, storeID, r.ExternalID, ext, qty, r.CreatedAt, orderID)
	b.add(refundSumSQL, orderID)
	b.add(refundStatusSQL, orderID)
	return b.run(ctx, db, "refund "+r.ExternalID)
}

// datedCustomer gives a customer embedded in an order or checkout that
// payload's time, so that a late retry of an old order does not overwrite
// newer names or addresses.
func datedCustomer(c *shop.Customer, at time.Time) *shop.Customer {
	if c == nil || !c.UpdatedAt.IsZero() {
		return c
	}
	cc := *c
	cc.UpdatedAt = at
	return &cc
}

// customersPreinsertSQL creates the bare rows of a batch's new customers in
// key order, so that concurrent batches sharing customers wait for each other
// instead of deadlocking on the unique keys.
const customersPreinsertSQL = `INSERT INTO customers (store_id, external_id, email)
SELECT $1, NULLIF(e, ''), NULLIF(m, '') FROM unnest($2::text[], $3::text[]) AS u(e, m)
WHERE e <> '' OR m <> '' ORDER BY e, m
ON CONFLICT DO NOTHING`

// OrdersUpsert saves many orders in one round trip: their new customers and
// products first, in key order, then each order in turn.
func OrdersUpsert(ctx context.Context, db DB, storeID int64, orders []*shop.Order) error {
	b := batch{}
	QueueOrders(&b.b, storeID, orders)
	return b.run(ctx, db, fmt.Sprintf("save %d orders", len(orders)))
}

// QueueOrders adds the statements of OrdersUpsert to a batch, so that
// several deliveries' orders travel in one round trip. Concurrent batches
// sharing customers or products take their keys in the same order, so they
// wait for each other instead of deadlocking.
func QueueOrders(pb *pgx.Batch, storeID int64, orders []*shop.Order) {
	var cExt, cEmail []string
	var lines []shop.LineItem
	currency := ""
	for _, o := range orders {
		if o.Customer != nil {
			cExt, cEmail = append(cExt, o.Customer.ExternalID), append(cEmail, o.Customer.Email)
		}
		lines = append(lines, o.Lines...)
		currency = o.Currency
	}
	pb.Queue(customersPreinsertSQL, storeID, cExt, cEmail)
	if l := lineArgs(lines); len(lines) > 0 {
		pb.Queue(`SELECT count(*) FROM remarket_products_ensure($1, $2, $3, $4, $5, $6, $7)`, storeID, currency, l[1], l[2], l[3], l[4], l[6])
	}
	queueOrdersSet(pb, storeID, orders)
}
