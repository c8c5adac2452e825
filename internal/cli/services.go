package cli

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/recs"
	"github.com/remarket/remarket/internal/render"
	"github.com/remarket/remarket/internal/track"
)

// campaigns builds the campaign service from the settings: templates
// (REMARKET_TEMPLATES or embedded), links signed with REMARKET_SECRET, and
// SMTP when REMARKET_SMTP_URL is set (Sender stays nil otherwise). It needs
// the secret: the commands that use it render emails.
func (a *app) campaigns(ctx context.Context) (*campaign.Service, error) {
	if a.cfg.Secret == "" {
		return nil, usagef("REMARKET_SECRET is not set: emails carry signed unsubscribe links (set it, or --secret, to 16 or more characters)")
	}
	return a.campaignPlanner(ctx)
}

// campaignPlanner is the campaign service for commands that plan, create
// and queue campaigns but render no email (create, send, show): without
// REMARKET_SECRET it has no link signer, and composing then fails.
func (a *app) campaignPlanner(ctx context.Context) (*campaign.Service, error) {
	pool, err := a.db(ctx)
	if err != nil {
		return nil, err
	}
	r, err := render.Load(a.templatesDir())
	if err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: quietLogger(a.env.Stderr)})
	if err != nil {
		return nil, err
	}
	svc := &campaign.Service{
		DB: pool,
		Composer: &campaign.Composer{DB: pool, Renderer: r, Links: a.signer(), PublicURL: a.cfg.PublicBase(),
			UnsubscribeDomain: a.cfg.UnsubscribeDomain,
			Recs:              &recs.Service{DB: pool, Opts: recommend.DefaultOptions, CheckEvery: 5 * time.Second}},
		River:             client,
		Log:               a.log,
		FrequencyCapHours: campaign.DefaultFrequencyCapHours,
		RatePerSecond:     a.cfg.SMTPRatePerSecond(),
	}
	if a.cfg.SMTPURL != "" {
		m, err := mailer.New(mailer.Config{URL: a.cfg.SMTPURL, Connections: a.cfg.SMTPConnectionCount(), NoNoopRset: true, Logger: a.log,
			RatePerSecond: a.cfg.SMTPRatePerSecond(), Timeout: 30 * time.Second})
		if err != nil {
			return nil, usagef("REMARKET_SMTP_URL: %v", err)
		}
		svc.Sender = m
	}
	return svc, nil
}

func (a *app) templatesDir() string { return a.cfg.Templates }

// signer signs links with REMARKET_SECRET; nil without one.
func (a *app) signer() *track.Signer {
	if a.cfg.Secret == "" {
		return nil
	}
	return track.NewSigner(a.cfg.Secret)
}
