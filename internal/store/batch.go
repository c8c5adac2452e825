package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// batch sends several statements in one round trip.
type batch struct{ b pgx.Batch }

func (b *batch) add(sql string, args ...any) { b.b.Queue(sql, args...) }

func (b *batch) run(ctx context.Context, db DB, action string) error {
	if b.b.Len() == 0 {
		return nil
	}
	if err := db.SendBatch(ctx, &b.b).Close(); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}
