package store

import (
	"context"
	"fmt"
	"time"

	"github.com/remarket/remarket/internal/shop"
)

const customerFindSQL = `SELECT id FROM customers
WHERE store_id = $1 AND (($2 <> '' AND external_id = $2) OR ($3 <> '' AND email = $3))
ORDER BY (external_id = $2) DESC NULLS LAST LIMIT 1`

const customerInsertSQL = `INSERT INTO customers (store_id, external_id, email, first_name, last_name, country,
    consent, consent_source, consent_at, source_updated_at)
VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), $4, $5, $6, COALESCE(NULLIF($7, ''), 'unknown'), $8, $9, $10)
ON CONFLICT DO NOTHING RETURNING id`

// customerUpdateSQL fills what the delivery states. Names and email follow
// the newest source update; consent follows the newest consent time, so a
// retried old delivery never undoes a later opt-out.
const customerUpdateSQL = `UPDATE customers c SET
    external_id = COALESCE(c.external_id, NULLIF($2, '')),
    email = CASE WHEN $3 <> '' AND (c.email IS NULL OR fresh)
        AND NOT EXISTS (SELECT 1 FROM customers o WHERE o.store_id = c.store_id AND o.email = $3 AND o.id <> c.id)
        THEN $3 ELSE c.email END,
    first_name = CASE WHEN $4 <> '' AND fresh THEN $4 ELSE c.first_name END,
    last_name = CASE WHEN $5 <> '' AND fresh THEN $5 ELSE c.last_name END,
    country = CASE WHEN $6 <> '' AND fresh THEN $6 ELSE c.country END,
    consent = CASE WHEN consent_fresh THEN $7 ELSE c.consent END,
    consent_source = CASE WHEN consent_fresh THEN $8 ELSE c.consent_source END,
    consent_at = CASE WHEN consent_fresh THEN COALESCE($9, c.consent_at) ELSE c.consent_at END,
    source_updated_at = GREATEST(c.source_updated_at, $10),
    updated_at = now()
FROM (SELECT id,
        (source_updated_at IS NULL OR $10::timestamptz IS NULL OR source_updated_at <= $10) AS fresh,
        ($7 <> '' AND (consent_at IS NULL OR $9::timestamptz IS NULL OR consent_at <= $9)) AS consent_fresh
      FROM customers WHERE id = $1) f
WHERE c.id = f.id AND c.redacted_at IS NULL`

// CustomerUpsert finds the customer by store-side id or email, creating or
// updating them, and returns their id. A customer with neither gives 0.
func CustomerUpsert(ctx context.Context, db DB, storeID int64, c *shop.Customer) (int64, error) {
	if c == nil || (c.ExternalID == "" && c.Email == "") {
		return 0, nil
	}
	consentAt, updatedAt := nullTime(c.ConsentAt), nullTime(c.UpdatedAt)
	if c.Consent != "" && consentAt == nil {
		consentAt = updatedAt
	}
	for range 2 { // a concurrent insert of the same customer makes the first try find nothing
		var id int64
		err := db.QueryRow(ctx, customerFindSQL, storeID, c.ExternalID, c.Email).Scan(&id)
		if err == nil {
			_, err = db.Exec(ctx, customerUpdateSQL, id, c.ExternalID, c.Email, c.FirstName, c.LastName, c.Country,
				string(c.Consent), c.ConsentSource, consentAt, updatedAt)
			if err != nil {
				return 0, fmt.Errorf("update customer %d: %w", id, err)
			}
			return id, nil
		}
		if err := db.QueryRow(ctx, customerInsertSQL, storeID, c.ExternalID, c.Email, c.FirstName, c.LastName, c.Country,
			string(c.Consent), c.ConsentSource, consentAt, updatedAt).Scan(&id); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("upsert customer: no row for %q after insert", c.ExternalID+c.Email)
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
