package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/recs"
	"github.com/remarket/remarket/internal/server"
	"github.com/remarket/remarket/internal/store"
)

func (a *app) serveCmd() *cobra.Command {
	var role string
	var workers int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the webhook server and the background workers",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if role != server.RoleWeb && role != server.RoleWorker && role != server.RoleAll {
				return usagef("--role %q: must be web, worker or all", role)
			}
			if a.cfg.Secret == "" {
				return usagef("REMARKET_SECRET is not set: serve needs a signing key of at least 16 characters (or --secret)")
			}
			return a.serve(cmd.Context(), role, workers)
		},
	}
	cmd.Flags().StringVar(&role, "role", server.RoleAll, "web (HTTP only), worker (jobs only) or all")
	cmd.Flags().IntVar(&workers, "workers", 50, "concurrent ingest jobs in this process")
	return cmd
}

// serve runs until ctx ends (SIGINT, SIGTERM), then shuts down gracefully:
// in-flight requests and running jobs get up to 30 s to finish.
func (a *app) serve(ctx context.Context, role string, workers int) error {
	pool, err := a.db(ctx) // refuses a schema behind this binary
	if err != nil {
		return err
	}
	campaigns, err := a.campaigns(ctx)
	if err != nil {
		return err
	}
	if campaigns.Sender == nil && role != server.RoleWeb {
		a.log.Warn("REMARKET_SMTP_URL is not set: campaign email will wait until it is configured")
	}
	inboundTLS, err := a.inboundTLS()
	if err != nil {
		return err
	}
	srv, err := server.New(server.Params{Pool: pool, Role: role, Addr: a.cfg.HTTPAddr, Logger: a.log, Workers: workers,
		Secret: a.cfg.Secret, Campaigns: campaigns, AdminToken: a.cfg.AdminToken,
		InboundAddr: a.cfg.InboundAddr, UnsubscribeDomain: a.cfg.UnsubscribeDomain, InboundTLS: inboundTLS})
	if err != nil {
		return err
	}
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	go a.warmModels(ctx, campaigns)
	if a.cfg.InboundAddr != "" && role == server.RoleWorker {
		a.log.Warn("REMARKET_INBOUND_ADDR is ignored by --role worker: run the inbound SMTP server with web or all")
	}
	a.log.Info("remarket serving", "role", role, "addr", srv.Addr(), "inbound_addr", srv.InboundAddr())
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		if !errors.Is(err, http.ErrServerClosed) {
			return err // says which server stopped
		}
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// warmModels trains every store's recommendation model in the background, so
// that the first preview or recs show does not wait for it.
func (a *app) warmModels(ctx context.Context, campaigns *campaign.Service) {
	r, ok := campaigns.Composer.Recs.(*recs.Service)
	if !ok {
		return
	}
	stores, err := store.StoreList(ctx, a.pool)
	if err != nil {
		a.log.Warn("warm models", "error", err)
		return
	}
	for _, st := range stores {
		start := time.Now()
		if _, err := r.Model(ctx, st.ID); err != nil {
			a.log.Warn("warm model", "store_id", st.ID, "error", err)
			continue
		}
		a.log.Info("model ready", "store_id", st.ID, "took", time.Since(start).Round(time.Millisecond))
	}
}

// inboundTLS loads the inbound server's certificate; nil when none is
// configured.
func (a *app) inboundTLS() (*tls.Config, error) {
	if a.cfg.InboundTLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(a.cfg.InboundTLSCert, a.cfg.InboundTLSKey)
	if err != nil {
		return nil, fmt.Errorf("REMARKET_INBOUND_TLS_CERT / REMARKET_INBOUND_TLS_KEY: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
