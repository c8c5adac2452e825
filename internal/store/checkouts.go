package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/shop"
)

// checkoutUpsertSQL keeps the newest state. A checkout is recovered once it
// is completed or an order carries its token; otherwise it is open until the
// abandonment sweep marks it abandoned.
const checkoutUpsertSQL = `INSERT INTO checkouts (store_id, external_id, customer_id, token, status, url, currency,
    total_minor, completed_at, source_updated_at)
VALUES ($1, $2, NULLIF($3, 0), $4,
    CASE WHEN $8::timestamptz IS NOT NULL OR EXISTS (SELECT 1 FROM orders WHERE store_id = $1 AND $4 <> '' AND checkout_token = $4)
         THEN 'recovered' ELSE 'open' END,
    $5, $6, $7, $8, $9)
ON CONFLICT (store_id, external_id) DO UPDATE SET customer_id = COALESCE(EXCLUDED.customer_id, checkouts.customer_id),
    token = EXCLUDED.token, url = EXCLUDED.url, currency = EXCLUDED.currency, total_minor = EXCLUDED.total_minor,
    completed_at = EXCLUDED.completed_at, source_updated_at = EXCLUDED.source_updated_at, updated_at = now(),
    status = CASE WHEN checkouts.status = 'recovered' OR EXCLUDED.status = 'recovered' THEN 'recovered' ELSE 'open' END
WHERE checkouts.source_updated_at IS NULL OR checkouts.source_updated_at < EXCLUDED.source_updated_at
RETURNING id`

const checkoutLinesSQL = `INSERT INTO checkout_lines (checkout_id, position, product_id, title, quantity, price_minor)
SELECT $1, ord, NULLIF(p, 0), t, q, u FROM unnest($2::bigint[], $3::text[], $4::int[], $5::bigint[]) WITH ORDINALITY AS x(p, t, q, u, ord)`

// CheckoutUpsert saves a checkout with its customer and lines, unless a newer
// state is stored.
func CheckoutUpsert(ctx context.Context, db DB, storeID int64, c *shop.Checkout) error {
	customerID, err := CustomerUpsert(ctx, db, storeID, datedCustomer(c.Customer, c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save checkout %s: %w", c.ExternalID, err)
	}
	products, err := ProductsEnsure(ctx, db, storeID, c.Currency, c.Lines)
	if err != nil {
		return fmt.Errorf("save checkout %s: %w", c.ExternalID, err)
	}
	var id int64
	err = db.QueryRow(ctx, checkoutUpsertSQL, storeID, c.ExternalID, customerID, c.Token, c.URL, c.Currency,
		c.TotalMinor, c.CompletedAt, nullTime(c.UpdatedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("save checkout %s: %w", c.ExternalID, err)
	}
	var prod, price []int64
	var title []string
	var qty []int32
	for _, l := range c.Lines {
		prod, title, qty, price = append(prod, products[l.ProductID]), append(title, l.Title), append(qty, int32(l.Quantity)), append(price, l.UnitPriceMinor)
	}
	b := batch{}
	b.add(`DELETE FROM checkout_lines WHERE checkout_id = $1`, id)
	b.add(checkoutLinesSQL, id, prod, title, qty, price)
	return b.run(ctx, db, "save checkout "+c.ExternalID+" lines")
}

// CheckoutsMarkAbandoned marks checkouts open for longer than the given
// number of minutes as abandoned and returns how many it marked.
func CheckoutsMarkAbandoned(ctx context.Context, db DB, minutes int) (int64, error) {
	tag, err := db.Exec(ctx, `UPDATE checkouts SET status = 'abandoned'
WHERE status = 'open' AND COALESCE(source_updated_at, updated_at) < now() - make_interval(mins => $1)`, minutes)
	if err != nil {
		return 0, fmt.Errorf("mark abandoned checkouts: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ErrNoCustomer is returned for a view that names no customer id or email.
var ErrNoCustomer = errors.New("customer has neither id nor email")

// ViewInsert records that a customer viewed a product.
func ViewInsert(ctx context.Context, db DB, storeID int64, v *shop.View) error {
	customerID, err := CustomerUpsert(ctx, db, storeID, &v.Customer)
	if err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	if customerID == 0 {
		return fmt.Errorf("save view: %w", ErrNoCustomer)
	}
	products, err := ProductsEnsure(ctx, db, storeID, "", []shop.LineItem{{ProductID: v.ProductID}})
	if err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO views (store_id, customer_id, product_id, viewed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`, storeID, customerID, products[v.ProductID], v.ViewedAt)
	if err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	return nil
}
