package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The product statistics are kept by SQL functions (migration 14): each
// order-processing transaction calls remarket_stats_sync last, so the
// statistics change with the orders, in the same commit.

const statsSyncSQL = `SELECT remarket_stats_sync($1)`

// QueueStatsSync adds the statistics update for what the transaction wrote
// to the store's orders to a batch; it must come after those writes.
func QueueStatsSync(pb *pgx.Batch, storeID int64) { pb.Queue(statsSyncSQL, storeID) }

// StatsSync updates the store's statistics for the orders the transaction
// db wrote. Outside a transaction it does nothing useful.
func StatsSync(ctx context.Context, db DB, storeID int64) error {
	if _, err := db.Exec(ctx, statsSyncSQL, storeID); err != nil {
		return fmt.Errorf("update product statistics: %w", err)
	}
	return nil
}

// IsStatsRebuilding reports whether err is a statistics update refused
// because a rebuild of the store's statistics is running (SQLSTATE RMS01):
// the transaction is rolled back and should be retried after the rebuild,
// without counting as a failure.
func IsStatsRebuilding(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "RMS01"
}

// StatsRebuildLock is the advisory lock (two-key form: this, the store id)
// that remarket_stats_rebuild holds and remarket_stats_sync tries shared
// (migration 16).
const StatsRebuildLock = 21317

// StatsRebuildingFor reports whether a statistics rebuild is running for a
// store of these inbox deliveries: it holds the store's StatsRebuildLock
// (two-key advisory locks show in pg_locks as classid, objid, objsubid 2).
func StatsRebuildingFor(ctx context.Context, db DB, inboxIDs []int64) (bool, error) {
	var busy bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inbox i JOIN pg_locks l ON l.locktype = 'advisory'
    AND l.classid = $2 AND l.objid = i.store_id AND l.objsubid = 2 AND l.mode = 'ExclusiveLock' AND l.granted
WHERE i.id = ANY($1))`, inboxIDs, StatsRebuildLock).Scan(&busy)
	if err != nil {
		return false, fmt.Errorf("look for a statistics rebuild: %w", err)
	}
	return busy, nil
}

// StatsFoldLock keeps a fold and a rebuild apart (one-key form): a fold
// takes it alone, each rebuild shared. Without it a fold could add totals
// that a concurrent rebuild's delete did not see, and its insert would then
// collide with them.
const StatsFoldLock = 21320

// StatsFold adds pending statistics changes into the totals and returns how
// many rows it touched. While a rebuild runs it folds nothing and returns
// 0: the next fold takes the changes.
func StatsFold(ctx context.Context, db TxStarter) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, StatsFoldLock).Scan(&free); err != nil || !free {
			return err
		}
		return tx.QueryRow(ctx, `SELECT remarket_stats_fold()`).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("fold product statistics: %w", err)
	}
	return n, nil
}

// StatsRebuild recomputes the store's statistics from its stored orders in
// one transaction. Meanwhile the store's statistics updates fail at once
// (IsStatsRebuilding) instead of waiting, and folds wait for the next turn.
func StatsRebuild(ctx context.Context, db TxStarter, storeID int64) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, StatsFoldLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT remarket_stats_rebuild($1)`, storeID)
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild product statistics of store %d: %w", storeID, err)
	}
	return nil
}

// TxStarter begins transactions: a pool or a connection.
type TxStarter interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ProductStats are a product's statistics as of now.
type ProductStats struct {
	ProductID      int64    `json:"product_id"`
	Orders         int64    `json:"orders"`
	Units          int64    `json:"units"`
	Buyers         int64    `json:"buyers"`
	RepeatBuyers   int64    `json:"repeat_buyers"`
	RepurchaseDays *float64 `json:"repurchase_days"` // mean days between one customer's orders of it (to 0.001: sums kept in two orders differ in the last bits); nil: nobody bought it twice
	Category       string   `json:"category"`
	PricePosition  *float64 `json:"price_position"` // 0 the cheapest of its category, 1 the dearest; nil without category or price
	BoughtWith     []Pair   `json:"bought_with"`
	// SameCustomers are the products most customers who bought this one
	// also bought, in any of their orders.
	SameCustomers []HistoryPair `json:"same_customers"`
}

// Pair is a product bought in the same orders as another.
type Pair struct {
	ProductID int64  `json:"product_id"`
	Title     string `json:"title"`
	Orders    int64  `json:"orders"`
}

// HistoryPair is a product bought by the same customers as another, in the
// same order or not.
type HistoryPair struct {
	ProductID int64  `json:"product_id"`
	Title     string `json:"title"`
	Customers int64  `json:"customers"`
}

// ErrNoStats is returned for a product no counted order holds.
var ErrNoStats = errors.New("no counted order holds this product")

const productStatsSQL = `SELECT s.orders, s.units, s.buyers, s.repeat_buyers, round(s.repurchase_days::numeric, 3)::float8, p.category,
    pp.price_position
FROM product_stats_now s JOIN products p ON p.id = s.product_id
LEFT JOIN product_price_position pp ON pp.product_id = s.product_id
WHERE s.store_id = $1 AND s.product_id = $2 AND s.orders > 0`

const boughtWithSQL = `SELECT x.other, p.title, x.orders FROM (
    SELECT CASE WHEN product_a = $2 THEN product_b ELSE product_a END AS other, orders
    FROM pair_stats_now WHERE store_id = $1 AND (product_a = $2 OR product_b = $2)) x
JOIN products p ON p.id = x.other
ORDER BY x.orders DESC, x.other LIMIT $3`

const sameCustomersSQL = `SELECT h.product_b, p.title, h.customers
FROM history_pair_stats_now h JOIN products p ON p.id = h.product_b
WHERE h.store_id = $1 AND h.product_a = $2
ORDER BY h.customers DESC, h.product_b LIMIT $3`

// ProductStatsGet returns a product's statistics with the top products
// bought in the same orders, and by the same customers.
func ProductStatsGet(ctx context.Context, db DB, storeID, productID int64, top int) (ProductStats, error) {
	s := ProductStats{ProductID: productID}
	err := db.QueryRow(ctx, productStatsSQL, storeID, productID).Scan(&s.Orders, &s.Units, &s.Buyers, &s.RepeatBuyers,
		&s.RepurchaseDays, &s.Category, &s.PricePosition)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrNoStats
	}
	if err != nil {
		return s, fmt.Errorf("product statistics: %w", err)
	}
	rows, err := db.Query(ctx, boughtWithSQL, storeID, productID, top)
	if err != nil {
		return s, fmt.Errorf("product statistics: %w", err)
	}
	s.BoughtWith, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Pair])
	if err != nil {
		return s, fmt.Errorf("product statistics: %w", err)
	}
	rows, err = db.Query(ctx, sameCustomersSQL, storeID, productID, top)
	if err != nil {
		return s, fmt.Errorf("product statistics: %w", err)
	}
	s.SameCustomers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[HistoryPair])
	if err != nil {
		return s, fmt.Errorf("product statistics: %w", err)
	}
	return s, nil
}
