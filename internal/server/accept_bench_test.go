package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/store"
)

// BenchmarkAccept measures accepted Shopify orders/create webhooks per second
// (HTTP, HMAC, inbox row and River job committed) at concurrency 1, 16 and
// 64, beside the same server's raw rate for a one-row INSERT and commit at
// the same concurrency, measured in the same run. ratio = accepted / raw.
//
//	go test ./internal/server -run XXX -bench Accept -benchtime 1x
func BenchmarkAccept(b *testing.B) {
	fx := loadFixture(b, "shopify", "orders_create.exact_ids")
	pool := dbtest.New(b)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE raw_insert (id bigserial PRIMARY KEY, body bytea)`); err != nil {
		b.Fatal(err)
	}
	st, err := store.StoreInsert(context.Background(), pool, store.Store{Name: "bench", Platform: "shopify",
		Domain: "bench.myshopify.com", WebhookSecret: fx.Secret, Timezone: "UTC", Currency: "USD"})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Params{Pool: pool, Role: RoleWeb, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck
	post := poster("http://"+srv.Addr()+"/webhooks/shopify", st.Domain, fx)
	raw := rawInsert(pool, fx.Body)
	const perRun = 4000
	for _, c := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
			var rawRate, accRate float64
			for range b.N {
				rawRate = rate(perRun, c, raw)
				accRate = rate(perRun, c, post)
			}
			b.ReportMetric(accRate, "accepted/s")
			b.ReportMetric(rawRate, "raw-insert/s")
			b.ReportMetric(accRate/rawRate, "ratio")
		})
	}
	b.Run("p99-at-1000rps", func(b *testing.B) {
		var p99 time.Duration
		for range b.N {
			p99 = paced(1000, 3*time.Second, post)
		}
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	})
}

var seq atomic.Int64

// poster returns a function that posts one signed delivery with a new id.
func poster(url, domain string, fx fixture) func() error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	return func() error {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(fx.Body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(ingest.ShopifyDomain, domain)
		req.Header.Set(ingest.ShopifyTopic, "orders/create")
		req.Header.Set(ingest.ShopifyHMAC, fx.Signature)
		req.Header.Set(ingest.ShopifyWebhookID, fmt.Sprintf("bench-%d", seq.Add(1)))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// rawInsert is the floor: one row of the same body, inserted and committed.
func rawInsert(pool *pgxpool.Pool, body []byte) func() error {
	return func() error {
		_, err := pool.Exec(context.Background(), `INSERT INTO raw_insert (body) VALUES ($1)`, body)
		return err
	}
}

// rate runs n calls of fn from c goroutines and returns calls per second.
func rate(n, c int, fn func() error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := fn(); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// paced calls fn at a fixed rate (an open loop, as webhooks arrive) and
// returns the 99th percentile latency.
func paced(perSecond int, d time.Duration, fn func() error) time.Duration {
	interval := time.Second / time.Duration(perSecond)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(interval)
	defer tick.Stop()
	end := time.Now().Add(d)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if err := fn(); err != nil {
				panic(err)
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*99/100]
}
