package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Customer is a stored customer.
type Customer struct {
	ID            int64      `json:"id"`
	StoreID       int64      `json:"store_id"`
	ExternalID    *string    `json:"external_id"`
	Email         *string    `json:"email"`
	FirstName     string     `json:"first_name"`
	LastName      string     `json:"last_name"`
	Country       string     `json:"country"`
	Consent       string     `json:"consent"`
	ConsentSource string     `json:"consent_source"`
	ConsentAt     *time.Time `json:"consent_at"`
	RedactedAt    *time.Time `json:"redacted_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

// OrderLine is a stored order line.
type OrderLine struct {
	ExternalID       string `json:"external_id"`
	ProductID        *int64 `json:"product_id"`
	SKU              string `json:"sku"`
	Title            string `json:"title"`
	Quantity         int    `json:"quantity"`
	UnitPriceMinor   int64  `json:"unit_price_minor"`
	RefundedQuantity int    `json:"refunded_quantity"`
}

// Order is a stored order with its lines.
type Order struct {
	ID         int64       `json:"id"`
	ExternalID string      `json:"external_id"`
	CustomerID *int64      `json:"customer_id"`
	Email      *string     `json:"email"`
	Number     string      `json:"number"`
	Currency   string      `json:"currency"`
	TotalMinor int64       `json:"total_minor"`
	Status     string      `json:"status"`
	Test       bool        `json:"test"`
	PlacedAt   time.Time   `json:"placed_at"`
	Lines      []OrderLine `json:"lines"`
}

// CheckoutSummary is a stored checkout.
type CheckoutSummary struct {
	ExternalID string    `json:"external_id"`
	Status     string    `json:"status"`
	URL        string    `json:"url"`
	Currency   string    `json:"currency"`
	TotalMinor int64     `json:"total_minor"`
	Lines      int       `json:"lines"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ViewSummary is a product view.
type ViewSummary struct {
	ProductID int64     `json:"product_id"`
	Title     string    `json:"title"`
	ViewedAt  time.Time `json:"viewed_at"`
}

// Profile is everything stored about one customer.
type Profile struct {
	Customer  Customer          `json:"customer"`
	Orders    []Order           `json:"orders"`
	Checkouts []CheckoutSummary `json:"checkouts"`
	Views     []ViewSummary     `json:"views"`
}

const customerCols = `id, store_id, external_id, email, first_name, last_name, country, consent, consent_source, consent_at, redacted_at, created_at`

// CustomerFind looks a customer up by store-side id, email or remarket id,
// in that order, each on its index (remarket_customer_find).
func CustomerFind(ctx context.Context, db DB, storeID int64, ref string) (Customer, error) {
	id, _ := strconv.ParseInt(ref, 10, 64)
	c, err := customerWhere(ctx, db, `id = COALESCE(remarket_customer_find($1, $2, lower($2)),
    (SELECT id FROM customers WHERE id = $3 AND store_id = $1))`, storeID, ref, id)
	if err != nil {
		return Customer{}, notFound(fmt.Sprintf("find customer %q", ref), err)
	}
	return c, nil
}

func customerWhere(ctx context.Context, db DB, where string, args ...any) (Customer, error) {
	var c Customer
	err := db.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE `+where, args...).Scan(
		&c.ID, &c.StoreID, &c.ExternalID, &c.Email, &c.FirstName, &c.LastName, &c.Country, &c.Consent,
		&c.ConsentSource, &c.ConsentAt, &c.RedactedAt, &c.CreatedAt)
	return c, err
}

// CustomerProfile returns the customer with orders, open checkouts and recent views.
func CustomerProfile(ctx context.Context, db DB, storeID int64, ref string) (Profile, error) {
	c, err := CustomerFind(ctx, db, storeID, ref)
	if err != nil {
		return Profile{}, err
	}
	p := Profile{Customer: c}
	if p.Orders, err = OrderList(ctx, db, OrderListParams{StoreID: storeID, CustomerID: c.ID, Limit: 100}); err != nil {
		return Profile{}, err
	}
	if p.Checkouts, err = checkoutsOf(ctx, db, c.ID); err != nil {
		return Profile{}, err
	}
	if p.Views, err = viewsOf(ctx, db, c.ID); err != nil {
		return Profile{}, err
	}
	return p, nil
}

func checkoutsOf(ctx context.Context, db DB, customerID int64) ([]CheckoutSummary, error) {
	rows, err := db.Query(ctx, `SELECT external_id, status, url, currency, total_minor,
    (SELECT count(*) FROM checkout_lines l WHERE l.checkout_id = c.id), updated_at
FROM checkouts c WHERE customer_id = $1 AND status <> 'recovered' ORDER BY updated_at DESC LIMIT 20`, customerID)
	if err != nil {
		return nil, fmt.Errorf("list checkouts: %w", err)
	}
	defer rows.Close()
	out := []CheckoutSummary{}
	for rows.Next() {
		var c CheckoutSummary
		if err := rows.Scan(&c.ExternalID, &c.Status, &c.URL, &c.Currency, &c.TotalMinor, &c.Lines, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list checkouts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func viewsOf(ctx context.Context, db DB, customerID int64) ([]ViewSummary, error) {
	rows, err := db.Query(ctx, `SELECT v.product_id, p.title, v.viewed_at FROM views v JOIN products p ON p.id = v.product_id
WHERE v.customer_id = $1 ORDER BY v.viewed_at DESC LIMIT 20`, customerID)
	if err != nil {
		return nil, fmt.Errorf("list views: %w", err)
	}
	defer rows.Close()
	out := []ViewSummary{}
	for rows.Next() {
		var v ViewSummary
		if err := rows.Scan(&v.ProductID, &v.Title, &v.ViewedAt); err != nil {
			return nil, fmt.Errorf("list views: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// OrderListParams filters OrderList.
type OrderListParams struct {
	StoreID    int64
	CustomerID int64 // 0: every customer
	Since      time.Time
	Limit      int
}

const orderListSQL = `SELECT o.id, o.external_id, o.customer_id, c.email, o.number, o.currency, o.total_minor, o.status, o.test, o.placed_at,
    COALESCE(json_agg(json_build_object('external_id', l.external_id, 'product_id', l.product_id, 'sku', l.sku,
        'title', l.title, 'quantity', l.quantity, 'unit_price_minor', l.unit_price_minor,
        'refunded_quantity', l.refunded_quantity) ORDER BY l.id) FILTER (WHERE l.id IS NOT NULL), '[]')
FROM orders o LEFT JOIN customers c ON c.id = o.customer_id LEFT JOIN order_lines l ON l.order_id = o.id
WHERE o.store_id = $1 AND ($2 = 0 OR o.customer_id = $2) AND o.placed_at >= $3
GROUP BY o.id, c.email ORDER BY o.placed_at DESC, o.id DESC LIMIT $4`

// OrderList returns orders newest first, with their lines.
func OrderList(ctx context.Context, db DB, p OrderListParams) ([]Order, error) {
	if p.Limit <= 0 {
		p.Limit = 100
	}
	rows, err := db.Query(ctx, orderListSQL, p.StoreID, p.CustomerID, p.Since, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		var o Order
		if err := rows.Scan(&o.ID, &o.ExternalID, &o.CustomerID, &o.Email, &o.Number, &o.Currency, &o.TotalMinor,
			&o.Status, &o.Test, &o.PlacedAt, &o.Lines); err != nil {
			return nil, fmt.Errorf("list orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CustomerGet returns a customer by remarket id.
func CustomerGet(ctx context.Context, db DB, id int64) (Customer, error) {
	c, err := customerWhere(ctx, db, `id = $1`, id)
	if err != nil {
		return Customer{}, notFound(fmt.Sprintf("get customer %d", id), err)
	}
	return c, nil
}
