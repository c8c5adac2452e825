package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/store"
)

// BenchmarkProcessOrders measures orders processed per second by the
// workers: deliveries already stored with their jobs (as the accepter leaves
// them) are worked until none is pending. "single" is one order per
// delivery, as Shopify and WooCommerce send them, with one job per 16
// deliveries as the accepter's group commits make under load; "single-1job"
// gives each delivery its own job (a replay, or a quiet store); "batch100"
// is the generic batch form. The baseline is River working the same number
// of no-op jobs on the same queue settings in the same run.
//
//	go test ./internal/server -run XXX -bench ProcessOrders -benchtime 1x
func BenchmarkProcessOrders(b *testing.B) {
	const orders = 10000
	for _, c := range []struct {
		name                string
		perDelivery, perJob int
	}{{"single", 1, 16}, {"single-1job", 1, 1}, {"batch100", 100, 1}} {
		b.Run(c.name, func(b *testing.B) {
			var rate, noop float64
			for range b.N {
				noop = noopJobRate(b, orders/c.perDelivery/c.perJob)
				rate = processRate(b, orders, c.perDelivery, c.perJob)
			}
			b.ReportMetric(rate, "orders/s")
			b.ReportMetric(noop, "noop-jobs/s")
		})
	}
}

func processRate(b *testing.B, orders, perDelivery, perJob int) float64 {
	pool := dbtest.New(b)
	st, err := store.StoreInsert(context.Background(), pool, store.Store{Name: "p", Platform: "generic", Domain: "p.example",
		WebhookSecret: "secret-secret", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		b.Fatal(err)
	}
	var ds []store.Delivery
	for i := 0; i < orders; i += perDelivery {
		var evs []string
		for j := i; j < i+perDelivery; j++ {
			evs = append(evs, benchOrder(j))
		}
		body := "[" + strings.Join(evs, ",") + "]"
		ds = append(ds, store.Delivery{StoreID: st.ID, Platform: "generic", Topic: "generic", DedupeKey: fmt.Sprint(i), Body: []byte(body)})
	}
	insertOnly, _ := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	err = pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		ids, err := store.InboxInsert(context.Background(), tx, ds)
		if err != nil {
			return err
		}
		var params []river.InsertManyParams
		for i := 0; i < len(ids); i += perJob {
			params = append(params, river.InsertManyParams{Args: ingest.DeliveryArgs{InboxIDs: ids[i:min(i+perJob, len(ids))]}})
		}
		_, err = insertOnly.InsertManyFastTx(context.Background(), tx, params)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Params{Pool: pool, Role: RoleWorker, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now() // River starts fetching as Start returns
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck
	waitNone(b, pool, `SELECT count(*) FROM inbox WHERE status = 'pending'`)
	elapsed := time.Since(start)
	var n int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n)
	if n != orders {
		b.Fatalf("%d orders stored, want %d", n, orders)
	}
	return float64(orders) / elapsed.Seconds()
}

func benchOrder(i int) string {
	return fmt.Sprintf(`{"type":"order","order":{"id":"%d","created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z",
"currency":"EUR","status":"paid","customer":{"id":"c%d","email":"c%d@example.com","first_name":"Ann","consent":"subscribed"},
"lines":[{"id":"1","product_id":"p%d","title":"Thing %d","quantity":1,"price":"9.99"},
{"id":"2","product_id":"p%d","title":"Thing %d","quantity":2,"price":"4.50"}]}}`, i, i%1500, i%1500, i%97, i%97, i%31+100, i%31)
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

func (noopArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: ingest.QueueIngest} }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// noopJobRate is River's own floor on this machine: n trivial jobs with the
// same queue and worker count as the ingest queue.
func noopJobRate(b *testing.B, n int) float64 {
	pool := dbtest.New(b)
	w := river.NewWorkers()
	river.AddWorker(w, noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: w, Logger: slog.New(slog.DiscardHandler),
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 200 * time.Millisecond,
		Queues: map[string]river.QueueConfig{ingest.QueueIngest: {MaxWorkers: 50}}})
	if err != nil {
		b.Fatal(err)
	}
	params := make([]river.InsertManyParams, n)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{}}
	}
	if _, err := client.InsertManyFast(context.Background(), params); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := client.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer client.Stop(context.Background()) //nolint:errcheck
	waitNone(b, pool, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`)
	return float64(n) / time.Since(start).Seconds()
}

func waitNone(b *testing.B, pool *pgxpool.Pool, sql string) {
	for {
		var n int
		if err := pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
