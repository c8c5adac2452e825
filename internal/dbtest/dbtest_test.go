package dbtest

import (
	"context"
	"testing"
)

func TestNewIsMigrated(t *testing.T) {
	t.Parallel()
	pool := New(t)
	var n int
	err := pool.QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_name IN ('stores', 'inbox', 'river_job')").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("want stores, inbox and river_job tables, found %d of them", n)
	}
}
