package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Campaign is a one-off email to a segment.
type Campaign struct {
	ID          int64      `json:"id"`
	StoreID     int64      `json:"store_id"`
	Name        string     `json:"name"`
	Template    string     `json:"template"`
	Strategy    string     `json:"strategy"`
	K           int        `json:"k"`
	Segment     string     `json:"segment"`
	Subject     string     `json:"subject,omitempty"`
	Status      string     `json:"status"`
	Audience    int        `json:"audience"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	CancelledAt *time.Time `json:"cancelled_at,omitempty"`
}

// Campaign statuses.
const (
	CampaignDraft     = "draft"
	CampaignSending   = "sending"
	CampaignSent      = "sent"
	CampaignCancelled = "cancelled"
)

const campaignCols = `id, store_id, name, template, strategy, k, segment, subject, status, audience, created_at, started_at, finished_at, cancelled_at`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var c Campaign
	err := row.Scan(&c.ID, &c.StoreID, &c.Name, &c.Template, &c.Strategy, &c.K, &c.Segment, &c.Subject, &c.Status,
		&c.Audience, &c.CreatedAt, &c.StartedAt, &c.FinishedAt, &c.CancelledAt)
	return c, err
}

// CampaignInsert creates a draft campaign.
func CampaignInsert(ctx context.Context, db DB, c Campaign) (Campaign, error) {
	out, err := scanCampaign(db.QueryRow(ctx, `INSERT INTO campaigns (store_id, name, template, strategy, k, segment, subject)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+campaignCols, c.StoreID, c.Name, c.Template, c.Strategy, c.K, c.Segment, c.Subject))
	if err != nil {
		return Campaign{}, fmt.Errorf("create campaign: %w", err)
	}
	return out, nil
}

// CampaignGet returns one campaign.
func CampaignGet(ctx context.Context, db DB, id int64) (Campaign, error) {
	c, err := scanCampaign(db.QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
	if err != nil {
		return Campaign{}, notFound(fmt.Sprintf("get campaign %d", id), err)
	}
	return c, nil
}

// CampaignList returns a store's campaigns, newest first (storeID 0: all).
func CampaignList(ctx context.Context, db DB, storeID int64) ([]Campaign, error) {
	rows, err := db.Query(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE $1 = 0 OR store_id = $1 ORDER BY id DESC`, storeID)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	defer rows.Close()
	out := []Campaign{}
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("list campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ErrWrongState is returned when a campaign cannot move to the asked state.
var ErrWrongState = errors.New("campaign is not in a state that allows this")

// CampaignSetStatus moves a campaign from one of the from states to to.
func CampaignSetStatus(ctx context.Context, db DB, id int64, to string, from ...string) error {
	tag, err := db.Exec(ctx, `UPDATE campaigns SET status = $2,
    started_at = CASE WHEN $2 = 'sending' THEN now() ELSE started_at END,
    finished_at = CASE WHEN $2 = 'sent' THEN now() ELSE finished_at END,
    cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END
WHERE id = $1 AND status = ANY($3)`, id, to, from)
	if err != nil {
		return fmt.Errorf("campaign %d to %s: %w", id, to, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("campaign %d to %s: %w", id, to, ErrWrongState)
	}
	return nil
}

// Progress counts a campaign's ledger rows by status.
type Progress struct {
	Queued  int64            `json:"queued"`
	Sending int64            `json:"sending"`
	Sent    int64            `json:"sent"`
	Failed  int64            `json:"failed"`
	Skipped int64            `json:"skipped"`
	Reasons map[string]int64 `json:"skipped_reasons"`
}

// Total is every ledger row.
func (p Progress) Total() int64 { return p.Queued + p.Sending + p.Sent + p.Failed + p.Skipped }

// CampaignProgress counts the campaign's ledger.
func CampaignProgress(ctx context.Context, db DB, id int64) (Progress, error) {
	rows, err := db.Query(ctx, `SELECT status, reason, count(*) FROM sends WHERE campaign_id = $1 GROUP BY status, reason`, id)
	if err != nil {
		return Progress{}, fmt.Errorf("campaign %d progress: %w", id, err)
	}
	defer rows.Close()
	p := Progress{Reasons: map[string]int64{}}
	for rows.Next() {
		var status, reason string
		var n int64
		if err := rows.Scan(&status, &reason, &n); err != nil {
			return Progress{}, fmt.Errorf("campaign %d progress: %w", id, err)
		}
		switch status {
		case "queued":
			p.Queued += n
		case "sending":
			p.Sending += n
		case "sent":
			p.Sent += n
		case "failed":
			p.Failed += n
		case "skipped":
			p.Skipped += n
			p.Reasons[reason] += n
		}
	}
	return p, rows.Err()
}

// CampaignSetBatches records how many send jobs a campaign was split into.
func CampaignSetBatches(ctx context.Context, db DB, id int64, n int) error {
	if _, err := db.Exec(ctx, `UPDATE campaigns SET batches = $2 WHERE id = $1`, id, n); err != nil {
		return fmt.Errorf("campaign %d: %w", id, err)
	}
	return nil
}

// CampaignBatchDone counts one send job of the campaign done and reports
// whether every job has been counted. A job that runs twice counts twice,
// so "all done" is only a hint to check for rows left (CampaignHasPending).
func CampaignBatchDone(ctx context.Context, db DB, id int64) (all bool, err error) {
	err = db.QueryRow(ctx, `UPDATE campaigns SET batches_done = batches_done + 1 WHERE id = $1
RETURNING batches_done >= batches`, id).Scan(&all)
	if err != nil {
		return false, fmt.Errorf("campaign %d: %w", id, err)
	}
	return all, nil
}

// CampaignHasPending reports whether any of the campaign's rows is still
// queued or being sent. It reads the campaign's whole ledger: call it once
// the jobs are done, not after each.
func CampaignHasPending(ctx context.Context, db DB, id int64) (bool, error) {
	var left bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sends WHERE campaign_id = $1 AND status IN ('queued', 'sending'))`, id).Scan(&left)
	if err != nil {
		return false, fmt.Errorf("campaign %d: %w", id, err)
	}
	return left, nil
}

// CampaignJobsWaitingForSMTP counts the campaign's send jobs that a worker
// put off for want of an SMTP server (they snooze, see jobs.SendBatchWorker):
// what campaign status says when a send seems stuck. kind is the send
// job's River kind (campaign.SendBatchArgs owns it).
func CampaignJobsWaitingForSMTP(ctx context.Context, db DB, kind string, id int64) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $2 AND state = 'scheduled'
    AND (args->>'campaign_id')::bigint = $1 AND COALESCE((metadata->>'snoozes')::int, 0) > 0`, id, kind).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("campaign %d jobs: %w", id, err)
	}
	return n, nil
}
