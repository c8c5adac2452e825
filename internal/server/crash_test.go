package server

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/slogtest"
	"github.com/remarket/remarket/internal/store"
)

// TestMain doubles as the child web server of TestKilledDuringBurst.
func TestMain(m *testing.M) {
	if url := os.Getenv("REMARKET_CRASH_CHILD_DB"); url != "" {
		runChild(url)
		return
	}
	os.Exit(m.Run())
}

// runChild serves webhooks (no workers) until it is killed.
func runChild(url string) {
	ctx := context.Background()
	pool, err := store.Open(ctx, url)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	srv, err := New(Params{Pool: pool, Role: RoleWeb, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("listening", srv.Addr())
	select {}
}

// TestKilledDuringBurst kills the web server with SIGKILL in the middle of a
// burst: every delivery that was answered 2xx must be stored with its job,
// and a worker started afterwards must process them all.
func TestKilledDuringBurst(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewURL(t)
	st, err := store.StoreInsert(context.Background(), pool, store.Store{Name: "burst", Platform: "generic", Domain: "burst.example",
		WebhookSecret: "burst-secret", Timezone: "UTC", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "REMARKET_CRASH_CHILD_DB="+url)
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill() //nolint:errcheck
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		t.Fatalf("child: %q", line)
	}

	acked := burst(t, "http://"+addr+fmt.Sprintf("/webhooks/generic/%d", st.ID), st.WebhookSecret, func() {
		_ = child.Process.Kill()
	})
	_ = child.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d deliveries acknowledged before the kill; the burst was too short to test anything", len(acked))
	}
	for _, id := range acked {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox i JOIN river_job j
    ON j.kind = 'process_delivery' AND (j.args->'inbox_ids' @> to_jsonb(i.id) OR (j.args->>'inbox_id')::bigint = i.id)
WHERE i.dedupe_key = $1`, "generic:event:"+id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("acknowledged delivery %s: %d stored rows with a job, want 1", id, n)
		}
	}
	// A worker started after the crash processes everything that was stored.
	srv, err := New(Params{Pool: pool, Role: RoleWorker, Logger: slogtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck
	b := &bundle{pool: pool}
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM inbox WHERE status <> 'processed'`); n != 0 {
		t.Errorf("%d deliveries not processed after the restart", n)
	}
	if n := b.count(t, `SELECT count(*) FROM orders`); n < len(acked) {
		t.Errorf("%d orders stored, want at least the %d acknowledged", n, len(acked))
	}
	t.Logf("%d deliveries acknowledged before SIGKILL, all stored and processed", len(acked))
}

// burst posts distinct orders from 16 clients and calls kill once 200 have
// been acknowledged; it returns the event ids that got a 2xx.
func burst(t *testing.T, url, secret string, kill func()) []string {
	t.Helper()
	var mu sync.Mutex
	var acked []string
	var once sync.Once
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"type":"order","order":{"id":%q,"created_at":"2025-01-01T00:00:00Z","currency":"EUR","status":"paid",
"customer":{"email":"%s@example.com"},"lines":[{"product_id":"p1","quantity":1,"price":"9.99"}]}}`, id, id)
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(ingest.GenericEventID, id)
				req.Header.Set(ingest.GenericSignature, ingest.SignGeneric(secret, []byte(body)))
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					mu.Lock()
					acked = append(acked, id)
					if len(acked) == 200 {
						once.Do(kill)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return acked
}
