package store

import (
	"context"
	"fmt"
	"path"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/remarket/remarket/migrations"
)

// MigrationState is one migration and whether it has been applied.
type MigrationState struct {
	Component string `json:"component"` // "river" or "remarket"
	Version   int64  `json:"version"`
	Name      string `json:"name"`
	Applied   bool   `json:"applied"`
}

// Migrate applies River's migrations, then remarket's, and returns the ones it
// applied. Running it again applies nothing. A session advisory lock keeps two
// processes from migrating at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]MigrationState, error) {
	var applied []MigrationState
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, MigrationState{"river", int64(v.Version), v.Name, true})
	}
	p, closeDB, err := gooseProvider(pool)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate remarket: %w", err)
	}
	for _, r := range results {
		applied = append(applied, MigrationState{"remarket", r.Source.Version, baseName(r.Source.Path), true})
	}
	return applied, nil
}

// MigrationStatus lists every known migration, River's first.
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool) ([]MigrationState, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("river migration status: %w", err)
	}
	have := map[int]bool{}
	for _, e := range existing {
		have[e.Version] = true
	}
	var out []MigrationState
	for _, v := range m.AllVersions() {
		out = append(out, MigrationState{"river", int64(v.Version), v.Name, have[v.Version]})
	}
	p, closeDB, err := gooseProvider(pool)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("remarket migration status: %w", err)
	}
	for _, s := range st {
		out = append(out, MigrationState{"remarket", s.Source.Version, baseName(s.Source.Path), s.State == goose.StateApplied})
	}
	return out, nil
}

func gooseProvider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, func() { db.Close() }, nil
}

func baseName(p string) string { return path.Base(p) }

// SchemaBehind says, with a query or three, whether the database lacks migrations
// this binary has: a description of what is missing, or "" when it is
// current. Commands check it before touching the database, so that an
// upgraded binary says "run remarket migrate" instead of failing on a
// missing column.
func SchemaBehind(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return "", fmt.Errorf("river migrator: %w", err)
	}
	all := m.AllVersions()
	wantRiver := int64(all[len(all)-1].Version)
	wantOurs, err := newestMigration()
	if err != nil {
		return "", err
	}
	// A table that does not exist fails the whole statement that names it,
	// so look for the two version tables first: a new database has neither.
	var haveRiver, haveOurs bool
	err = pool.QueryRow(ctx, `SELECT to_regclass('river_migration') IS NOT NULL, to_regclass('goose_db_version') IS NOT NULL`).
		Scan(&haveRiver, &haveOurs)
	var river, ours int64
	if err == nil && haveRiver {
		err = pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main'`).Scan(&river)
	}
	if err == nil && haveOurs {
		err = pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&ours)
	}
	if err != nil {
		return "", fmt.Errorf("check the schema version: %w", err)
	}
	switch {
	case ours < wantOurs:
		return fmt.Sprintf("remarket migrations are at %d of %d", ours, wantOurs), nil
	case river < wantRiver:
		return fmt.Sprintf("River migrations are at %d of %d", river, wantRiver), nil
	}
	return "", nil
}

// newestMigration is the highest version among the embedded migrations.
func newestMigration() (int64, error) {
	entries, err := migrations.FS.ReadDir(".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	var newest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > newest {
			newest = v
		}
	}
	return newest, nil
}
