// Package jobs holds remarket's River workers: thin wrappers that open the
// transaction, call the service that does the work, and finish the job in
// that same transaction so that its effects and its completion commit together.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/recs"
	"github.com/remarket/remarket/internal/store"
)

// Workers registers every worker. campaigns may be nil in a process that
// cannot send email; its send jobs then wait, saying why.
func Workers(pool *pgxpool.Pool, campaigns *campaign.Service, log *slog.Logger) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &DeliveryWorker{Pool: pool, Log: log})
	river.AddWorker(w, &AbandonSweepWorker{Pool: pool})
	river.AddWorker(w, &SendBatchWorker{Campaigns: campaigns, Log: log})
	river.AddWorker(w, &AnalyzeWorker{Pool: pool})
	river.AddWorker(w, &RecsRebuildWorker{Campaigns: campaigns})
	river.AddWorker(w, &StatsFoldWorker{Pool: pool})
	river.AddWorker(w, &StatsRebuildWorker{Pool: pool})
	return w
}

// SendBatchWorker sends one range of a campaign.
type SendBatchWorker struct {
	river.WorkerDefaults[campaign.SendBatchArgs]
	Campaigns *campaign.Service
	Log       *slog.Logger
}

// Timeout: River's default minute is too short for a batch of recipients
// behind a send rate limit (see campaign.Service.JobTimeout); each SMTP
// conversation has its own timeout.
func (w *SendBatchWorker) Timeout(job *river.Job[campaign.SendBatchArgs]) time.Duration {
	if w.Campaigns == nil {
		return time.Hour
	}
	return w.Campaigns.JobTimeout(job.Args)
}

// Work sends the range; without SMTP it waits and retries later instead of
// dropping the campaign.
func (w *SendBatchWorker) Work(ctx context.Context, job *river.Job[campaign.SendBatchArgs]) error {
	if w.Campaigns == nil || w.Campaigns.Sender == nil {
		w.Log.ErrorContext(ctx, "cannot send campaign email: no SMTP server configured (set REMARKET_SMTP_URL and restart)",
			"campaign_id", job.Args.CampaignID)
		return river.JobSnooze(time.Minute)
	}
	return w.Campaigns.SendBatch(ctx, job.Args, job.Attempt >= job.MaxAttempts)
}

// PeriodicJobs returns the jobs the leader schedules.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return AnalyzeArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return AbandonSweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(statsFoldEvery),
			func() (river.JobArgs, *river.InsertOpts) { return StatsFoldArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
}

// DeliveryWorker processes one stored webhook delivery.
type DeliveryWorker struct {
	river.WorkerDefaults[ingest.DeliveryArgs]
	Pool *pgxpool.Pool
	Log  *slog.Logger
}

// statsRebuildSnooze is how long a delivery job waits when a statistics
// rebuild of its store is running (about a minute on a large store).
const statsRebuildSnooze = 5 * time.Second

// giveUpAttempt is when a delivery that keeps waiting (a refund whose order
// never came) is marked failed, so that it shows in `inbox list --failed`.
const giveUpAttempt = 8

// Work processes the job's deliveries in one transaction. If that fails,
// one delivery is to blame (a refund ahead of its order, say): each is then
// processed alone, and those that still fail get a job of their own, which
// River retries with backoff. A delivery already processed is skipped, so a
// job that runs twice changes nothing.
func (w *DeliveryWorker) Work(ctx context.Context, job *river.Job[ingest.DeliveryArgs]) error {
	ids := job.Args.IDs()
	// Snoozed for a rebuild before: ask whether it still runs before doing
	// all the writes again only to roll them back (one query, and only for
	// such jobs; the first try learns it from the statistics update).
	if snoozed(job.Metadata) {
		busy, err := store.StatsRebuildingFor(ctx, w.Pool, ids)
		if err != nil {
			return err
		}
		if busy {
			return river.JobSnooze(statsRebuildSnooze)
		}
	}
	err := w.process(ctx, ids, len(ids) == 1 && job.Attempt >= giveUpAttempt)
	if store.IsStatsRebuilding(err) {
		// Nothing is wrong with the deliveries: wait for the rebuild
		// without using an attempt.
		return river.JobSnooze(statsRebuildSnooze)
	}
	if err == nil || len(ids) == 1 {
		return err
	}
	var failed []river.InsertManyParams
	for _, id := range ids {
		if err := w.process(ctx, []int64{id}, false); err != nil {
			w.Log.InfoContext(ctx, "delivery deferred", "inbox_id", id, "error", err)
			failed = append(failed, river.InsertManyParams{Args: ingest.DeliveryArgs{InboxID: id}})
		}
	}
	if len(failed) == 0 {
		return nil
	}
	_, err = river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, failed)
	return err
}

// snoozed reports whether River's metadata counts a snooze of the job.
func snoozed(metadata []byte) bool {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	return json.Unmarshal(metadata, &m) == nil && m.Snoozes > 0
}

// NextRetry retries a delivery that failed alone quickly at first (1, 2, 4
// and 8 s): most are a refund or an update that came a moment before its
// order, whose job is running beside it. Later attempts follow River's
// slower schedule (attempt⁴ seconds), so one waiting for a late webhook
// has about an hour before it is marked failed.
func (w *DeliveryWorker) NextRetry(job *river.Job[ingest.DeliveryArgs]) time.Time {
	if job.Attempt <= quickRetries {
		return time.Now().Add(time.Second << (job.Attempt - 1))
	}
	return time.Time{} // the client's policy
}

// quickRetries is how many retries come within seconds.
const quickRetries = 4

// process runs deliveries in one transaction that does not wait for its WAL
// flush: the deliveries are already durable, and if a crash loses the
// commit they are still pending and their job runs again.
func (w *DeliveryWorker) process(ctx context.Context, ids []int64, giveUp bool) error {
	opts := pgx.TxOptions{BeginQuery: "BEGIN; SET LOCAL synchronous_commit = off"}
	return pgx.BeginTxFunc(ctx, w.Pool, opts, func(tx pgx.Tx) error {
		ds, err := store.InboxPendingForUpdate(ctx, tx, ids)
		if err != nil || len(ds) == 0 {
			return err
		}
		return ingest.ProcessMany(ctx, tx, ds, giveUp)
	})
}

// AbandonSweepArgs marks checkouts left open for an hour as abandoned.
type AbandonSweepArgs struct{}

// Kind is stable.
func (AbandonSweepArgs) Kind() string { return "abandon_sweep" }

// InsertOpts makes the sweep unique per period: periodic jobs come from the
// leader's in-memory timer, and a leader change must not run it twice.
func (AbandonSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 5 * time.Minute}}
}

// AbandonAfterMinutes is how long a checkout stays open before it counts as abandoned.
const AbandonAfterMinutes = 60

// AbandonSweepWorker runs the sweep.
type AbandonSweepWorker struct {
	river.WorkerDefaults[AbandonSweepArgs]
	Pool *pgxpool.Pool
}

// Work marks the checkouts.
func (w *AbandonSweepWorker) Work(ctx context.Context, _ *river.Job[AbandonSweepArgs]) error {
	_, err := store.CheckoutsMarkAbandoned(ctx, w.Pool, AbandonAfterMinutes)
	return err
}

// AnalyzeArgs refreshes the planner's statistics.
type AnalyzeArgs struct{}

// Kind is stable.
func (AnalyzeArgs) Kind() string { return "analyze_tables" }

// InsertOpts: once per period across leaders.
func (AnalyzeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 10 * time.Minute}}
}

// AnalyzeWorker keeps statistics fresh as a store's tables grow, so that
// queries keep their index plans even where autovacuum is off or behind.
type AnalyzeWorker struct {
	river.WorkerDefaults[AnalyzeArgs]
	Pool *pgxpool.Pool
}

// Work analyzes the tables.
func (w *AnalyzeWorker) Work(ctx context.Context, _ *river.Job[AnalyzeArgs]) error {
	return store.AnalyzeTables(ctx, w.Pool)
}

// RecsRebuildArgs retrains a store's recommendation model in the worker.
type RecsRebuildArgs struct {
	StoreID int64 `json:"store_id"`
}

// Kind is stable.
func (RecsRebuildArgs) Kind() string { return "recs_rebuild" }

// InsertOpts: a rebuild is not worth retrying for days.
func (RecsRebuildArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// RecsRebuildWorker trains the store's model from all its stored orders, so
// that the serving process answers from it at once (after an import, say).
type RecsRebuildWorker struct {
	river.WorkerDefaults[RecsRebuildArgs]
	Campaigns *campaign.Service
}

// Work rebuilds the model.
func (w *RecsRebuildWorker) Work(ctx context.Context, job *river.Job[RecsRebuildArgs]) error {
	if w.Campaigns == nil || w.Campaigns.Composer == nil {
		return river.JobCancel(fmt.Errorf("this process serves no recommendations"))
	}
	r, ok := w.Campaigns.Composer.Recs.(*recs.Service)
	if !ok {
		return river.JobCancel(fmt.Errorf("this process serves no recommendation models"))
	}
	_, err := r.Rebuild(ctx, job.Args.StoreID)
	return err
}

// Timeout: training a large store takes longer than River's default minute.
func (w *RecsRebuildWorker) Timeout(*river.Job[RecsRebuildArgs]) time.Duration {
	return 30 * time.Minute
}
