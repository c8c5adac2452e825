package localpg

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPrivateServer starts a real private server from the machine's
// binaries, as the demo does when nothing listens on 5432.
func TestPrivateServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nothing listens on port 1: Ensure must fall back to a private server.
	dir := t.TempDir()
	// When tests run as root the server runs as postgres, which must reach the folder.
	_ = os.Chmod(filepath.Dir(dir), 0o755)
	_ = os.Chmod(dir, 0o755)
	srv, err := Ensure(ctx, "postgres://127.0.0.1:1/remarket?sslmode=disable", dir, true, io.Discard)
	if err != nil {
		t.Fatalf("start private server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatalf("connect to %s: %v", srv.URL, err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "remarket" {
		t.Fatalf("current_database = %q, %v; want remarket", db, err)
	}
}

func TestUnreachableWithoutPrivate(t *testing.T) {
	t.Parallel()
	_, err := Ensure(context.Background(), "postgres://127.0.0.1:1/remarket?sslmode=disable", t.TempDir(), false, io.Discard)
	if err == nil {
		t.Fatal("want an error for an unreachable server when a private one is not allowed")
	}
}
