package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/store"
)

// TestStoreGetOnlyByID: a token names its store by id; a store whose name
// is that number is not it (StoreFind, for the CLI's --store, would match).
func TestStoreGetOnlyByID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st := statsStore(t)
	missing := st.ID + 1000
	if _, err := store.StoreInsert(ctx, pool, store.Store{Name: strconv.FormatInt(missing, 10), Platform: "generic",
		Domain: "number.example", WebhookSecret: "secret-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.StoreGet(ctx, pool, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StoreGet(%d) = %v, want ErrNotFound", missing, err)
	}
	if got, err := store.StoreGet(ctx, pool, st.ID); err != nil || got.Name != st.Name {
		t.Errorf("StoreGet(%d) = %q, %v", st.ID, got.Name, err)
	}
}

// TestPoolChecksItsClient: connections ask PostgreSQL to notice a client
// that went away mid-query (14 and later; this machine's is newer).
func TestPoolChecksItsClient(t *testing.T) {
	pool := dbtest.New(t)
	var v string
	if err := pool.QueryRow(context.Background(), "SHOW client_connection_check_interval").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "5s" {
		t.Errorf("client_connection_check_interval = %q, want 5s", v)
	}
}

// TestPoolKeepsTheURLsCheck: a check interval the database URL sets is
// the one the connections use.
func TestPoolKeepsTheURLsCheck(t *testing.T) {
	_, url := dbtest.NewURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	pool, err := store.Open(context.Background(), url+sep+"client_connection_check_interval=7s")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var v string
	if err := pool.QueryRow(context.Background(), "SHOW client_connection_check_interval").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "7s" {
		t.Errorf("client_connection_check_interval = %q, want the URL's 7s", v)
	}
}
