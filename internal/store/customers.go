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
// retried old delivery never undoes a later opt-out. A row is written (and
// locked) only when something changes: customers appear in many concurrent
// deliveries, and needless row locks would serialise them or deadlock.
const customerUpdateSQL = `WITH cur AS (
    SELECT c.*, (source_updated_at IS NULL OR $10::timestamptz IS NULL OR source_updated_at <= $10) AS fresh,
        ($7 <> '' AND (consent_at IS NULL OR $9::timestamptz IS NULL OR consent_at <= $9)) AS consent_fresh
    FROM customers c WHERE id = $1 AND redacted_at IS NULL
), next AS (
    SELECT id,
        COALESCE(external_id, NULLIF($2, '')) AS external_id,
        CASE WHEN $3 <> '' AND (email IS NULL OR fresh)
            AND NOT EXISTS (SELECT 1 FROM customers o WHERE o.store_id = cur.store_id AND o.email = $3 AND o.id <> cur.id)
            THEN $3 ELSE email END AS email,
        CASE WHEN $4 <> '' AND fresh THEN $4 ELSE first_name END AS first_name,
        CASE WHEN $5 <> '' AND fresh THEN $5 ELSE last_name END AS last_name,
        CASE WHEN $6 <> '' AND fresh THEN $6 ELSE country END AS country,
        CASE WHEN consent_fresh THEN $7 ELSE consent END AS consent,
        CASE WHEN consent_fresh THEN $8 ELSE consent_source END AS consent_source,
        CASE WHEN consent_fresh THEN COALESCE($9, consent_at) ELSE consent_at END AS consent_at,
        GREATEST(source_updated_at, $10) AS source_updated_at
    FROM cur
)
UPDATE customers c SET external_id = n.external_id, email = n.email, first_name = n.first_name,
    last_name = n.last_name, country = n.country, consent = n.consent, consent_source = n.consent_source,
    consent_at = n.consent_at, source_updated_at = n.source_updated_at, updated_at = now()
FROM next n
WHERE c.id = n.id AND (c.external_id, c.email, c.first_name, c.last_name, c.country, c.consent, c.consent_source,
    c.consent_at, c.source_updated_at) IS DISTINCT FROM (n.external_id, n.email, n.first_name, n.last_name,
    n.country, n.consent, n.consent_source, n.consent_at, n.source_updated_at)`

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
