package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/remarket/remarket/internal/store"
)

// StatsFoldArgs adds the product statistics' pending changes into their
// totals, so the deltas that order processing appends stay few.
type StatsFoldArgs struct{}

// Kind is stable.
func (StatsFoldArgs) Kind() string { return "stats_fold" }

// InsertOpts: once per period across leaders; a fold missed is done by the
// next one.
func (StatsFoldArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: statsFoldEvery}}
}

// statsFoldEvery is short: readers sum the deltas until they are folded.
const statsFoldEvery = 30 * time.Second

// StatsFoldWorker folds.
type StatsFoldWorker struct {
	river.WorkerDefaults[StatsFoldArgs]
	Pool *pgxpool.Pool
}

// Work folds every store's deltas.
func (w *StatsFoldWorker) Work(ctx context.Context, _ *river.Job[StatsFoldArgs]) error {
	_, err := store.StatsFold(ctx, w.Pool)
	return err
}

// StatsRebuildArgs recomputes a store's product statistics from its stored
// orders, after an import.
type StatsRebuildArgs struct {
	StoreID int64 `json:"store_id"`
}

// Kind is stable.
func (StatsRebuildArgs) Kind() string { return "stats_rebuild" }

// InsertOpts: a rebuild is not worth retrying for days.
func (StatsRebuildArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// StatsRebuildWorker rebuilds.
type StatsRebuildWorker struct {
	river.WorkerDefaults[StatsRebuildArgs]
	Pool *pgxpool.Pool
}

// Work rebuilds the store's statistics in one transaction.
func (w *StatsRebuildWorker) Work(ctx context.Context, job *river.Job[StatsRebuildArgs]) error {
	return store.StatsRebuild(ctx, w.Pool, job.Args.StoreID)
}

// Timeout: a large store's pairs take about a minute (Online Retail: 43 s).
func (w *StatsRebuildWorker) Timeout(*river.Job[StatsRebuildArgs]) time.Duration {
	return 30 * time.Minute
}
