// Package mailer sends rendered messages over SMTP. It is the only package
// that imports go-mail: it builds the MIME message (text part first, then
// HTML; List-Unsubscribe with one-click; Message-ID as given), keeps a small
// pool of reused connections behind a rate limit, and says whether a failure
// is temporary, permanent or happened after the server accepted the message.
//
// Consumers declare the interface they need, for example
//
//	type Sender interface {
//		Send(ctx context.Context, msg mailer.Message) (mailer.Result, error)
//	}
package mailer

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Result says what happened to a message.
type Result struct {
	// MessageID is the Message-ID header as sent, "<id@domain>".
	MessageID string
	// Delivered is true once the server accepted the message (250 after
	// DATA), even if Send also returns an error wrapping ErrAfterHandoff.
	Delivered bool
}

// Mailer sends messages over a pool of SMTP connections. It is safe for
// concurrent use; create it with New and stop it with Close.
type Mailer struct {
	timeout time.Duration
	limiter *limiter
	log     *slog.Logger
	now     func() time.Time

	// The pool: sem holds a token per slot in use; idle is a stack, so
	// under light load the most recently used connection is reused and
	// the others are never opened.
	sem  chan struct{}
	mu   sync.Mutex
	idle []*conn

	done chan struct{} // closed by Close
	once sync.Once     // guards close(done)
}

// conn is one pool slot: its own go-mail client (configuration) and, when
// connected, the SMTP connection. Only the goroutine holding the slot uses it.
type conn struct {
	client *mail.Client
	smtp   *smtp.Client // nil until dialled, and after a failure
	raw    net.Conn     // the socket of the dial in progress
	tls    *tls.Config  // for smtps; nil for smtp
}

// New checks cfg and returns a Mailer. It does not connect: connections are
// opened by the first sends that need them. It fails on a bad URL (the error
// says what is wrong, without the password) or a bad option.
func New(cfg Config) (*Mailer, error) {
	ep, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Connections < 0 {
		return nil, fmt.Errorf("mailer: Connections is %d; want at least 1 (0 means %d)", cfg.Connections, DefaultConnections)
	}
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("mailer: Timeout is %s; want a positive duration (0 means %s)", cfg.Timeout, DefaultTimeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RatePerSecond < 0 {
		return nil, fmt.Errorf("mailer: RatePerSecond is %g; want 0 (unlimited) or more", cfg.RatePerSecond)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Mailer{
		timeout: cfg.Timeout,
		limiter: newLimiter(cfg.RatePerSecond),
		log:     logger,
		now:     time.Now,
		sem:     make(chan struct{}, cfg.Connections),
		done:    make(chan struct{}),
	}
	opts := clientOptions(ep, cfg)
	if ep.ssl && ep.authType == mail.SMTPAuthAutoDiscover {
		// With our own dial function go-mail does not know that smtps is
		// encrypted, and its auto-discovery would then skip PLAIN and LOGIN.
		// Opportunistic auth picks from the same list; PLAIN and LOGIN still
		// refuse to run without TLS.
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256PLUS,
			mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1PLUS, mail.SMTPAuthSCRAMSHA1,
			mail.SMTPAuthCramMD5, mail.SMTPAuthPlain, mail.SMTPAuthLogin))
	}
	for range cfg.Connections {
		// One go-mail client per connection: a client is one connection
		// behind a mutex, and its Close cannot drop a broken connection.
		s := &conn{}
		if ep.ssl {
			s.tls = tlsConfig(ep, cfg)
		}
		c, err := mail.NewClient(ep.host, append(slices.Clip(opts), mail.WithDialContextFunc(s.dialContext))...)
		if err != nil {
			return nil, fmt.Errorf("mailer: configure go-mail: %w", err)
		}
		s.client = c
		m.idle = append(m.idle, s)
	}
	return m, nil
}

// tlsConfig is cfg.TLSConfig, or go-mail's default, naming the server.
func tlsConfig(ep endpoint, cfg Config) *tls.Config {
	if cfg.TLSConfig == nil {
		return &tls.Config{ServerName: ep.host, MinVersion: tls.VersionTLS12}
	}
	c := cfg.TLSConfig.Clone()
	if c.ServerName == "" {
		c.ServerName = ep.host
	}
	return c
}

// dialContext dials for go-mail (doing the TLS handshake itself for smtps)
// and remembers the socket, so that a dial that fails after connecting
// (EHLO, STARTTLS, AUTH) can close it: go-mail returns such errors without
// closing the connection.
func (c *conn) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	c.raw = nc
	return nc, nil
}

// clientOptions turns the endpoint and config into go-mail options; the
// benchmarks use the same options for plain go-mail.
func clientOptions(ep endpoint, cfg Config) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(ep.port),
		mail.WithTimeout(cfg.Timeout),
		mail.WithTLSPolicy(ep.policy),
	}
	if ep.ssl {
		opts = append(opts, mail.WithSSL())
	}
	if cfg.HeloName != "" {
		opts = append(opts, mail.WithHELO(cfg.HeloName))
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(tlsConfig(ep, cfg)))
	}
	if ep.authType != mail.SMTPAuthNoAuth {
		opts = append(opts, mail.WithSMTPAuth(ep.authType),
			mail.WithUsername(ep.user), mail.WithPassword(ep.pass))
	}
	if cfg.NoNoopRset {
		opts = append(opts, mail.WithoutNoop(), mail.WithoutRset())
	}
	return opts
}

// Send builds msg and sends it on a pooled connection, waiting for a free
// connection and for the rate limit. ctx bounds those waits and the dial;
// once a transaction has started it runs to completion or Timeout, so a
// message is never cut off half way.
//
// A reused connection that turns out to be broken before any of the message
// was written (closed by the server while idle, 421) is redialled once,
// transparently. On failure the error wraps ErrInvalidMessage (nothing
// sent), ErrTemporary, ErrPermanent or ErrAfterHandoff (Result.Delivered is
// then true), or ErrClosed, or ctx's error. Result.MessageID is set whenever
// the message was valid.
func (m *Mailer) Send(ctx context.Context, msg Message) (Result, error) {
	gm, id, err := build(msg, m.now())
	if err != nil {
		return Result{}, err
	}
	res := Result{MessageID: id}
	plain8bit := fitsEightBit(msg.Text) && fitsEightBit(msg.HTML)
	c, err := m.acquire(ctx)
	if err != nil {
		return res, err
	}
	defer m.release(c)
	if err := m.limiter.wait(ctx); err != nil {
		return res, fmt.Errorf("wait for the rate limit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for attempt := 0; ; attempt++ {
		fresh := c.smtp == nil
		if fresh {
			if err := m.dial(ctx, c); err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("dial SMTP server: %w", ctx.Err())
				}
				return res, dialError(err)
			}
		}
		setTransferEncoding(gm, c.smtp, plain8bit)
		err := c.client.SendWithSMTPClient(c.smtp, gm)
		if err == nil {
			res.Delivered = true
			return res, nil
		}
		// Drop the connection after any failure: go-mail does not RSET after
		// a refused DATA, and a reset that failed is invisible in its error.
		m.drop(c)
		f := asFailure(err)
		if gm.IsDelivered() {
			res.Delivered = true
			return res, newSendError(err, f, true, id)
		}
		if attempt == 0 && !fresh && f.connLost() && beforeContent(f.reason) {
			m.log.WarnContext(ctx, "smtp connection broken; redialling once",
				slog.String("message_id", id), slog.String("op", opOf(f.reason)), slog.Int("code", f.code))
			continue
		}
		return res, newSendError(err, f, false, id)
	}
}

func (m *Mailer) dial(ctx context.Context, c *conn) error {
	s, err := c.client.DialToSMTPClientWithContext(ctx)
	raw := c.raw
	c.raw = nil
	if err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		return err
	}
	c.smtp = s
	return nil
}

// drop closes a connection without QUIT. smtp.Client.Quit on a dead
// connection returns before closing the socket, so go-mail's Close would
// leak it.
func (m *Mailer) drop(c *conn) {
	if c.smtp != nil {
		_ = c.smtp.Close()
		c.smtp = nil
	}
}

// quit ends a connection politely, within a short deadline. A failed QUIT
// loses nothing, so it only closes the socket.
func (m *Mailer) quit(c *conn) {
	if c.smtp == nil {
		return
	}
	s := c.smtp
	c.smtp = nil
	if err := s.UpdateDeadline(min(m.timeout, 5*time.Second)); err != nil {
		_ = s.Close()
		return
	}
	if err := s.Quit(); err != nil {
		_ = s.Close()
	}
}

func (m *Mailer) acquire(ctx context.Context) (*conn, error) {
	select {
	case <-m.done:
		return nil, ErrClosed
	default:
	}
	select {
	case m.sem <- struct{}{}:
	case <-m.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for an SMTP connection: %w", ctx.Err())
	}
	select {
	case <-m.done: // Close won the race
		<-m.sem
		return nil, ErrClosed
	default:
	}
	m.mu.Lock()
	c := m.idle[len(m.idle)-1]
	m.idle = m.idle[:len(m.idle)-1]
	m.mu.Unlock()
	return c, nil
}

func (m *Mailer) release(c *conn) {
	m.mu.Lock()
	if c.smtp == nil {
		// Keep connected slots on top of the stack.
		m.idle = append([]*conn{c}, m.idle...)
	} else {
		m.idle = append(m.idle, c)
	}
	m.mu.Unlock()
	<-m.sem
}

// Close stops new sends (they fail with ErrClosed), waits for sends in
// flight (each bounded by Timeout) and ends every connection with QUIT.
// It always returns nil: a server that hangs up first loses nothing.
// Calling it again does nothing.
func (m *Mailer) Close() error {
	first := false
	m.once.Do(func() {
		close(m.done)
		first = true
	})
	if !first {
		return nil
	}
	for range cap(m.sem) {
		m.sem <- struct{}{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.idle {
		m.quit(c)
	}
	return nil
}
