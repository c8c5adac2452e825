package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/segment"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

// Sender delivers one message; *mailer.Mailer is one.
type Sender interface {
	Send(ctx context.Context, m mailer.Message) (mailer.Result, error)
}

// ErrNoSender is returned when sending is asked of a process without SMTP.
var ErrNoSender = errors.New("no SMTP server configured: set REMARKET_SMTP_URL")

// Service runs campaigns.
type Service struct {
	DB       *pgxpool.Pool
	Composer *Composer
	Sender   Sender // nil: sending is refused with ErrNoSender
	River    *river.Client[pgx.Tx]
	Log      *slog.Logger
	// FrequencyCapHours: a customer who got marketing email within this many
	// hours is skipped (0: no cap; remarket's commands use
	// DefaultFrequencyCapHours).
	FrequencyCapHours int
	// BatchSize is how many recipients one send job takes; one job per
	// recipient would cost more than the email. 0: see batchSize.
	BatchSize int
	// RatePerSecond is the SMTP send rate limit, 0 for none
	// (REMARKET_SMTP_RATE): behind one, jobs are smaller and may run longer
	// (JobTimeout).
	RatePerSecond float64
}

// CreateParams describes a new campaign.
type CreateParams struct {
	Name, Template, Strategy, Segment, Subject string
	K                                          int
}

// Create validates and stores a draft campaign.
func (s *Service) Create(ctx context.Context, st store.Store, p CreateParams) (store.Campaign, error) {
	if p.Strategy == "" {
		p.Strategy = recommend.Blend
	}
	if !slices.Contains(recommend.Strategies, p.Strategy) {
		return store.Campaign{}, fmt.Errorf("strategy %q: use one of %v", p.Strategy, recommend.Strategies)
	}
	if !slices.Contains(s.Composer.Renderer.Names(), p.Template) {
		return store.Campaign{}, fmt.Errorf("template %q: use one of %v", p.Template, s.Composer.Renderer.Names())
	}
	if _, err := segment.Parse(p.Segment); err != nil {
		return store.Campaign{}, err
	}
	if p.K <= 0 || p.K > 24 {
		return store.Campaign{}, fmt.Errorf("k %d: use 1 to 24 products", p.K)
	}
	if p.Subject != "" {
		if err := s.Composer.Renderer.CheckSubject(p.Template, p.Subject); err != nil {
			return store.Campaign{}, err
		}
	}
	return store.CampaignInsert(ctx, s.DB, store.Campaign{StoreID: st.ID, Name: p.Name, Template: p.Template,
		Strategy: p.Strategy, K: p.K, Segment: p.Segment, Subject: p.Subject})
}

// Audience compiles a campaign's segment for its store.
func (s *Service) Audience(st store.Store, camp store.Campaign) (store.Audience, error) {
	e, err := segment.Parse(camp.Segment)
	if err != nil {
		return store.Audience{}, err
	}
	where, args := segment.Compile(e, 3, shop.MinorDigits(st.Currency))
	return store.Audience{StoreID: st.ID, Where: where, Args: args, FrequencyCapHour: s.FrequencyCapHours}, nil
}

// Plan counts who would get the campaign now and who would be skipped, by
// reason ("" is the number who would get it).
func (s *Service) Plan(ctx context.Context, st store.Store, camp store.Campaign) (map[string]int64, error) {
	a, err := s.Audience(st, camp)
	if err != nil {
		return nil, err
	}
	return store.AudienceCount(ctx, s.DB, a)
}

// Started says what Start queued.
type Started struct {
	Queued, Skipped int64
	Jobs            int
}

// Start fills the ledger (one row per customer of the segment, queued or
// skipped) and fans the queued rows out as River jobs of BatchSize
// recipients each, inserted a thousand at a time. Recipients are streamed,
// never all held in memory. The workers of `remarket serve` send them.
func (s *Service) Start(ctx context.Context, st store.Store, camp store.Campaign) (Started, error) {
	a, err := s.Audience(st, camp)
	if err != nil {
		return Started{}, err
	}
	// Checked at create too; again here, before anything is written, for
	// drafts saved before subjects were templates, or whose template
	// changed since: a subject that fails would fail every chunk of the send.
	if camp.Subject != "" && s.Composer != nil {
		if err := s.Composer.Renderer.CheckSubject(camp.Template, camp.Subject); err != nil {
			return Started{}, err
		}
	}
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		if err := store.CampaignSetStatus(ctx, tx, camp.ID, store.CampaignSending, store.CampaignDraft); err != nil {
			return err
		}
		_, err := store.LedgerFill(ctx, tx, camp.ID, a)
		return err
	})
	if err != nil {
		return Started{}, err
	}
	// The ledger just grew by the whole audience. With statistics from when
	// it was small, the planner answers "what was this customer sent lately"
	// by reading every sent row, once per chunk of recipients: a send that
	// slows down as it goes.
	if err := store.AnalyzeSends(ctx, s.DB); err != nil {
		return Started{}, err
	}
	p, err := store.CampaignProgress(ctx, s.DB, camp.ID)
	if err != nil {
		return Started{}, err
	}
	res := Started{Queued: p.Queued, Skipped: p.Skipped}
	if p.Queued == 0 {
		return res, store.CampaignSetStatus(ctx, s.DB, camp.ID, store.CampaignSent, store.CampaignSending)
	}
	// Each job counts itself done; the last to do so closes the campaign.
	// LedgerRanges cuts the queued rows into exactly this many ranges.
	size := s.batchSize(p.Queued)
	if err := store.CampaignSetBatches(ctx, s.DB, camp.ID, int((p.Queued+int64(size)-1)/int64(size))); err != nil {
		return res, err
	}
	var batch []river.InsertManyParams
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.River.InsertMany(ctx, batch)
		batch = batch[:0]
		return err
	}
	err = store.LedgerRanges(ctx, s.DB, camp.ID, size, func(from, to int64) error {
		batch = append(batch, river.InsertManyParams{Args: SendBatchArgs{CampaignID: camp.ID, FromID: from, ToID: to}})
		res.Jobs++
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return res, fmt.Errorf("enqueue campaign %d: %w", camp.ID, err)
	}
	return res, nil
}

// batchSize is how many of queued recipients a job takes: BatchSize when
// set, else up to maxBatch (four claims a job: fewer jobs to fetch and count
// done), cut into whole rounds of EmailWorkers jobs, so that every worker
// has one to the end and none waits for a last few (3,000 recipients are 16
// jobs of 188: against 30 jobs of 100, 0.60 → 0.66 × the plain go-mail loop,
// eight runs of each in turn); and not below a claim. Behind a rate limit,
// which the workers share, a job is at most what they send in half an
// hour, so that it ends well within JobTimeout's hour.
func (s *Service) batchSize(queued int64) int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	jobs := EmailWorkers * ((queued + EmailWorkers*maxBatch - 1) / (EmailWorkers * maxBatch))
	size := max((queued+jobs-1)/jobs, claimChunk)
	if s.RatePerSecond > 0 {
		size = min(size, max(int64(s.RatePerSecond*1800/EmailWorkers), 1))
	}
	return int(size)
}

// DefaultFrequencyCapHours is the frequency cap of remarket's commands: a
// customer mailed within the last 20 hours gets no other campaign's email.
const DefaultFrequencyCapHours = 20

// EmailWorkers is how many send jobs `remarket serve` runs at once.
const EmailWorkers = 16

// maxBatch is the most recipients a job takes unless BatchSize says.
const maxBatch = 400

// JobTimeout is how long a send job may run: an hour, or, behind a rate
// limit, twice what its range takes when all the email workers share the
// rate, if that is longer (a campaign planned by a process that did not
// know the rate may have larger jobs).
func (s *Service) JobTimeout(a SendBatchArgs) time.Duration {
	t := time.Hour
	if s.RatePerSecond > 0 {
		n := float64(a.ToID - a.FromID + 1)
		t = max(t, time.Duration(2*n*EmailWorkers/s.RatePerSecond*float64(time.Second)))
	}
	return t
}

// Cancel stops a campaign: workers check before every send, so no further
// email goes out within moments. Rows still queued are skipped.
func (s *Service) Cancel(ctx context.Context, id int64) error {
	if err := store.CampaignSetStatus(ctx, s.DB, id, store.CampaignCancelled, store.CampaignDraft, store.CampaignSending); err != nil {
		return err
	}
	_, err := s.DB.Exec(ctx, `UPDATE sends SET status = 'skipped', reason = $2 WHERE campaign_id = $1 AND status = 'queued'`,
		id, store.SkipCancelled)
	return err
}

// Customer loads one customer of a store by email or id.
func (s *Service) Customer(ctx context.Context, storeID int64, ref string) (store.Customer, error) {
	return store.CustomerFind(ctx, s.DB, storeID, ref)
}

// waitCheck bounds how stale a worker's view of the campaign's status may be.
const waitCheck = 250 * time.Millisecond
