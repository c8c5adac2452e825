// Package server wires a remarket process together: database pool, River
// client and workers, the webhook accepter and the HTTP server. Tests start
// it on 127.0.0.1:0.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/httpapi"
	"github.com/remarket/remarket/internal/inbound"
	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/jobs"
	"github.com/remarket/remarket/internal/track"
)

// Roles a process can take; several processes on several hosts may share one
// database in any mix.
const (
	RoleWeb    = "web"
	RoleWorker = "worker"
	RoleAll    = "all"
)

// Params configures New.
type Params struct {
	Pool    *pgxpool.Pool
	Role    string // RoleAll when empty
	Addr    string // HTTP listen address; web and all only
	Logger  *slog.Logger
	Workers int    // River workers for the ingest queue; default 50
	Secret  string // signs links (unsubscribe); "" disables the link endpoints
	// Campaigns sends campaign email in the worker role; nil when the
	// process has no SMTP server (send jobs then wait).
	Campaigns *campaign.Service
	// AdminToken enables the admin API (GET /admin/recs) when Campaigns is set.
	AdminToken string
	// InboundAddr, when set, runs the inbound SMTP server there (web and
	// all): mail to unsubscribe+TOKEN@UnsubscribeDomain unsubscribes. It
	// needs Secret and UnsubscribeDomain.
	InboundAddr       string
	UnsubscribeDomain string
	// InboundTLS, when set, makes the inbound server offer STARTTLS.
	InboundTLS *tls.Config
}

// Server is one running remarket process.
type Server struct {
	p        Params
	river    *river.Client[pgx.Tx]
	accepter *ingest.Accepter
	http     *http.Server
	ln       net.Listener
	inbound  *inbound.Server // nil unless InboundAddr is set
	serveErr chan error
}

// New builds the process for its role; Start runs it.
func New(p Params) (*Server, error) {
	if p.Role == "" {
		p.Role = RoleAll
	}
	if p.Role != RoleWeb && p.Role != RoleWorker && p.Role != RoleAll {
		return nil, fmt.Errorf("role %q: must be web, worker or all", p.Role)
	}
	if p.Workers <= 0 {
		p.Workers = 50
	}
	// River fetches at most MaxWorkers jobs per FetchCooldown (100 ms by
	// default), which caps a busy queue at 500 jobs/s; deliveries are small
	// jobs, so fetch far more often.
	cfg := &river.Config{Logger: p.Logger, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 200 * time.Millisecond}
	if p.Role != RoleWeb {
		cfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault:  {MaxWorkers: 10},
			ingest.QueueIngest:  {MaxWorkers: p.Workers},
			campaign.QueueEmail: {MaxWorkers: campaign.EmailWorkers},
		}
		cfg.Workers = jobs.Workers(p.Pool, p.Campaigns, p.Logger)
		cfg.PeriodicJobs = jobs.PeriodicJobs()
	}
	client, err := river.NewClient(riverpgxv5.New(p.Pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s := &Server{p: p, river: client, serveErr: make(chan error, 2)} // HTTP's and the inbound server's
	if p.Role != RoleWorker {
		s.accepter = ingest.NewAccepter(ingest.AccepterParams{Pool: p.Pool, River: client, Logger: p.Logger})
		api := &httpapi.API{
			Stores:   &httpapi.StoreCache{DB: p.Pool, TTL: 5 * time.Second},
			Accepter: s.accepter,
			DB:       p.Pool,
			Log:      p.Logger,
		}
		if p.Secret != "" {
			api.Links = track.NewSigner(p.Secret)
		}
		if p.Campaigns != nil && p.Campaigns.Composer != nil {
			api.Recs, api.AdminToken = p.Campaigns.Composer.Recs, p.AdminToken
		}
		s.http = &http.Server{Handler: api.Routes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
		if p.InboundAddr != "" {
			if api.Links == nil {
				return nil, errors.New("inbound SMTP server: no Secret to verify unsubscribe tokens with")
			}
			s.inbound, err = inbound.New(inbound.Params{DB: p.Pool, Links: api.Links, Domain: p.UnsubscribeDomain, Logger: p.Logger,
				TLS: p.InboundTLS})
			if err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Start listens (web) and starts the workers (worker); it returns once both
// are running.
func (s *Server) Start(ctx context.Context) (err error) {
	// What started is stopped again if a later part fails.
	defer func() {
		if err == nil {
			return
		}
		if s.ln != nil {
			_ = s.http.Close()
			_ = s.ln.Close()
		}
		if s.inbound != nil {
			_ = s.inbound.Close()
		}
	}()
	if s.inbound != nil {
		if err := s.inbound.Start(s.p.InboundAddr); err != nil {
			return err
		}
		go func() {
			if err, ok := <-s.inbound.Done(); ok {
				s.serveErr <- fmt.Errorf("inbound SMTP server: %w", err)
			}
		}()
	}
	if s.http != nil {
		ln, err := net.Listen("tcp", s.p.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.p.Addr, err)
		}
		s.ln = ln
		go func() { s.serveErr <- fmt.Errorf("http server: %w", s.http.Serve(ln)) }()
	}
	if s.p.Role != RoleWeb {
		if err := s.river.Start(ctx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
	}
	return nil
}

// Addr is the address the HTTP server listens on ("" for a worker).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// InboundAddr is the address the inbound SMTP server listens on ("" when
// there is none).
func (s *Server) InboundAddr() string {
	if s.inbound == nil {
		return ""
	}
	return s.inbound.Addr()
}

// River is the process's River client, for inserting jobs.
func (s *Server) River() *river.Client[pgx.Tx] { return s.river }

// Done delivers the HTTP server's error, or the inbound SMTP server's, if
// one stops on its own (after Shutdown, HTTP's is http.ErrServerClosed).
func (s *Server) Done() <-chan error { return s.serveErr }

// Shutdown stops taking requests, lets in-flight requests and their commits
// finish, then lets running jobs finish, all within ctx. The inbound SMTP
// server meanwhile lets the messages it is receiving finish.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	var inboundErr chan error
	if s.inbound != nil {
		inboundErr = make(chan error, 1)
		go func() { inboundErr <- s.inbound.Shutdown(ctx) }()
	}
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
		s.accepter.Close()
	}
	if s.p.Role != RoleWeb {
		errs = append(errs, s.river.Stop(ctx))
	}
	if inboundErr != nil {
		errs = append(errs, <-inboundErr)
	}
	return errors.Join(errs...)
}
