package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/remarket/remarket/internal/store"
)

// DeliveryArgs is the River job that processes stored deliveries: the ones
// one group commit accepted together, or one replayed delivery. One job per
// commit rather than per delivery lets a burst be processed in few
// transactions and round trips.
type DeliveryArgs struct {
	InboxID  int64   `json:"inbox_id,omitempty"`
	InboxIDs []int64 `json:"inbox_ids,omitempty"`
}

// IDs lists every delivery the job covers.
func (a DeliveryArgs) IDs() []int64 {
	if a.InboxID != 0 {
		return append([]int64{a.InboxID}, a.InboxIDs...)
	}
	return a.InboxIDs
}

// Kind is stable: renaming it would orphan queued jobs.
func (DeliveryArgs) Kind() string { return "process_delivery" }

// InsertOpts keeps delivery jobs in their own queue so that email sends and
// bulk jobs never starve ingestion.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueIngest, MaxAttempts: 10}
}

// QueueIngest is the queue delivery jobs run on.
const QueueIngest = "ingest"

// Accepted is the outcome of Accept.
type Accepted struct {
	InboxID   int64 // 0 for a duplicate
	Duplicate bool
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("accepter is closed")

// Accepter stores deliveries durably, each with its job, before they are
// acknowledged. Deliveries that queue up while the committers are busy share
// one transaction (group commit): each is still answered only after the
// commit that holds its row and job, but one commit's fsync serves many
// requests, which is what lets a busy store's burst through. An idle
// accepter commits a lone delivery at once; a positive Window makes a batch
// wait that long for company instead.
type Accepter struct {
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	log    *slog.Logger
	queue  chan *pending
	window time.Duration
	max    int
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
}

type pending struct {
	d    store.Delivery
	done chan result
}

type result struct {
	acc Accepted
	err error
}

// AccepterParams configures NewAccepter.
type AccepterParams struct {
	Pool       *pgxpool.Pool
	River      *river.Client[pgx.Tx] // an insert-only client will do
	Logger     *slog.Logger
	Committers int           // concurrent transactions; default 4
	Window     time.Duration // how long a batch waits for company; default 0: take what is queued
	MaxBatch   int           // default 128
}

// NewAccepter starts the committers. Close stops them.
func NewAccepter(p AccepterParams) *Accepter {
	if p.Committers <= 0 {
		p.Committers = 4
	}
	if p.MaxBatch <= 0 {
		p.MaxBatch = 128
	}
	a := &Accepter{pool: p.Pool, river: p.River, log: p.Logger, queue: make(chan *pending, p.MaxBatch*p.Committers),
		window: p.Window, max: p.MaxBatch}
	for range p.Committers {
		a.wg.Add(1)
		go a.commitLoop()
	}
	return a
}

// Accept stores d and its job and returns once they are committed, or with
// the error that kept them from being stored.
func (a *Accepter) Accept(ctx context.Context, d store.Delivery) (Accepted, error) {
	p := &pending{d: d, done: make(chan result, 1)}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return Accepted{}, ErrClosed
	}
	select {
	case a.queue <- p:
	case <-ctx.Done():
		a.mu.RUnlock()
		return Accepted{}, ctx.Err()
	}
	a.mu.RUnlock()
	// Once queued the delivery will be committed or fail; wait for that even
	// if the client goes away, so that the outcome is logged truthfully.
	r := <-p.done
	return r.acc, r.err
}

// Close lets queued deliveries commit, then stops the committers.
func (a *Accepter) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *Accepter) commitLoop() {
	defer a.wg.Done()
	for first := range a.queue {
		batch := a.collect(first)
		a.commit(batch)
	}
}

// collect gathers what is queued behind the first delivery, or, with a
// window, what arrives within it.
func (a *Accepter) collect(first *pending) []*pending {
	batch := []*pending{first}
	if a.window <= 0 {
		for len(batch) < a.max {
			select {
			case p, ok := <-a.queue:
				if !ok {
					return batch
				}
				batch = append(batch, p)
			default:
				return batch
			}
		}
		return batch
	}
	timer := time.NewTimer(a.window)
	defer timer.Stop()
	for len(batch) < a.max {
		select {
		case p, ok := <-a.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

func (a *Accepter) commit(batch []*pending) {
	ds := make([]store.Delivery, len(batch))
	for i, p := range batch {
		ds[i] = p.d
	}
	var ids []int64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var err error
		if ids, err = store.InboxInsert(ctx, tx, ds); err != nil {
			return err
		}
		return a.insertJobs(ctx, tx, ids)
	})
	if err != nil {
		a.log.Error("store deliveries", "count", len(batch), "error", err)
		err = fmt.Errorf("store delivery: %w", err)
	}
	for i, p := range batch {
		if err != nil {
			p.done <- result{err: err}
			continue
		}
		p.done <- result{acc: Accepted{InboxID: ids[i], Duplicate: ids[i] == 0}}
	}
}

// insertJobs enqueues one job for all the new deliveries of a commit.
func (a *Accepter) insertJobs(ctx context.Context, tx pgx.Tx, ids []int64) error {
	var fresh []int64
	for _, id := range ids {
		if id != 0 {
			fresh = append(fresh, id)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := a.river.InsertTx(ctx, tx, DeliveryArgs{InboxIDs: fresh}, nil); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}
