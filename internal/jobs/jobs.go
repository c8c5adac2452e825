// Package jobs holds remarket's River workers: thin wrappers that open the
// transaction, call the service that does the work, and finish the job in
// that same transaction so that its effects and its completion commit together.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/store"
)

// Workers registers every worker. campaigns may be nil in a process that
// cannot send email; its send jobs then wait, saying why.
func Workers(pool *pgxpool.Pool, campaigns *campaign.Service, log *slog.Logger) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &DeliveryWorker{Pool: pool, Log: log})
	river.AddWorker(w, &AbandonSweepWorker{Pool: pool})
	river.AddWorker(w, &SendBatchWorker{Campaigns: campaigns, Log: log})
	return w
}

// SendBatchWorker sends one range of a campaign.
type SendBatchWorker struct {
	river.WorkerDefaults[campaign.SendBatchArgs]
	Campaigns *campaign.Service
	Log       *slog.Logger
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
		river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return AbandonSweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
}

// DeliveryWorker processes one stored webhook delivery.
type DeliveryWorker struct {
	river.WorkerDefaults[ingest.DeliveryArgs]
	Pool *pgxpool.Pool
	Log  *slog.Logger
}

// giveUpAttempt is when a delivery that keeps waiting (a refund whose order
// never came) is marked failed, so that it shows in `inbox list --failed`.
const giveUpAttempt = 8

// Work runs the delivery in one transaction with its inbox status and the
// job's completion: it is processed exactly once even if the job runs twice.
func (w *DeliveryWorker) Work(ctx context.Context, job *river.Job[ingest.DeliveryArgs]) error {
	return pgx.BeginFunc(ctx, w.Pool, func(tx pgx.Tx) error {
		// The delivery is already durable, and this transaction also holds
		// the job's completion: if a crash loses the commit, both are lost
		// together and the job runs again. So it need not wait for its WAL
		// flush, which otherwise bounds processing to the disk's fsync rate.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		d, err := store.InboxGetForUpdate(ctx, tx, job.Args.InboxID)
		if errors.Is(err, store.ErrNotFound) {
			return river.JobCancel(err)
		}
		if err != nil {
			return err
		}
		if d.Status != store.InboxPending {
			return complete(ctx, tx, job)
		}
		out, err := ingest.Process(ctx, tx, d)
		if err != nil {
			if job.Attempt < giveUpAttempt {
				return err
			}
			out = ingest.Outcome{Status: store.InboxFailed, Reason: err.Error()}
		}
		if out.Status == store.InboxFailed {
			w.Log.WarnContext(ctx, "delivery failed", "inbox_id", d.ID, "store_id", d.StoreID, "reason", out.Reason)
		}
		if err := store.InboxFinish(ctx, tx, d.ID, out.Status, out.Reason); err != nil {
			return err
		}
		return complete(ctx, tx, job)
	})
}

// complete marks the job done inside tx. A savepoint-free River requires the
// whole transaction to roll back on error, which BeginFunc does.
func complete[T river.JobArgs](ctx context.Context, tx pgx.Tx, job *river.Job[T]) error {
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
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
