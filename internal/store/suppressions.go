package store

import (
	"context"
	"fmt"
)

// Suppression reasons.
const (
	SuppressUnsubscribed = "unsubscribed"
	SuppressBounced      = "bounced"
	SuppressManual       = "manual"
)

// SuppressionAdd makes sure an address never gets marketing email from the
// store again. Adding it twice keeps the first reason.
func SuppressionAdd(ctx context.Context, db DB, storeID int64, email, reason, source string) error {
	_, err := db.Exec(ctx, `INSERT INTO suppressions (store_id, email, reason, source) VALUES ($1, lower($2), $3, $4)
ON CONFLICT DO NOTHING`, storeID, email, reason, source)
	if err != nil {
		return fmt.Errorf("suppress address: %w", err)
	}
	return nil
}

// CustomerUnsubscribe records that a customer opted out through a link: their
// consent becomes unsubscribed and their address is suppressed.
func CustomerUnsubscribe(ctx context.Context, db DB, storeID, customerID int64, source string) error {
	b := batch{}
	b.add(`UPDATE customers SET consent = 'unsubscribed', consent_source = $3, consent_at = now(), updated_at = now()
WHERE id = $1 AND store_id = $2 AND consent <> 'unsubscribed'`, customerID, storeID, source)
	b.add(`INSERT INTO suppressions (store_id, email, reason, source)
SELECT store_id, email, 'unsubscribed', $3 FROM customers WHERE id = $1 AND store_id = $2 AND email IS NOT NULL
ON CONFLICT DO NOTHING`, customerID, storeID, source)
	return b.run(ctx, db, "unsubscribe customer")
}
