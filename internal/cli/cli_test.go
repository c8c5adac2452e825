package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/server"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/store"
)

type result struct {
	code           int
	stdout, stderr string
}

// run executes the CLI in-process with the given environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"store", "list", "--jsno"}, nil, "unknown flag: --jsno"},
		{[]string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{[]string{"campaign", "craete"}, nil, `unknown command "craete" for "remarket campaign" (did you mean create?)`},
		{[]string{"recs", "shw"}, nil, `unknown command "shw" for "remarket recs"`},
		{[]string{"store", "list"}, map[string]string{"REMARKET_HTTP_ADDR": "8080"}, "REMARKET_HTTP_ADDR"},
		{[]string{"store", "list", "--database-url", "mysql://x"}, nil, "REMARKET_DATABASE_URL"},
		{[]string{"serve", "--role", "cook"}, nil, `--role "cook"`},
		{[]string{"serve"}, nil, "REMARKET_SECRET is not set"},
		{[]string{"store", "add", "--name", "x", "--platform", "magento", "--domain", "x.example", "--webhook-secret", "12345678"}, nil, `--platform "magento"`},
		{[]string{"inbox", "replay"}, nil, "give one delivery id or --failed"},
		{[]string{"import", "orders", "--format", "xls", "f.csv"}, nil, `--format "xls"`},
		{[]string{"order", "list", "--since", "yesterday"}, nil, `date "yesterday"`},
		{[]string{"store", "list", "--inbound-addr", "25"}, nil, `REMARKET_INBOUND_ADDR "25"`},
		{[]string{"store", "list", "--unsubscribe-domain", "localhost"}, nil, "REMARKET_UNSUBSCRIBE_DOMAIN"},
		{[]string{"store", "list", "--inbound-tls-cert", "cert.pem"}, nil, "set both REMARKET_INBOUND_TLS_CERT and REMARKET_INBOUND_TLS_KEY"},
		{[]string{"store", "list", "--inbound-tls-cert", "cert.pem", "--inbound-tls-key", "key.pem"}, nil, "REMARKET_INBOUND_ADDR is not"},
		{[]string{"recs", "stats", "--store", "x", "--product", "p", "--top", "500"}, nil, "--top 500"},
	}
	for _, c := range cases {
		r := run(t, c.env, c.args...)
		if r.code != ExitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", c.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: stderr %q, want one line containing %q", c.args, r.stderr, c.want)
		}
	}
}

func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewURL(t)
	env := map[string]string{"REMARKET_DATABASE_URL": url}
	r := run(t, env, "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("migrate: %+v", r)
	}
	r = run(t, env, "migrate", "--status", "--json")
	var st []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st) < 2 {
		t.Fatalf("migrate --status --json: %v %q", err, r.stdout)
	}
	for _, m := range st {
		if m["applied"] != true {
			t.Errorf("migration not applied: %v", m)
		}
	}
	add := []string{"store", "add", "--name", "Gift Shop", "--platform", "shopify", "--domain", "gifts.myshopify.com",
		"--webhook-secret", "s3cret-s3cret", "--from", "Gifts <hi@gifts.example>", "--address", "1 High St, London",
		"--timezone", "Europe/London", "--currency", "GBP"}
	r = run(t, env, add...)
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("store add: %+v", r)
	}
	id := strings.TrimSpace(r.stdout)
	if r = run(t, env, add...); r.code != ExitError || !strings.Contains(r.stderr, "exists already") {
		t.Errorf("duplicate store add: %+v", r)
	}
	for _, ref := range []string{id, "Gift Shop", "gifts.myshopify.com"} {
		r = run(t, env, "store", "show", ref, "--json")
		var s map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s["currency"] != "GBP" {
			t.Errorf("store show %s: %v %q", ref, err, r.stdout)
		}
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("store show prints the webhook secret")
		}
	}
	if r = run(t, env, "store", "update", "gifts.myshopify.com", "--currency", "EUR"); r.code != 0 {
		t.Fatalf("store update: %+v", r)
	}
	r = run(t, env, "store", "list", "--json")
	if !strings.Contains(r.stdout, `"currency": "EUR"`) || !strings.Contains(r.stdout, `"timezone": "Europe/London"`) {
		t.Errorf("update lost or kept the wrong fields: %s", r.stdout)
	}
	if r = run(t, env, "store", "show", "nope"); r.code != ExitError || !strings.Contains(r.stderr, `no store "nope"`) {
		t.Errorf("unknown store: %+v", r)
	}
	if r = run(t, env, "inbox", "list", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty inbox list: %+v", r)
	}
	if r = run(t, env, "customer", "show", "--store", id, "nobody@example.com"); r.code != ExitError {
		t.Errorf("unknown customer: %+v", r)
	}
}

func TestDatabaseDownIsOneClearLine(t *testing.T) {
	t.Parallel()
	r := run(t, map[string]string{"REMARKET_DATABASE_URL": "postgres://127.0.0.1:1/x?sslmode=disable"}, "store", "list")
	if r.code != ExitError || !strings.Contains(r.stderr, "connect to database") {
		t.Errorf("database down: %+v", r)
	}
}

// TestSchemaBehindSaysMigrate: a binary newer than its database says to
// run migrate, in one line, instead of failing on a missing column; migrate
// then brings it up to date.
func TestSchemaBehindSaysMigrate(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewURL(t)
	ctx := context.Background()
	// Pretend the newest migration has not run (its changes stay; only the
	// record goes, which is what the check reads).
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REMARKET_DATABASE_URL": url}
	r := run(t, env, "store", "list")
	if r.code != ExitError || !strings.Contains(r.stderr, "not up to date") || !strings.Contains(r.stderr, "run remarket migrate first") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("store list on an old schema: %+v", r)
	}
	if r := run(t, env, "migrate", "--status"); r.code != 0 {
		t.Fatalf("migrate --status on an old schema: %+v", r)
	}
	// A database that was never migrated has no version tables at all.
	if _, err := pool.Exec(ctx, `DROP TABLE goose_db_version, river_migration`); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "store", "list")
	if r.code != ExitError || !strings.Contains(r.stderr, "at 0 of") || !strings.Contains(r.stderr, "run remarket migrate first") {
		t.Fatalf("store list on a new database: %+v", r)
	}
}

func TestInboxReplayAndReads(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewURL(t)
	env := map[string]string{"REMARKET_DATABASE_URL": url}
	ctx := context.Background()
	r := run(t, env, "store", "add", "--name", "g", "--platform", "generic", "--domain", "g.example", "--webhook-secret", "12345678")
	if r.code != 0 {
		t.Fatalf("store add: %+v", r)
	}
	ids, err := store.InboxInsert(ctx, pool, []store.Delivery{
		{StoreID: 1, Platform: "generic", Topic: "generic", DedupeKey: "a", Body: []byte(`{"type":"order","order":{`)},
		{StoreID: 1, Platform: "generic", Topic: "generic", DedupeKey: "b", Body: []byte(`{"type":"view"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := store.InboxFinish(ctx, pool, id, store.InboxFailed, "parse: broken"); err != nil {
			t.Fatal(err)
		}
	}
	r = run(t, env, "inbox", "list", "--failed", "--json")
	var listed []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed) != 2 || listed[0]["error"] != "parse: broken" {
		t.Fatalf("inbox list --failed: %v %s", err, r.stdout)
	}
	r = run(t, env, "inbox", "show", strconv.FormatInt(ids[0], 10), "--json")
	if !strings.Contains(r.stdout, `"body": "{\"type\":\"order\",\"order\":{"`) {
		t.Errorf("inbox show lacks the exact body: %s", r.stdout)
	}
	r = run(t, env, "inbox", "replay", "--failed")
	if r.code != 0 || !strings.Contains(r.stdout, "queued 2") {
		t.Fatalf("inbox replay --failed: %+v", r)
	}
	var pending, jobs int
	_ = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inbox WHERE status = 'pending'),
(SELECT count(*) FROM river_job WHERE kind = 'process_delivery')`).Scan(&pending, &jobs)
	if pending != 2 || jobs != 2 {
		t.Errorf("after replay: %d pending, %d jobs; want 2 and 2", pending, jobs)
	}
	if r = run(t, env, "inbox", "replay", "999"); r.code != ExitError || !strings.Contains(r.stderr, "no delivery 999") {
		t.Errorf("replay of a missing delivery: %+v", r)
	}
}

// TestDemoEndToEnd runs the quick start's main job against a test database,
// then reads what it stored through the read commands.
func TestDemoEndToEnd(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewURL(t)
	sink, err := smtpsink.Start("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	env := map[string]string{"REMARKET_DATABASE_URL": url, "REMARKET_SMTP_URL": sink.URL()}
	r := run(t, env, "demo", "--customers", "40")
	if r.code != 0 {
		t.Fatalf("demo: %+v", r)
	}
	if n := len(sink.Messages()); n == 0 || !strings.Contains(r.stdout, fmt.Sprintf("sent %d,", n)) {
		t.Errorf("demo campaign: %d messages at the SMTP server; output:\n%s", n, r.stdout)
	}
	for _, want := range []string{"posted", "a forged signature 401", "a signed but truncated body 202", "1 failed", "customers   40"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, env, "order", "list", "--store", "demo-shop.example", "--customer", "c0001", "--json")
	var orders []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &orders); err != nil || len(orders) == 0 {
		t.Fatalf("order list: %v %+v", err, r)
	}
	r = run(t, env, "customer", "show", "--store", "Demo Shop", "c0001", "--json")
	var p struct {
		Customer struct{ Email string } `json:"customer"`
		Orders   []any                  `json:"orders"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || !strings.HasSuffix(p.Customer.Email, ".1@example.com") || len(p.Orders) != len(orders) {
		t.Errorf("customer show: %v %s", err, r.stdout)
	}
	r = run(t, env, "recs", "show", "--store", "demo-shop.example", "--customer", "c0001", "--k", "4", "--json")
	var picks []struct {
		Rank   int    `json:"rank"`
		Title  string `json:"title"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &picks); err != nil || len(picks) != 4 || picks[0].Reason == "" || picks[0].Title == "" {
		t.Errorf("recs show: %v %+v", err, r)
	}
	r = run(t, env, "eval", "--store", "demo-shop.example", "--k", "5", "--json")
	var rep struct {
		K       int `json:"k"`
		Targets map[string]struct {
			Customers int `json:"customers"`
			Results   []struct {
				Name    string  `json:"name"`
				HitRate float64 `json:"hit_rate"`
			} `json:"results"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.K != 5 || len(rep.Targets["new"].Results) < 7 {
		t.Errorf("eval --json: %v %+v", err, r)
	}
	if r = run(t, env, "recs", "show", "--store", "demo-shop.example", "--customer", "c0001", "--strategy", "magic"); r.code != ExitUsage {
		t.Errorf("unknown strategy: %+v", r)
	}
	// The product statistics the webhook worker kept order by order are what
	// a rebuild from the stored orders makes.
	var sku string
	if err := pool.QueryRow(context.Background(), `SELECT p.sku FROM product_stats_now s JOIN products p ON p.id = s.product_id
ORDER BY s.orders DESC, p.id LIMIT 1`).Scan(&sku); err != nil {
		t.Fatal(err)
	}
	kept := run(t, env, "recs", "stats", "--store", "demo-shop.example", "--product", sku, "--json")
	if r = run(t, env, "recs", "rebuild", "--store", "demo-shop.example", "--local"); r.code != 0 {
		t.Fatalf("recs rebuild --local: %+v", r)
	}
	rebuilt := run(t, env, "recs", "stats", "--store", "demo-shop.example", "--product", sku, "--json")
	if kept.code != 0 || !strings.Contains(kept.stdout, `"bought_with": [`) || kept.stdout != rebuilt.stdout {
		t.Errorf("recs stats kept by the worker:\n%+v\nafter a rebuild:\n%+v", kept, rebuilt)
	}
	if r = run(t, env, "recs", "stats", "--store", "demo-shop.example"); r.code != ExitUsage || !strings.Contains(r.stderr, "--product is required") {
		t.Errorf("recs stats without --product: %+v", r)
	}
	// The demo again: everything is a duplicate, nothing new is stored.
	r = run(t, env, "demo", "--customers", "40")
	if r.code != 0 || !strings.Contains(r.stdout, "200 OK") || strings.Contains(r.stdout, "202 Accepted,") {
		t.Errorf("second demo run should see only duplicates:\n%s", r.stdout)
	}
}

func TestTemplatesCommands(t *testing.T) {
	t.Parallel()
	r := run(t, nil, "templates", "check", "--json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("templates check of the embedded set: %+v", r)
	}
	r = run(t, nil, "templates", "render", "cross-sell", "--format", "text")
	if r.code != 0 || !strings.Contains(r.stdout, "nsubscribe") {
		t.Errorf("templates render: %+v", r)
	}
	if r = run(t, nil, "templates", "render", "no-such-email"); r.code != ExitUsage {
		t.Errorf("unknown template: %+v", r)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cross-sell"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cross-sell", "body.html"), []byte("<p>{{.Customer.FirstNam}}</p>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "templates", "check", dir)
	if r.code != ExitError || !strings.Contains(r.stdout+r.stderr, "FirstNam") || !strings.Contains(r.stdout+r.stderr, "body.html:1") {
		t.Errorf("a broken override must name file, line and field: %+v", r)
	}
}

// TestRecsShowAsksTheServer: with an admin token, recs show gets its picks
// from the running server's warm model instead of training one.
func TestRecsShowAsksTheServer(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewURL(t)
	sink, err := smtpsink.StartWith("127.0.0.1:0", smtpsink.Options{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	env := map[string]string{"REMARKET_DATABASE_URL": url, "REMARKET_SECRET": "recs-test-secret-xx", "REMARKET_ADMIN_TOKEN": "admin-token-123",
		"REMARKET_SMTP_URL": sink.URL()}
	if r := run(t, env, "demo", "--customers", "30"); r.code != 0 {
		t.Fatalf("demo: %+v", r)
	}
	a := &app{env: Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}, cfg: config.FromEnv(func(k string) string { return env[k] })}
	svc, err := a.campaigns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer a.pool.Close()
	srv, err := server.New(server.Params{Pool: pool, Role: server.RoleAll, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		Secret: env["REMARKET_SECRET"], Campaigns: svc, AdminToken: env["REMARKET_ADMIN_TOKEN"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck
	env["REMARKET_PUBLIC_URL"] = "http://" + srv.Addr()
	r := run(t, env, "recs", "show", "--store", "demo-shop.example", "--customer", "c0001", "--k", "3", "--json")
	var picks []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &picks); err != nil || len(picks) != 3 || strings.Contains(r.stderr, "training the model here") {
		t.Errorf("recs show via the server: %v %+v", err, r)
	}
	// With the server answering, the command needs no database of its own.
	noDB := maps.Clone(env)
	noDB["REMARKET_DATABASE_URL"] = "postgres://127.0.0.1:1/x?sslmode=disable"
	if r = run(t, noDB, "recs", "show", "--store", "demo-shop.example", "--customer", "c0001", "--k", "3"); r.code != 0 || !strings.Contains(r.stdout, "REASON") {
		t.Errorf("recs show via the server without a database: %+v", r)
	}
	for _, c := range []struct{ store, customer, want string }{
		{"demo-shop.example", "nobody@example.com", `no customer "nobody@example.com" in store demo-shop.example`},
		{"no-such-shop", "c0001", `no store "no-such-shop"`},
	} {
		r = run(t, env, "recs", "show", "--store", c.store, "--customer", c.customer)
		if r.code != ExitError || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "training") {
			t.Errorf("recs show --store %s --customer %s: %+v, want %q", c.store, c.customer, r, c.want)
		}
	}
	if r = run(t, env, "recs", "rebuild", "--store", "demo-shop.example"); r.code != 0 || !strings.Contains(r.stdout, "rebuilt the model") {
		t.Errorf("recs rebuild through the workers: %+v", r)
	}
	if r = run(t, env, "recs", "rebuild", "--store", "demo-shop.example", "--local"); r.code != 0 || !strings.Contains(r.stdout, "kept purchases") {
		t.Errorf("recs rebuild --local: %+v", r)
	}
	env["REMARKET_ADMIN_TOKEN"] = "wrong-token-456"
	r = run(t, env, "recs", "show", "--store", "demo-shop.example", "--customer", "c0001", "--k", "3")
	if r.code != 0 || !strings.Contains(r.stderr, "401") {
		t.Errorf("a wrong token must fall back to training here, saying why: %+v", r)
	}
}

// TestServeShutsDownGracefully: when its context ends (SIGTERM in main),
// serve stops taking requests, lets the accepted ones commit, and exits 0.
func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.NewURL(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := map[string]string{"REMARKET_DATABASE_URL": dbURL, "REMARKET_SECRET": "graceful-secret-xxxx", "REMARKET_HTTP_ADDR": addr}
	if r := run(t, env, "store", "add", "--name", "g", "--platform", "generic", "--domain", "g.example", "--webhook-secret", "g-secret-1"); r.code != 0 {
		t.Fatalf("store add: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := Execute(ctx, []string{"serve"}, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
		done <- result{code, out.String(), errb.String()}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	body := `{"type":"view","view":{"customer":{"email":"a@example.com"},"product_id":"p1","viewed_at":"2025-01-01T00:00:00Z"}}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/generic/g.example", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Remarket-Signature", ingest.SignGeneric("g-secret-1", []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook before shutdown: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.stderr, "shutting down") {
			t.Errorf("serve after cancel: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("serve still answers after shutdown")
	}
}

func TestCampaignCommands(t *testing.T) {
	t.Parallel()
	pool, dbURL := dbtest.NewURL(t)
	sink, err := smtpsink.Start("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	env := map[string]string{"REMARKET_DATABASE_URL": dbURL, "REMARKET_SECRET": "campaign-cli-secret", "REMARKET_SMTP_URL": sink.URL()}
	if r := run(t, env, "demo", "--customers", "20"); r.code != 0 {
		t.Fatalf("demo: %+v", r)
	}
	before := len(sink.Messages())
	// The demo's emails carry both List-Unsubscribe forms.
	if msgs := sink.Messages(); before == 0 || !strings.Contains(string(msgs[0].Data), "@unsubscribe.demo-shop.example?subject=unsubscribe>") {
		t.Errorf("the demo's email has no mailto: unsubscribe (%d messages)", before)
	}
	r := run(t, env, "campaign", "create", "--store", "demo-shop.example", "--name", "cli", "--template", "upsell",
		"--segment", "orders>=1 and not country:FR", "--k", "2", "--json")
	var c struct{ ID int64 }
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.ID == 0 {
		t.Fatalf("campaign create --json: %v %+v", err, r)
	}
	id := strconv.FormatInt(c.ID, 10)
	// Planning needs no secret; only rendering an email does.
	noSecret := maps.Clone(env)
	delete(noSecret, "REMARKET_SECRET")
	if r = run(t, noSecret, "campaign", "create", "--store", "demo-shop.example", "--name", "plain", "--template", "upsell",
		"--segment", "orders>=1"); r.code != 0 {
		t.Errorf("create without REMARKET_SECRET: %+v", r)
	}
	if r = run(t, noSecret, "campaign", "preview", id, "--customer", "c0001"); r.code != ExitUsage || !strings.Contains(r.stderr, "REMARKET_SECRET") {
		t.Errorf("preview without REMARKET_SECRET: %+v", r)
	}
	if r = run(t, env, "campaign", "create", "--store", "demo-shop.example", "--name", "x", "--template", "upsell", "--segment", "orders>="); r.code != ExitUsage || !strings.Contains(r.stderr, "column 9") {
		t.Errorf("segment syntax error: %+v", r)
	}
	// A preview for someone outside the segment says they would not get it.
	r = run(t, env, "campaign", "create", "--store", "demo-shop.example", "--name", "none", "--template", "upsell", "--segment", "orders>=1000", "--json")
	var none struct{ ID int64 }
	if err := json.Unmarshal([]byte(r.stdout), &none); err != nil {
		t.Fatalf("campaign create: %v %+v", err, r)
	}
	if !strings.Contains(r.stderr, `the segment "orders>=1000" matches no customer`) {
		t.Errorf("create with an empty segment says nothing: %+v", r)
	}
	if r = run(t, env, "campaign", "send", strconv.FormatInt(none.ID, 10), "--yes"); r.code != ExitError || !strings.Contains(r.stderr, "nobody to send") {
		t.Errorf("send to nobody: %+v", r)
	}
	if r = run(t, env, "campaign", "create", "--store", "demo-shop.example", "--name", "x", "--template", "upsell", "--segment", "orders>=1",
		"--subject", "{{.Customer.Nickname}}, hello"); r.code != ExitUsage || !strings.Contains(r.stderr, "Nickname") {
		t.Errorf("create with a subject naming no field: %+v", r)
	}
	if r = run(t, env, "campaign", "preview", strconv.FormatInt(none.ID, 10), "--customer", "c0001"); r.code != 0 || !strings.Contains(r.stderr, "not in the campaign's segment") {
		t.Errorf("preview outside the segment: %+v", r)
	}
	if r = run(t, env, "campaign", "preview", id, "--customer", "c0001", "--format", "eml"); r.code != 0 || !strings.Contains(r.stdout, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Errorf("preview eml: %+v", r)
	}
	if r = run(t, env, "campaign", "preview", id, "--sample", "3", "--format", "html"); r.code != 0 || strings.Count(r.stdout, "===== customer") != 3 {
		t.Errorf("preview --sample 3: %+v", r)
	}
	if r = run(t, env, "campaign", "test", id, "--to", "qa@example.com"); r.code != 0 || len(sink.Messages()) != before+1 {
		t.Errorf("campaign test: %+v, %d new messages", r, len(sink.Messages())-before)
	}
	if r = run(t, env, "campaign", "test", id, "--to", "not-an-address"); r.code != ExitUsage || !strings.Contains(r.stderr, `--to "not-an-address" is not an email address`) {
		t.Errorf("campaign test --to not-an-address: %+v", r)
	}
	if r = run(t, env, "campaign", "preview", id, "--sample", "2", "--customer", "x@example.com"); r.code != ExitUsage || !strings.Contains(r.stderr, "not both") {
		t.Errorf("preview with --sample and --customer: %+v", r)
	}
	// The demo mailed everyone moments ago: the CLI's 20-hour frequency cap
	// would skip them all, so there is nobody to send to, and the campaign
	// stays a draft.
	if r = run(t, env, "campaign", "send", id, "--yes"); r.code != ExitError || !strings.Contains(r.stderr, "nobody to send") ||
		!strings.Contains(r.stdout, "skipped (frequency cap)") {
		t.Errorf("send while the cap skips everyone: %+v", r)
	}
	// Three days later, they may be mailed again.
	if _, err := pool.Exec(context.Background(), `UPDATE sends SET sent_at = sent_at - interval '3 days'`); err != nil {
		t.Fatal(err)
	}
	if r = run(t, env, "campaign", "send", id); r.code != ExitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("send without a terminal or --yes must refuse: %+v", r)
	}
	// Standard input from /dev/null (cron, systemd, ssh -n) is a character
	// device, but no terminal either.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var out, errb bytes.Buffer
	if code := Execute(context.Background(), []string{"campaign", "send", id}, Env{Stdin: devNull, Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }}); code != ExitUsage || !strings.Contains(errb.String(), "--yes") {
		t.Errorf("send with standard input from /dev/null must refuse: exit %d, %q %q", code, out.String(), errb.String())
	}
	if r = run(t, env, "campaign", "send", id, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "queued") {
		t.Fatalf("send --yes: %+v", r)
	}
	// A worker without an SMTP server puts the send jobs off: status says why
	// nothing goes out.
	noSMTP := maps.Clone(env)
	delete(noSMTP, "REMARKET_SMTP_URL")
	a := &app{env: Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return noSMTP[k] }},
		cfg: config.FromEnv(func(k string) string { return noSMTP[k] })}
	svc, err := a.campaigns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer a.pool.Close()
	worker, err := server.New(server.Params{Pool: pool, Role: server.RoleWorker, Logger: slog.New(slog.DiscardHandler), Campaigns: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status  string
		Queued  int
		Waiting int `json:"jobs_waiting_for_smtp"`
	}
	for deadline := time.Now().Add(15 * time.Second); st.Waiting == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r = run(t, env, "campaign", "status", id, "--json")
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status --json: %v %+v", err, r)
		}
	}
	_ = worker.Shutdown(context.Background())
	if st.Status != "sending" || st.Queued == 0 || st.Waiting == 0 {
		t.Errorf("status --json with a worker without SMTP: %+v", st)
	}
	if r = run(t, env, "campaign", "status", id); !strings.Contains(r.stderr, "the workers have no SMTP server") {
		t.Errorf("status says nothing of the missing SMTP server: %+v", r)
	}
	if r = run(t, env, "campaign", "cancel", id); r.code != 0 {
		t.Errorf("cancel: %+v", r)
	}
	if r = run(t, env, "campaign", "status", id, "--json"); !strings.Contains(r.stdout, `"status": "cancelled"`) {
		t.Errorf("status after cancel: %+v", r)
	}
	if r = run(t, env, "campaign", "cancel", id); r.code != ExitError || !strings.Contains(r.stderr, "cannot be cancelled") {
		t.Errorf("cancel of a cancelled campaign: %+v", r)
	}
	if r = run(t, env, "campaign", "list", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"name": "cli"`) {
		t.Errorf("campaign list: %+v", r)
	}
}

// TestRebuildGivenUpIsCancelled: a rebuild no worker took before the
// command gave up (here, interrupted after a second) is cancelled, so a
// worker started later does not run it; the progress line does not say
// done.
func TestRebuildGivenUpIsCancelled(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.NewURL(t)
	env := map[string]string{"REMARKET_DATABASE_URL": url}
	if r := run(t, env, "store", "add", "--name", "Tea", "--platform", "generic", "--domain", "tea.example",
		"--webhook-secret", "secret-secret"); r.code != 0 {
		t.Fatalf("store add: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Execute(ctx, []string{"recs", "rebuild", "--store", "tea.example"}, Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	if code == 0 || !strings.Contains(errb.String(), "stopped at 0%") || strings.Contains(errb.String(), "done") {
		t.Errorf("interrupted rebuild: exit %d, stderr %q", code, errb.String())
	}
	var states string
	if err := pool.QueryRow(context.Background(), `SELECT string_agg(kind || ' ' || state, ', ') FROM river_job`).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if states != "stats_rebuild cancelled" {
		t.Errorf("jobs after the interrupted rebuild: %s; want the statistics rebuild cancelled", states)
	}
}
