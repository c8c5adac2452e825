package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/dbtest"
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
		{[]string{"store", "list"}, map[string]string{"REMARKET_HTTP_ADDR": "8080"}, "REMARKET_HTTP_ADDR"},
		{[]string{"store", "list", "--database-url", "mysql://x"}, nil, "REMARKET_DATABASE_URL"},
		{[]string{"serve", "--role", "cook"}, nil, `--role "cook"`},
		{[]string{"serve"}, nil, "REMARKET_SECRET is not set"},
		{[]string{"store", "add", "--name", "x", "--platform", "magento", "--domain", "x.example", "--webhook-secret", "12345678"}, nil, `--platform "magento"`},
		{[]string{"inbox", "replay"}, nil, "give one delivery id or --failed"},
		{[]string{"import", "orders", "--format", "xls", "f.csv"}, nil, `--format "xls"`},
		{[]string{"order", "list", "--since", "yesterday"}, nil, `date "yesterday"`},
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
