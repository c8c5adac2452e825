// Package store is remarket's PostgreSQL layer: every query lives here, on a
// pool or inside a caller's transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// DB is what queries run on: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
}

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (max(4, cores)) starves River's workers and the
		// webhook committers on small machines.
		cfg.MaxConns = 40
	}
	cfg.AfterConnect = checkClient
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(cfg.ConnConfig), err)
	}
	return pool, nil
}

// checkClient asks PostgreSQL (14 and later) to look every few seconds,
// while it runs a query, whether the client is still there: otherwise a
// query whose process died (a killed CLI, a crashed worker) runs to its end,
// holding its locks and a core. It is a safeguard, not a requirement: older
// servers do not know the setting, a server on a platform without the check
// refuses it, and a value the database URL sets is kept.
func checkClient(ctx context.Context, c *pgx.Conn) error {
	params := c.Config().RuntimeParams
	if params["client_connection_check_interval"] != "" || strings.Contains(params["options"], "client_connection_check_interval") {
		return nil
	}
	major, _, _ := strings.Cut(c.PgConn().ParameterStatus("server_version"), ".")
	if v, err := strconv.Atoi(major); err != nil || v < 14 {
		return nil
	}
	_, err := c.Exec(ctx, "SET client_connection_check_interval = '5s'")
	var refused *pgconn.PgError
	if errors.As(err, &refused) {
		return nil // the server said no; the connection is fine
	}
	return err
}

// redact names the server without the password, for error messages.
func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// notFound maps pgx.ErrNoRows to ErrNotFound and wraps other errors.
func notFound(action string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", action, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", action, err)
}

// AnalyzeSends refreshes the planner's statistics of the send ledger, after
// a campaign added its audience to it.
func AnalyzeSends(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, `ANALYZE sends`); err != nil {
		return fmt.Errorf("analyze sends: %w", err)
	}
	return nil
}

// AnalyzeTables refreshes the planner's statistics of the tables that grow
// with a store's history. Plans chosen while a table was nearly empty scan it
// whole once it is large; autovacuum does this too, but may be off or late
// after a bulk load.
func AnalyzeTables(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, `ANALYZE customers, products, orders, order_lines, refund_lines, checkouts, views, inbox, sends`); err != nil {
		return fmt.Errorf("analyze tables: %w", err)
	}
	return nil
}
