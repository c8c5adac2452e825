package store

import (
	"context"
	"fmt"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

// customerFindSQL finds a customer by store-side id, else by email, each on
// its unique index.
const customerFindSQL = `SELECT id FROM customers WHERE id = remarket_customer_find($1, $2, $3)`

// CustomerUpsert finds the customer by store-side id or email, creating or
// updating them (remarket_customer_upsert in migrations/00002), and returns
// their id. A customer with neither id nor email gives 0.
func CustomerUpsert(ctx context.Context, db DB, storeID int64, c *shop.Customer) (int64, error) {
	args := customerArgs(c)
	if args == nil {
		return 0, nil
	}
	var id int64
	if err := db.QueryRow(ctx, `SELECT remarket_customer_upsert($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		append([]any{storeID}, args...)...).Scan(&id); err != nil {
		return 0, fmt.Errorf("save customer: %w", err)
	}
	return id, nil
}

// customerArgs lists a customer's fields in the order the SQL functions take
// them, or nil when there is no customer to save.
func customerArgs(c *shop.Customer) []any {
	if c == nil || (c.ExternalID == "" && c.Email == "") {
		return nil
	}
	consentAt, updatedAt := nullTime(c.ConsentAt), nullTime(c.UpdatedAt)
	if c.Consent != "" && consentAt == nil {
		consentAt = updatedAt
	}
	return []any{c.ExternalID, c.Email, c.FirstName, c.LastName, c.Country, string(c.Consent), c.ConsentSource, consentAt, updatedAt}
}

// CustomerRedact erases a customer's personal data (GDPR, customers/redact):
// email, names and country, their open checkouts and views. Orders and lines
// stay, anonymous, so the store's statistics keep their history.
func CustomerRedact(ctx context.Context, db DB, storeID int64, c *shop.Customer) error {
	var id int64
	if err := db.QueryRow(ctx, customerFindSQL, storeID, c.ExternalID, c.Email).Scan(&id); err != nil {
		return nil // nothing stored about them: nothing to erase
	}
	b := batch{}
	b.add(`UPDATE customers SET email = NULL, first_name = '', last_name = '', country = '', consent = 'redacted',
        consent_source = 'redact', redacted_at = now(), updated_at = now() WHERE id = $1`, id)
	b.add(`DELETE FROM checkouts WHERE customer_id = $1`, id)
	b.add(`DELETE FROM views WHERE customer_id = $1`, id)
	return b.run(ctx, db, "redact customer")
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
