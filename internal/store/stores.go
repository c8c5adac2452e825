package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Store is one shop remarket serves.
type Store struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Platform      string    `json:"platform"`
	Domain        string    `json:"domain"`
	WebhookSecret string    `json:"-"`
	From          string    `json:"from"`
	Address       string    `json:"address"`
	Timezone      string    `json:"timezone"`
	Currency      string    `json:"currency"`
	CreatedAt     time.Time `json:"created_at"`
}

// ErrConflict is returned when a unique name or domain is taken.
var ErrConflict = errors.New("already exists")

const storeCols = `id, name, platform, domain, webhook_secret, from_address, postal_address, timezone, currency, created_at`

func scanStore(row pgx.Row) (Store, error) {
	var s Store
	err := row.Scan(&s.ID, &s.Name, &s.Platform, &s.Domain, &s.WebhookSecret, &s.From, &s.Address, &s.Timezone, &s.Currency, &s.CreatedAt)
	return s, err
}

const storeInsertSQL = `INSERT INTO stores (name, platform, domain, webhook_secret, from_address, postal_address, timezone, currency)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ` + storeCols

// StoreInsert creates a store. It returns ErrConflict when the name or domain is taken.
func StoreInsert(ctx context.Context, db DB, s Store) (Store, error) {
	out, err := scanStore(db.QueryRow(ctx, storeInsertSQL, s.Name, s.Platform, s.Domain, s.WebhookSecret, s.From, s.Address, s.Timezone, s.Currency))
	if err != nil {
		return Store{}, conflict("add store", err)
	}
	return out, nil
}

const storeUpdateSQL = `UPDATE stores SET name = $2, platform = $3, domain = $4, webhook_secret = $5, from_address = $6,
postal_address = $7, timezone = $8, currency = $9, updated_at = now() WHERE id = $1 RETURNING ` + storeCols

// StoreUpdate saves every field of s.
func StoreUpdate(ctx context.Context, db DB, s Store) (Store, error) {
	out, err := scanStore(db.QueryRow(ctx, storeUpdateSQL, s.ID, s.Name, s.Platform, s.Domain, s.WebhookSecret, s.From, s.Address, s.Timezone, s.Currency))
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Store{}, notFound("update store", err)
		}
		return Store{}, conflict("update store", err)
	}
	return out, nil
}

const storeListSQL = `SELECT ` + storeCols + ` FROM stores ORDER BY id`

// StoreList returns every store by id.
func StoreList(ctx context.Context, db DB) ([]Store, error) {
	rows, err := db.Query(ctx, storeListSQL)
	if err != nil {
		return nil, fmt.Errorf("list stores: %w", err)
	}
	defer rows.Close()
	var out []Store
	for rows.Next() {
		s, err := scanStore(rows)
		if err != nil {
			return nil, fmt.Errorf("list stores: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

const storeFindSQL = `SELECT ` + storeCols + ` FROM stores WHERE id = $1 OR name = $2 OR domain = $2 ORDER BY (id = $1) DESC LIMIT 1`

// StoreFind looks a store up by id, name or domain, as the CLI's --store and
// the webhook paths allow.
func StoreFind(ctx context.Context, db DB, ref string) (Store, error) {
	id, _ := strconv.ParseInt(ref, 10, 64)
	s, err := scanStore(db.QueryRow(ctx, storeFindSQL, id, ref))
	if err != nil {
		return Store{}, notFound(fmt.Sprintf("find store %q", ref), err)
	}
	return s, nil
}

// StoreGet returns the store with this id, and only by id: for a signed
// token, which names a store by id, where StoreFind would also match a
// store whose name is that number.
func StoreGet(ctx context.Context, db DB, id int64) (Store, error) {
	s, err := scanStore(db.QueryRow(ctx, `SELECT `+storeCols+` FROM stores WHERE id = $1`, id))
	if err != nil {
		return Store{}, notFound(fmt.Sprintf("get store %d", id), err)
	}
	return s, nil
}

func conflict(action string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%s: %s %w", action, pgErr.ConstraintName, ErrConflict)
	}
	return fmt.Errorf("%s: %w", action, err)
}
