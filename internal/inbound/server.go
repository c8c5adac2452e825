// Package inbound is remarket's inbound mailbox: an SMTP server
// (github.com/emersion/go-smtp) for the mail a customer's mail client sends
// when they unsubscribe through the mailto: URI in List-Unsubscribe. Mail to
// unsubscribe+TOKEN@REMARKET_UNSUBSCRIBE_DOMAIN, TOKEN signed with
// track.PurposeUnsubscribe, unsubscribes the customer the token names,
// exactly as the one-click link (POST /u/{token}) does.
//
// It accepts nothing else: every other recipient is refused at RCPT, there
// is no AUTH and no relaying, and bodies are read, size-limited, and
// dropped. Nobody reads this mailbox, so nothing in a message is kept or
// logged; the token alone decides.
package inbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"

	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// Source is the consent source recorded for a customer who unsubscribed by
// email (the link records "unsubscribe link").
const Source = "unsubscribe email"

// Defaults for the limits in Params.
const (
	DefaultMaxMessageBytes = 1 << 20 // an unsubscribe mail is a subject line; 1 MiB leaves room for a client's HTML and signature
	DefaultMaxConnections  = 100
	DefaultReadTimeout     = time.Minute
	DefaultWriteTimeout    = 30 * time.Second
	maxRecipients          = 10
	dbTimeout              = 10 * time.Second
)

// Replies the server gives; a sender's MTA turns the 5xx ones into a bounce
// and retries the 4xx ones.
var (
	errUnknownAddress = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "unknown unsubscribe address"}
	errTestAddress    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "address from a test email: it unsubscribes nobody"}
	errRelay          = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}
	errTryLater       = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot unsubscribe just now, try again later"}
)

// Params configures New. DB, Links and Domain are required.
type Params struct {
	DB     store.DB
	Links  *track.Signer // verifies the tokens (REMARKET_SECRET)
	Domain string        // REMARKET_UNSUBSCRIBE_DOMAIN: only unsubscribe+TOKEN@Domain is accepted
	Logger *slog.Logger  // nil discards
	// TLS, when set, offers STARTTLS (RFC 3207) with it: sending servers
	// then deliver encrypted. Plain delivery stays possible, as for any MX.
	TLS *tls.Config

	// Limits; zero picks the default.
	MaxMessageBytes int64 // larger messages get 552 and unsubscribe nobody
	MaxConnections  int   // further connections wait in the listen backlog
	// ReadTimeout bounds the wait for each command, and for the whole
	// message after DATA.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// Server is the inbound SMTP server. Start runs it; Shutdown stops it.
type Server struct {
	p      Params
	log    *slog.Logger
	srv    *smtp.Server
	ln     net.Listener
	ctx    context.Context // for database calls; cancelled by Close
	cancel context.CancelFunc
	served chan struct{} // closed when the accept loop returns
	done   chan error    // the accept loop's error if it stops on its own

	closing atomic.Bool
	busy    atomic.Int64 // sessions between MAIL and the end of their transaction
}

// New checks p and builds the server; it fails when a required field is
// missing.
func New(p Params) (*Server, error) {
	switch {
	case p.DB == nil:
		return nil, errors.New("inbound: no database")
	case p.Links == nil:
		return nil, errors.New("inbound: no token signer (REMARKET_SECRET)")
	case p.Domain == "":
		return nil, errors.New("inbound: no unsubscribe domain (REMARKET_UNSUBSCRIBE_DOMAIN)")
	}
	if p.MaxMessageBytes <= 0 {
		p.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if p.MaxConnections <= 0 {
		p.MaxConnections = DefaultMaxConnections
	}
	if p.ReadTimeout <= 0 {
		p.ReadTimeout = DefaultReadTimeout
	}
	if p.WriteTimeout <= 0 {
		p.WriteTimeout = DefaultWriteTimeout
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{p: p, log: log, served: make(chan struct{}), done: make(chan error, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = p.Domain
	srv.TLSConfig = p.TLS
	srv.MaxMessageBytes = p.MaxMessageBytes
	srv.MaxRecipients = maxRecipients
	srv.ReadTimeout = p.ReadTimeout
	srv.WriteTimeout = p.WriteTimeout
	// Connection errors from strangers on the internet are noise.
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	s.srv = srv
	return s, nil
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background until Shutdown or Close. It fails when addr cannot be bound.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("inbound: listen on %s: %w", addr, err)
	}
	s.ln = netutil.LimitListener(ln, s.p.MaxConnections)
	go func() {
		defer close(s.served)
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !s.closing.Load() {
			s.done <- err
		}
	}()
	return nil
}

// Addr is the listening address, host:port ("" before Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Done delivers the accept loop's error if it stops on its own, and is
// closed when the loop ends (with no error after Shutdown or Close).
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting connections, lets transactions in flight (MAIL
// to the end of DATA) finish, then closes every connection. When ctx ends
// first it closes them anyway and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return s.Close()
	}
	s.closing.Store(true)
	_ = s.ln.Close() // refuse new connections; Close closes it again, harmlessly
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.busy.Load() > 0 {
		select {
		case <-ctx.Done():
			_ = s.Close()
			return fmt.Errorf("inbound: shutdown: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return s.Close()
}

// Close drops every connection at once and waits for the accept loop to
// end.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.cancel()
	err := s.srv.Close() // closes the listener and every connection
	if s.ln == nil {
		return nil
	}
	// Serve may not have registered the listener yet; close it ourselves
	// so that its Accept returns either way.
	// (The same go-smtp workaround as in smtpsink.Sink.Close.)
	if lerr := s.ln.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	<-s.served
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// recipient checks one RCPT TO address and returns the token it carries,
// or the reply that refuses it.
func (s *Server) recipient(to string) (track.Token, error) {
	raw, ok := track.ParseUnsubscribeAddress(to, s.p.Domain)
	if !ok {
		if at := strings.LastIndexByte(to, '@'); at < 0 || !strings.EqualFold(to[at+1:], s.p.Domain) {
			s.log.Debug("inbound: recipient refused", "reason", "not our domain")
			return track.Token{}, errRelay
		}
		s.log.Debug("inbound: recipient refused", "reason", "not an unsubscribe address")
		return track.Token{}, errUnknownAddress
	}
	tok, err := s.p.Links.Verify(raw, track.PurposeUnsubscribe)
	if err != nil {
		s.log.Debug("inbound: recipient refused", "reason", "invalid or forged token")
		return track.Token{}, errUnknownAddress
	}
	ctx, cancel := context.WithTimeout(s.ctx, dbTimeout)
	defer cancel()
	_, err = store.StoreGet(ctx, s.p.DB, tok.StoreID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.log.Debug("inbound: recipient refused", "reason", "no such store", "store_id", tok.StoreID)
		return track.Token{}, errUnknownAddress
	case err != nil:
		s.log.Error("inbound: find store", "store_id", tok.StoreID, "error", err)
		return track.Token{}, errTryLater
	}
	if tok.Test() {
		s.log.Info("inbound: recipient refused", "reason", "test email's address", "store_id", tok.StoreID)
		return track.Token{}, errTestAddress
	}
	return tok, nil
}

// unsubscribe suppresses the customers whose addresses a delivered message
// was sent to; it is idempotent, so a retried message changes nothing.
func (s *Server) unsubscribe(toks []track.Token) error {
	for i, tok := range toks {
		if i > 0 && containsCustomer(toks[:i], tok) {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, dbTimeout)
		err := store.CustomerUnsubscribe(ctx, s.p.DB, tok.StoreID, tok.CustomerID, Source)
		cancel()
		if err != nil {
			s.log.Error("inbound: unsubscribe", "store_id", tok.StoreID, "customer_id", tok.CustomerID, "error", err)
			return errTryLater
		}
		s.log.Info("unsubscribed", "store_id", tok.StoreID, "customer_id", tok.CustomerID, "send_id", tok.SendID, "via", "email")
	}
	return nil
}

func containsCustomer(toks []track.Token, t track.Token) bool {
	for _, u := range toks {
		if u.StoreID == t.StoreID && u.CustomerID == t.CustomerID {
			return true
		}
	}
	return false
}

// session is one SMTP connection. go-smtp calls Mail, Rcpt, Data and Reset
// from the connection's goroutine; Logout may come from Close's.
type session struct {
	s      *Server
	inTx   atomic.Bool // counted in Server.busy
	tokens []track.Token
}

// Mail accepts any sender, the null sender included: the token, not the
// sender, says who unsubscribes, as the link does.
func (ss *session) Mail(string, *smtp.MailOptions) error {
	if ss.inTx.CompareAndSwap(false, true) {
		ss.s.busy.Add(1)
	}
	ss.tokens = ss.tokens[:0]
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	tok, err := ss.s.recipient(to)
	if err != nil {
		return err
	}
	ss.tokens = append(ss.tokens, tok)
	return nil
}

// Data reads the message and drops it; only a message received whole
// unsubscribes (an oversized one gets go-smtp's 552).
func (ss *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return ss.s.unsubscribe(ss.tokens)
}

// Reset runs after each DATA, once the reply is written, and on RSET.
func (ss *session) Reset() {
	ss.tokens = nil
	ss.end()
}

func (ss *session) Logout() error {
	ss.end()
	return nil
}

func (ss *session) end() {
	if ss.inTx.CompareAndSwap(true, false) {
		ss.s.busy.Add(-1)
	}
}
