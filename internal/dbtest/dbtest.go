// Package dbtest gives tests a real PostgreSQL database: a template database
// is migrated once per migrations hash, and each caller gets a fresh clone of
// it (CREATE DATABASE … TEMPLATE), which takes milliseconds instead of a full
// migration. Tests never skip when the server is missing; they fail loudly.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/migrations"
)

// DefaultServerURL is used when REMARKET_TEST_DATABASE_URL is not set.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the admin connection URL tests create databases through.
func ServerURL() string {
	if u := os.Getenv("REMARKET_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServerURL
}

// New returns a pool on a fresh, fully migrated database of its own. The
// database is dropped when the test passes and kept (its URL logged) when it
// fails, so the failure can be inspected.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewURL(t)
	return pool
}

// NewURL is New that also returns the database's URL, for code under test
// that opens its own connections (the CLI, a child process).
func NewURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	dbURL, err := Clone(ctx)
	if err != nil {
		t.Fatalf("dbtest: %v (set REMARKET_TEST_DATABASE_URL to a PostgreSQL server this user may create databases on)", err)
	}
	pool, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		if t.Failed() {
			t.Logf("dbtest: keeping database %s", dbURL)
			return
		}
		if err := drop(context.Background(), dbURL); err != nil {
			t.Logf("dbtest: %v", err)
		}
	})
	return pool, dbURL
}

// Clone creates a new database from the migrated template and returns its URL.
// The caller owns it.
func Clone(ctx context.Context) (string, error) {
	tmpl, err := ensureTemplate(ctx)
	if err != nil {
		return "", err
	}
	name := "remarket_test_" + randomHex(6)
	if err := adminExec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		return "", fmt.Errorf("clone template: %w", err)
	}
	return withDatabase(ServerURL(), name)
}

// ensureTemplate creates and migrates the template for the current migrations
// once; concurrent test binaries serialise on an advisory lock.
func ensureTemplate(ctx context.Context) (string, error) {
	name := "remarket_tmpl_" + migrationsHash()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return "", fmt.Errorf("connect to test server %s: %w", ServerURL(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7261001)"); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7261001)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for template: %w", err)
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	buildURL, err := withDatabase(ServerURL(), building)
	if err != nil {
		return "", err
	}
	if err := migrateURL(ctx, buildURL); err != nil {
		return "", err
	}
	// Renamed only once complete, so a crash never leaves a half-migrated template.
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", fmt.Errorf("finish template: %w", err)
	}
	dropStaleTemplates(ctx, conn, name)
	return name, nil
}

// dropStaleTemplates removes templates of older migrations, which would
// otherwise pile up on a developer's server; one still in use stays.
func dropStaleTemplates(ctx context.Context, conn *pgx.Conn, keep string) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'remarket\_tmpl\_%' AND datname <> $1`, keep)
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize())
	}
}

func migrateURL(ctx context.Context, dbURL string) error {
	pool, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = store.Migrate(ctx, pool)
	return err
}

// migrationsHash changes whenever our or River's migrations change.
func migrationsHash() string {
	h := sha256.New()
	entries, _ := fs.Glob(migrations.FS, "*.sql")
	sort.Strings(entries)
	for _, e := range entries {
		b, _ := fs.ReadFile(migrations.FS, e)
		h.Write([]byte(e))
		h.Write(b)
	}
	if m, err := rivermigrate.New(riverpgxv5.New(nil), nil); err == nil {
		for _, v := range m.AllVersions() {
			h.Write([]byte(v.SQLUp))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func drop(ctx context.Context, dbURL string) error {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return adminExec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", cfg.Database))
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return fmt.Errorf("connect to test server %s: %w", ServerURL(), err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase swaps the database name in a URL, keeping credentials and options.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parse test server url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
