package store

import (
	"context"
	"fmt"
)

// ChangeHorizon returns the oldest transaction still running when the
// caller's snapshot was taken (pg_snapshot_xmin): every order or product
// changed by an older transaction is committed and visible to it, or never
// will be. Read it in the same snapshot as the rows it vouches for (a
// repeatable-read transaction); a later OrdersChangedSince(horizon) then
// returns everything committed since, late committers included.
func ChangeHorizon(ctx context.Context, db DB) (uint64, error) {
	var h uint64
	if err := db.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&h); err != nil {
		return 0, fmt.Errorf("change horizon: %w", err)
	}
	return h, nil
}

// OrderChanged is what every statement that changes an order sets, in
// its SET list: the time, and the transaction that OrdersChangedSince (the
// served models) and remarket_stats_sync (the statistics) follow. Inserts
// get both by default.
const OrderChanged = "updated_at = now(), changed_xid = pg_current_xact_id()"

// OrderChange is an order written at or after a horizon: by the transaction
// that created it (Created) and the one that last changed it (Changed).
type OrderChange struct {
	ID               int64
	Created, Changed uint64
}

// OrdersChangedSince lists a store's orders written by transactions at or
// after horizon, oldest change first.
func OrdersChangedSince(ctx context.Context, db DB, storeID int64, horizon uint64) ([]OrderChange, error) {
	rows, err := db.Query(ctx, `SELECT id, created_xid::text::bigint, changed_xid::text::bigint FROM orders
WHERE store_id = $1 AND changed_xid >= $2::bigint::text::xid8 ORDER BY changed_xid, id`, storeID, horizon)
	if err != nil {
		return nil, fmt.Errorf("orders changed in store %d: %w", storeID, err)
	}
	defer rows.Close()
	var out []OrderChange
	for rows.Next() {
		var c OrderChange
		if err := rows.Scan(&c.ID, &c.Created, &c.Changed); err != nil {
			return nil, fmt.Errorf("orders changed in store %d: %w", storeID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
