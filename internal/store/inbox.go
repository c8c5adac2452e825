package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery is one webhook delivery as received: the exact body and the
// headers that were used to verify and identify it.
type Delivery struct {
	ID          int64             `json:"id"`
	StoreID     int64             `json:"store_id"`
	Platform    string            `json:"platform"`
	Topic       string            `json:"topic"`
	DedupeKey   string            `json:"dedupe_key"`
	Headers     map[string]string `json:"headers"`
	Body        []byte            `json:"-"`
	ReceivedAt  time.Time         `json:"received_at"`
	Status      string            `json:"status"`
	Error       string            `json:"error,omitempty"`
	Attempts    int               `json:"attempts"`
	ProcessedAt *time.Time        `json:"processed_at,omitempty"`
	BodyBytes   int               `json:"body_bytes"`
}

// Inbox statuses.
const (
	InboxPending   = "pending"
	InboxProcessed = "processed"
	InboxIgnored   = "ignored"
	InboxFailed    = "failed"
)

// inboxInsertSQL inserts a whole batch in one statement; duplicates (also
// within the batch) are skipped, and only new rows come back.
const inboxInsertSQL = `INSERT INTO inbox (store_id, platform, topic, dedupe_key, headers, body)
SELECT s, p, t, k, h::jsonb, b FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[]) AS u(s, p, t, k, h, b)
ON CONFLICT (store_id, dedupe_key) DO NOTHING
RETURNING id, store_id, dedupe_key`

// InboxInsert stores deliveries and returns, for each one, its new id or 0
// when it was a duplicate of a stored one or of an earlier one in ds.
func InboxInsert(ctx context.Context, db DB, ds []Delivery) ([]int64, error) {
	n := len(ds)
	stores, plats, topics, keys, heads, bodies := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i, d := range ds {
		h, err := json.Marshal(d.Headers)
		if err != nil {
			return nil, fmt.Errorf("encode headers: %w", err)
		}
		stores[i], plats[i], topics[i], keys[i], heads[i], bodies[i] = d.StoreID, d.Platform, d.Topic, d.DedupeKey, string(h), d.Body
	}
	rows, err := db.Query(ctx, inboxInsertSQL, stores, plats, topics, keys, heads, bodies)
	if err != nil {
		return nil, fmt.Errorf("store deliveries: %w", err)
	}
	defer rows.Close()
	type key struct {
		store  int64
		dedupe string
	}
	fresh := map[key]int64{}
	for rows.Next() {
		var id int64
		var k key
		if err := rows.Scan(&id, &k.store, &k.dedupe); err != nil {
			return nil, fmt.Errorf("store deliveries: %w", err)
		}
		fresh[k] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store deliveries: %w", err)
	}
	ids := make([]int64, n)
	for i, d := range ds {
		k := key{d.StoreID, d.DedupeKey}
		ids[i] = fresh[k]
		delete(fresh, k) // a later copy in the same batch is a duplicate
	}
	return ids, nil
}

const inboxCols = `id, store_id, platform, topic, dedupe_key, headers, body, received_at, status, error, attempts, processed_at, length(body)`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.StoreID, &d.Platform, &d.Topic, &d.DedupeKey, &d.Headers, &d.Body, &d.ReceivedAt, &d.Status, &d.Error, &d.Attempts, &d.ProcessedAt, &d.BodyBytes)
	return d, err
}

// InboxGet returns one delivery with its body.
func InboxGet(ctx context.Context, db DB, id int64) (Delivery, error) {
	d, err := scanDelivery(db.QueryRow(ctx, `SELECT `+inboxCols+` FROM inbox WHERE id = $1`, id))
	if err != nil {
		return Delivery{}, notFound(fmt.Sprintf("get delivery %d", id), err)
	}
	return d, nil
}

// InboxPendingForUpdate locks and returns the pending deliveries among ids,
// in id order, so that two workers never process one delivery at once.
func InboxPendingForUpdate(ctx context.Context, db DB, ids []int64) ([]Delivery, error) {
	rows, err := db.Query(ctx, `SELECT `+inboxCols+` FROM inbox WHERE id = ANY($1) AND status = 'pending' ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("get deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("get deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// QueueInboxFinish adds InboxFinish to a batch.
func QueueInboxFinish(b *pgx.Batch, id int64, status, reason string) {
	b.Queue(inboxFinishSQL, id, status, reason)
}

// QueueInboxProcessed marks many deliveries processed in one statement.
func QueueInboxProcessed(b *pgx.Batch, ids []int64) {
	b.Queue(`UPDATE inbox SET status = 'processed', error = '', attempts = attempts + 1, processed_at = now() WHERE id = ANY($1)`, ids)
}

// InboxListParams filters InboxList.
type InboxListParams struct {
	FailedOnly bool
	StoreID    int64 // 0: all stores
	Limit      int
}

const inboxListSQL = `SELECT id, store_id, platform, topic, dedupe_key, headers, ''::bytea, received_at, status, error, attempts, processed_at, length(body)
FROM inbox WHERE (NOT $1 OR status = 'failed') AND ($2 = 0 OR store_id = $2) ORDER BY id DESC LIMIT $3`

// InboxList returns the newest deliveries first, without bodies.
func InboxList(ctx context.Context, db DB, p InboxListParams) ([]Delivery, error) {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	rows, err := db.Query(ctx, inboxListSQL, p.FailedOnly, p.StoreID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

const inboxFinishSQL = `UPDATE inbox SET status = $2, error = $3, attempts = attempts + 1, processed_at = now() WHERE id = $1`

// InboxFinish records the outcome of processing a delivery.
func InboxFinish(ctx context.Context, db DB, id int64, status, reason string) error {
	_, err := db.Exec(ctx, inboxFinishSQL, id, status, reason)
	if err != nil {
		return fmt.Errorf("finish delivery %d: %w", id, err)
	}
	return nil
}

// InboxRequeue puts deliveries back to pending for a replay and returns the
// ids it changed: one id, or with id 0 every failed delivery.
func InboxRequeue(ctx context.Context, db DB, id int64) ([]int64, error) {
	rows, err := db.Query(ctx, `UPDATE inbox SET status = 'pending', error = '' WHERE ($1 <> 0 AND id = $1) OR ($1 = 0 AND status = 'failed') RETURNING id`, id)
	if err != nil {
		return nil, fmt.Errorf("requeue deliveries: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, fmt.Errorf("requeue deliveries: %w", err)
		}
		ids = append(ids, i)
	}
	return ids, rows.Err()
}
