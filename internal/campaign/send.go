package campaign

import (
	"context"
	"errors"
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
	// Rows a crashed run left mid-conversation may have been delivered:
	// SendJobStart marks them failed.
	camp, st, err := store.SendJobStart(ctx, s.DB, a.CampaignID, a.FromID, a.ToID, 5*time.Minute)
	if err != nil {
		return err
	}
	if camp.Status == store.CampaignCancelled {
		return nil
	}
	// Cancel marks the queued rows skipped; this stops sending the claimed ones.
	cancelled := s.cancelWatch(ctx, a.CampaignID)
	for !cancelled() {
		rows, err := store.SendClaimMany(ctx, s.DB, a.CampaignID, a.FromID, a.ToID, claimChunk, s.FrequencyCapHours)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return s.maybeFinish(ctx, a.CampaignID)
		}
		if err := s.sendChunk(ctx, st, camp, rows, lastAttempt, cancelled); err != nil {
			return err
		}
	}
	return nil
}

// claimChunk is how many rows a worker claims at a time: enough to share
// the queries and their commits (a claim must reach the disk before its
// emails go), few enough that a crash leaves little marked "may have been
// delivered", and that the consent check at the claim stays a fraction of a
// second before the send (a slower chunk checks again, see waitCheck).
// Against 50, 100 halved PostgreSQL's CPU per email in the benchmark
// (40 µs against 55–60); 200 saved little more.
const claimChunk = 100

// sendChunk skips the rows that may no longer be mailed, composes the rest
// together and sends them one by one, then records every outcome in one
// statement. If the process dies before that, the rows stay "sending" and
// are later marked failed as "may have been delivered": never sent twice.
func (s *Service) sendChunk(ctx context.Context, st store.Store, camp store.Campaign, rows []store.Claimed, lastAttempt bool, cancelled func() bool) error {
	done := outcomes{written: time.Now()}
	var todo []store.Claimed
	var rs []Recipient
	for _, r := range rows {
		if r.SkipReason != "" {
			done.add(r.ID, store.SendResult{Status: "skipped", Reason: r.SkipReason})
			continue
		}
		todo, rs = append(todo, r), append(rs, Recipient{Customer: r.Customer, SendID: r.ID, Recent: r.Recent, RecentKnown: true})
	}
	if len(todo) > 0 {
		composed, err := s.Composer.ComposeMany(ctx, st, camp, rs)
		if err != nil {
			return s.stopChunk(ctx, &done, todo, err)
		}
		// The claim checked consent, suppression and the frequency cap;
		// a chunk sent slowly (a rate limit) checks its rest again, so that
		// an unsubscribe counts within moments, not only at the next claim.
		checked, stale := time.Now(), map[int64]string{}
		for i, r := range todo {
			if cancelled() {
				// Cancelled mid-chunk: what is left goes nowhere.
				for _, rest := range todo[i:] {
					done.add(rest.ID, store.SendResult{Status: "skipped", Reason: store.SkipCancelled})
				}
				break
			}
			if time.Since(checked) > waitCheck {
				if stale, err = store.SkipReasonsNow(ctx, s.DB, camp.ID, customerIDs(todo[i:]), s.FrequencyCapHours); err != nil {
					return s.stopChunk(ctx, &done, todo[i:], err)
				}
				checked = time.Now()
			}
			if why := stale[r.CustomerID]; why != "" {
				done.add(r.ID, store.SendResult{Status: "skipped", Reason: why})
				continue
			}
			if len(composed[i].Products) == 0 && NeedsProducts(camp.Template) {
				done.add(r.ID, store.SendResult{Status: "skipped", Reason: store.SkipNothingToRecommend})
				continue
			}
			res, err := s.sendOne(ctx, st, r.Send, composed[i], lastAttempt)
			if err != nil {
				done.add(r.ID, store.SendResult{Status: "queued", Reason: "retrying: " + err.Error()})
				s.Log.WarnContext(ctx, "send deferred", "campaign_id", camp.ID, "send_id", r.ID, "error", err)
				return s.stopChunk(ctx, &done, todo[i+1:], err)
			}
			done.add(r.ID, res)
			// A chunk sent slowly (a rate limit) records as it goes, so
			// that status shows it; at full speed a chunk takes well under
			// this and is recorded in one statement.
			if time.Since(done.written) > recordEvery {
				if err := done.flush(ctx, s.DB); err != nil {
					return s.abandonChunk(ctx, &done, todo[i+1:], err)
				}
			}
		}
	}
	if err := done.flush(ctx, s.DB); err != nil {
		return s.abandonChunk(ctx, &done, nil, err)
	}
	return nil
}

// recordEvery is how often a chunk records what it has sent so far.
const recordEvery = time.Second

// cancelWatch returns a check, cheap to call before every claim and every
// send, of whether the campaign was cancelled: it asks the database at most
// every waitCheck, so that a chunk sent slowly (a rate limit) stops within a
// moment too. The campaign was just read when it starts.
func (s *Service) cancelWatch(ctx context.Context, id int64) func() bool {
	checked := time.Now()
	return func() bool {
		if time.Since(checked) < waitCheck {
			return false
		}
		checked = time.Now()
		c, err := store.CampaignGet(ctx, s.DB, id)
		return err == nil && c.Status == store.CampaignCancelled
	}
}

func claimedIDs(rows []store.Claimed) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func customerIDs(rows []store.Claimed) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.CustomerID
	}
	return ids
}

// outcomes collects ledger results to write together.
type outcomes struct {
	ids     []int64
	rs      []store.SendResult
	written time.Time // when results were last written, or the chunk began
}

func (o *outcomes) add(id int64, r store.SendResult) {
	o.ids, o.rs = append(o.ids, id), append(o.rs, r)
}

func (o *outcomes) flush(ctx context.Context, db store.DB) error {
	if len(o.ids) == 0 {
		return nil
	}
	if err := store.SendFinishMany(context.WithoutCancel(ctx), db, o.ids, o.rs); err != nil {
		return err // the results stay, for abandonChunk
	}
	o.ids, o.rs, o.written = nil, nil, time.Now()
	return nil
}

// stopChunk ends a chunk early for cause: the results so far are written
// and rest goes back to the queue; if the write fails, abandonChunk gives
// back every row not handed to the server.
func (s *Service) stopChunk(ctx context.Context, done *outcomes, rest []store.Claimed, cause error) error {
	if err := done.flush(ctx, s.DB); err != nil {
		return s.abandonChunk(ctx, done, rest, errors.Join(cause, err))
	}
	return s.giveBack(ctx, rest, cause)
}

// abandonChunk follows a failure to record results mid-chunk: the rows
// handed to the server stay "sending" (later "may have been delivered",
// never sent twice); every other row of the chunk, with a result not
// written (skipped, or a temporary failure) or not tried yet, goes back to
// the queue, to be checked again when the job retries.
func (s *Service) abandonChunk(ctx context.Context, done *outcomes, rest []store.Claimed, cause error) error {
	var back []int64
	for i, r := range done.rs {
		if r.Status != "sent" {
			back = append(back, done.ids[i])
		}
	}
	done.ids, done.rs = nil, nil
	for _, r := range rest {
		back = append(back, r.ID)
	}
	return s.giveBackIDs(ctx, back, cause)
}

// sendOne sends one composed message and says what to record. An error
// means a temporary failure: the row goes back to the queue and the job is
// retried.
func (s *Service) sendOne(ctx context.Context, st store.Store, row store.Send, c Composed, lastAttempt bool) (store.SendResult, error) {
	res, err := s.Sender.Send(ctx, c.Message)
	switch {
	case err == nil || errors.Is(err, mailer.ErrAfterHandoff):
		note := ""
		if err != nil {
			note = "accepted by the server; then: " + err.Error()
		}
		return store.SendResult{Status: "sent", Reason: note, MessageID: res.MessageID, Products: c.Products}, nil
	case errors.Is(err, mailer.ErrPermanent):
		// Only a refused recipient is the address's fault; a 5xx to MAIL
		// FROM or to the content is ours, and must not suppress anyone.
		if mailer.IsBounce(err) {
			if serr := store.SuppressionAdd(ctx, s.DB, st.ID, row.Email, store.SuppressBounced, err.Error()); serr != nil {
				return store.SendResult{}, serr
			}
		}
		return store.SendResult{Status: "failed", Reason: err.Error()}, nil
	case errors.Is(err, mailer.ErrInvalidMessage):
		return store.SendResult{Status: "failed", Reason: err.Error()}, nil
	case lastAttempt:
		return store.SendResult{Status: "failed", Reason: "gave up after retries: " + err.Error()}, nil
	}
	return store.SendResult{}, err
}

// giveBack returns claimed rows to the queue and the error to River, which
// retries the job with backoff. It runs even when the job's context ended
// (a timeout, a shutdown): rows left "sending" would wait five minutes and
// then count as "may have been delivered" although they never went.
func (s *Service) giveBack(ctx context.Context, rows []store.Claimed, cause error) error {
	return s.giveBackIDs(ctx, claimedIDs(rows), cause)
}

func (s *Service) giveBackIDs(ctx context.Context, ids []int64, cause error) error {
	var back outcomes
	for _, id := range ids {
		back.add(id, store.SendResult{Status: "queued", Reason: "retrying: " + cause.Error()})
	}
	if err := back.flush(ctx, s.DB); err != nil { // flush outlives ctx
		return errors.Join(cause, err)
	}
	return cause
}

// maybeFinish counts the job done and, once every job of the campaign has
// been, marks the campaign sent if no row is waiting or in flight.
func (s *Service) maybeFinish(ctx context.Context, id int64) error {
	all, err := store.CampaignBatchDone(ctx, s.DB, id)
	if err != nil || !all {
		return err
	}
	left, err := store.CampaignHasPending(ctx, s.DB, id)
	if err != nil || left {
		return err
	}
	err = store.CampaignSetStatus(ctx, s.DB, id, store.CampaignSent, store.CampaignSending)
	if errors.Is(err, store.ErrWrongState) {
		return nil // another batch finished it, or it was cancelled
	}
	return err
}

// NeedsProducts says whether an email is about its recommendations, so that
// one with none would be empty: a customer who owns the whole catalog gets
// no cross-sell email rather than a blank one.
func NeedsProducts(template string) bool {
	switch template {
	case "abandoned-checkout", "thank-you":
		return false
	}
	return true
}
