package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/store"
)

// SendBatchArgs is the River job that sends one range of a campaign's ledger.
type SendBatchArgs struct {
	CampaignID int64 `json:"campaign_id"`
	FromID     int64 `json:"from_id"`
	ToID       int64 `json:"to_id"`
}

// Kind is stable.
func (SendBatchArgs) Kind() string { return "campaign_send_batch" }

// InsertOpts: email gets its own queue, and a few attempts (a 4xx retries
// with River's backoff; twenty days of retries would be spam).
func (SendBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEmail, MaxAttempts: 8}
}

// QueueEmail is the queue send jobs run on.
const QueueEmail = "email"

// SendBatch sends every queued row in the job's range, one at a time: each
// row is claimed (committed) before its SMTP conversation, re-checked for
// consent, suppression and frequency right before it goes, and finished with
// its outcome. A temporary SMTP failure gives the row back and returns an
// error, so River retries the job later; rows already sent are not touched
// again. On the job's last attempt a temporary failure is final instead.
func (s *Service) SendBatch(ctx context.Context, a SendBatchArgs, lastAttempt bool) error {
	camp, err := store.CampaignGet(ctx, s.DB, a.CampaignID)
	if err != nil {
		return err
	}
	st, err := store.StoreFind(ctx, s.DB, fmt.Sprint(camp.StoreID))
	if err != nil {
		return err
	}
	// Rows a crashed run left mid-conversation may have been delivered.
	if _, err := store.SendsAbandon(ctx, s.DB, a.CampaignID, a.FromID, a.ToID, 5*time.Minute); err != nil {
		return err
	}
	checked := time.Time{}
	for {
		if time.Since(checked) > waitCheck {
			if camp, err = store.CampaignGet(ctx, s.DB, a.CampaignID); err != nil {
				return err
			}
			if camp.Status == store.CampaignCancelled {
				return nil
			}
			checked = time.Now()
		}
		row, ok, err := store.SendClaim(ctx, s.DB, a.CampaignID, a.FromID, a.ToID)
		if err != nil || !ok {
			if err == nil {
				err = s.maybeFinish(ctx, a.CampaignID)
			}
			return err
		}
		if err := s.sendOne(ctx, st, camp, row, lastAttempt); err != nil {
			return err
		}
	}
}

func (s *Service) sendOne(ctx context.Context, st store.Store, camp store.Campaign, row store.Send, lastAttempt bool) error {
	reason, _, err := store.SkipReasonNow(ctx, s.DB, row.CustomerID, s.FrequencyCapHours)
	if err != nil {
		return s.giveBack(ctx, row, err)
	}
	if reason != "" {
		return store.SendFinish(ctx, s.DB, row.ID, store.SendResult{Status: "skipped", Reason: reason})
	}
	cu, err := store.CustomerGet(ctx, s.DB, row.CustomerID)
	if err != nil {
		return s.giveBack(ctx, row, err)
	}
	c, err := s.Composer.Compose(ctx, st, camp, cu, row.ID)
	if err != nil {
		return s.fail(ctx, row, "compose: "+err.Error())
	}
	res, err := s.Sender.Send(ctx, c.Message)
	switch {
	case err == nil || errors.Is(err, mailer.ErrAfterHandoff):
		note := ""
		if err != nil {
			note = "accepted by the server; then: " + err.Error()
		}
		return store.SendFinish(ctx, s.DB, row.ID, store.SendResult{Status: "sent", Reason: note, MessageID: res.MessageID, Products: c.Products})
	case errors.Is(err, mailer.ErrPermanent):
		// Only a refused recipient is the address's fault; a 5xx to MAIL
		// FROM or to the content is ours, and must not suppress anyone.
		if mailer.IsBounce(err) {
			if err := store.SuppressionAdd(ctx, s.DB, st.ID, row.Email, store.SuppressBounced, err.Error()); err != nil {
				return err
			}
		}
		return s.fail(ctx, row, err.Error())
	case errors.Is(err, mailer.ErrInvalidMessage):
		return s.fail(ctx, row, err.Error())
	}
	if lastAttempt {
		return s.fail(ctx, row, "gave up after retries: "+err.Error())
	}
	s.Log.WarnContext(ctx, "send deferred", "campaign_id", camp.ID, "send_id", row.ID, "error", err)
	return s.giveBack(ctx, row, err)
}

// giveBack returns a claimed row to the queue and the error to River, which
// retries the job with backoff.
func (s *Service) giveBack(ctx context.Context, row store.Send, cause error) error {
	if err := store.SendFinish(ctx, s.DB, row.ID, store.SendResult{Status: "queued", Reason: "retrying: " + cause.Error()}); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

func (s *Service) fail(ctx context.Context, row store.Send, reason string) error {
	return store.SendFinish(ctx, s.DB, row.ID, store.SendResult{Status: "failed", Reason: reason})
}

// maybeFinish marks the campaign sent once no row is waiting or in flight.
func (s *Service) maybeFinish(ctx context.Context, id int64) error {
	p, err := store.CampaignProgress(ctx, s.DB, id)
	if err != nil || p.Queued > 0 || p.Sending > 0 {
		return err
	}
	err = store.CampaignSetStatus(ctx, s.DB, id, store.CampaignSent, store.CampaignSending)
	if errors.Is(err, store.ErrWrongState) {
		return nil // another batch finished it, or it was cancelled
	}
	return err
}
