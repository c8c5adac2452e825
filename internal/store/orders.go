package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/shop"
)

// orderUpsertSQL skips an update that is not newer than what is stored, so a
// retried old delivery never overwrites later state; it then returns no row.
const orderUpsertSQL = `INSERT INTO orders (store_id, external_id, customer_id, number, currency, total_minor, status,
    checkout_token, test, placed_at, cancelled_at, source_updated_at)
VALUES ($1, $2, NULLIF($3, 0), $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (store_id, external_id) DO UPDATE SET customer_id = COALESCE(EXCLUDED.customer_id, orders.customer_id),
    number = EXCLUDED.number, currency = EXCLUDED.currency, total_minor = EXCLUDED.total_minor,
    status = EXCLUDED.status, checkout_token = EXCLUDED.checkout_token, test = EXCLUDED.test,
    placed_at = EXCLUDED.placed_at, cancelled_at = EXCLUDED.cancelled_at,
    source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
WHERE orders.source_updated_at IS NULL OR orders.source_updated_at < EXCLUDED.source_updated_at
RETURNING id`

// orderLinesSQL upserts all lines of an order; refunds recorded separately
// (refund_lines) are never undone by an order payload that lags behind.
const orderLinesSQL = `INSERT INTO order_lines (order_id, store_id, external_id, product_id, sku, title, quantity,
    unit_price_minor, refunded_quantity)
SELECT $1, $2, e, NULLIF(p, 0), s, t, q, u, r
FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::int[]) AS x(e, p, s, t, q, u, r)
ON CONFLICT (order_id, external_id) DO UPDATE SET product_id = EXCLUDED.product_id, sku = EXCLUDED.sku,
    title = EXCLUDED.title, quantity = EXCLUDED.quantity, unit_price_minor = EXCLUDED.unit_price_minor,
    refunded_quantity = GREATEST(EXCLUDED.refunded_quantity, order_lines.refunded_quantity)`

const checkoutRecoveredSQL = `UPDATE checkouts SET status = 'recovered', updated_at = now()
WHERE store_id = $1 AND token = $2 AND status <> 'recovered'`

// OrderUpsert saves an order, its customer, products and lines. It returns
// the order's id, or 0 when the stored order is as new or newer.
func OrderUpsert(ctx context.Context, db DB, storeID int64, o *shop.Order) (int64, error) {
	customerID, err := CustomerUpsert(ctx, db, storeID, datedCustomer(o.Customer, o.UpdatedAt))
	if err != nil {
		return 0, fmt.Errorf("save order %s: %w", o.ExternalID, err)
	}
	products, err := ProductsEnsure(ctx, db, storeID, o.Currency, o.Lines)
	if err != nil {
		return 0, fmt.Errorf("save order %s: %w", o.ExternalID, err)
	}
	var id int64
	err = db.QueryRow(ctx, orderUpsertSQL, storeID, o.ExternalID, customerID, o.Number, o.Currency, o.TotalMinor,
		string(o.Status), o.CheckoutToken, o.Test, o.PlacedAt, o.CancelledAt, nullTime(o.UpdatedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("save order %s: %w", o.ExternalID, err)
	}
	b := batch{}
	b.add(orderLinesSQL, lineArgs(id, storeID, o.Lines, products)...)
	if o.CheckoutToken != "" {
		b.add(checkoutRecoveredSQL, storeID, o.CheckoutToken)
	}
	return id, b.run(ctx, db, "save order "+o.ExternalID+" lines")
}

func lineArgs(orderID, storeID int64, lines []shop.LineItem, products map[string]int64) []any {
	seen := map[string]bool{}
	var ext, sku, title []string
	var prod, price []int64
	var qty, refunded []int32
	for i, l := range lines {
		e := l.ExternalID
		if e == "" || seen[e] {
			e = fmt.Sprintf("#%d", i+1)
		}
		seen[e] = true
		ext, prod, sku, title = append(ext, e), append(prod, products[l.ProductID]), append(sku, l.SKU), append(title, l.Title)
		qty, price, refunded = append(qty, int32(l.Quantity)), append(price, l.UnitPriceMinor), append(refunded, int32(min(l.RefundedQuantity, l.Quantity)))
	}
	return []any{orderID, storeID, ext, prod, sku, title, qty, price, refunded}
}

// OrderCancel marks an order the store deleted as cancelled; it stays for history.
func OrderCancel(ctx context.Context, db DB, storeID int64, externalID string) error {
	_, err := db.Exec(ctx, `UPDATE orders SET status = 'cancelled', cancelled_at = COALESCE(cancelled_at, now()), updated_at = now()
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

const refundSumSQL = `UPDATE order_lines ol SET refunded_quantity = LEAST(ol.quantity, GREATEST(ol.refunded_quantity, r.total))
FROM (SELECT rl.order_line_id, sum(rl.quantity)::int AS total FROM refund_lines rl
      JOIN order_lines l ON l.id = rl.order_line_id WHERE l.order_id = $1 GROUP BY rl.order_line_id) r
WHERE ol.id = r.order_line_id`

const refundStatusSQL = `UPDATE orders o SET status = CASE WHEN s.all_refunded THEN 'refunded' ELSE 'partially_refunded' END,
    updated_at = now()
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
