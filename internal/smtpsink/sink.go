// Package smtpsink is an embedded SMTP server (github.com/emersion/go-smtp)
// that accepts every message, for the demo and for tests: it keeps messages
// in memory or writes each one to a directory as an .eml file, and it can
// refuse recipients, refuse data or hang up, to exercise a client's error
// handling against a real server.
package smtpsink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one accepted message.
type Received struct {
	From string   // MAIL FROM
	To   []string // RCPT TO, in order
	// Data is the message exactly as sent after DATA (CRLF line ends,
	// dot-stuffing removed). In Discard mode it is nil.
	Data []byte
	// Path is the .eml file when the sink writes to a directory.
	Path string
	At   time.Time
}

// Options configure StartWith. The zero value accepts everything and keeps
// it in memory.
type Options struct {
	// Dir, when set, receives each message as Dir/<time>-<n>.eml; Messages
	// then reads the files back.
	Dir string
	// Discard accepts and drops messages (for benchmarks); only Count and
	// Connections keep counting.
	Discard bool
	// RejectRcpt, when it returns non-nil, answers RCPT TO with that error,
	// e.g. &smtp.SMTPError{Code: 450, ...} or {Code: 550, ...}.
	RejectRcpt func(to string) *smtp.SMTPError
	// RejectData, when it returns non-nil, answers the end of DATA with that
	// error and the message is not kept.
	RejectData func(from string, to []string) *smtp.SMTPError
	// HangUpAfterData, when it returns true, closes the connection right
	// after the 250 that accepts a message: the client's next command (such
	// as RSET) fails although the message was delivered.
	HangUpAfterData func() bool
	// Auth, when set, offers AUTH PLAIN and requires it before MAIL FROM;
	// it returns nil to accept the credentials.
	Auth func(username, password string) error
	// TLSConfig, when set, offers STARTTLS (or, with ImplicitTLS, speaks TLS
	// from the first byte like smtps).
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// ReplyDelay holds back every write to the client, like a network
	// round trip, so benchmarks can show what a command costs on a real link.
	ReplyDelay time.Duration
}

// Sink is a running SMTP server. Its methods are safe for concurrent use.
type Sink struct {
	opts   Options
	srv    *smtp.Server
	ln     net.Listener
	served chan struct{} // closed when Serve returns

	seq   atomic.Int64 // accepted messages
	conns atomic.Int64 // accepted connections
	open  atomic.Int64 // connections not yet closed

	mu   sync.Mutex
	msgs []Received
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves until
// Close. With dir != "" each message is written there (the directory is
// created); otherwise messages are kept in memory.
func Start(addr, dir string) (*Sink, error) {
	return StartWith(addr, Options{Dir: dir})
}

// StartWith is Start with test hooks. It fails when the address cannot be
// bound or the directory cannot be created.
func StartWith(addr string, opts Options) (*Sink, error) {
	if opts.ImplicitTLS && opts.TLSConfig == nil {
		return nil, errors.New("smtpsink: ImplicitTLS needs a TLSConfig")
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("smtpsink: create %s: %w", opts.Dir, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpsink: listen on %s: %w", addr, err)
	}
	s := &Sink{opts: opts, served: make(chan struct{})}
	s.ln = &countingListener{Listener: ln, accepted: &s.conns, open: &s.open, delay: opts.ReplyDelay}
	if opts.ImplicitTLS {
		s.ln = tls.NewListener(s.ln, opts.TLSConfig)
	}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{sink: s, conn: c}, nil
	}))
	srv.Domain = "smtpsink.localhost"
	srv.MaxMessageBytes = 32 << 20
	srv.MaxRecipients = 100
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLSConfig != nil && !opts.ImplicitTLS {
		srv.TLSConfig = opts.TLSConfig
	}
	s.srv = srv
	go func() {
		defer close(s.served)
		_ = srv.Serve(s.ln)
	}()
	return s, nil
}

// Addr is the listening address, host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// URL is the address as a mailer URL: smtp://127.0.0.1:port?starttls=none,
// or with starttls=required / smtps:// when TLS is configured.
func (s *Sink) URL() string {
	switch {
	case s.opts.ImplicitTLS:
		return "smtps://" + s.Addr()
	case s.opts.TLSConfig != nil:
		return "smtp://" + s.Addr() + "?starttls=required"
	}
	return "smtp://" + s.Addr() + "?starttls=none"
}

// Messages returns the accepted messages in the order they were accepted.
// With a directory, Data is read back from each file (nil if that fails).
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	out := make([]Received, len(s.msgs))
	copy(out, s.msgs)
	s.mu.Unlock()
	for i := range out {
		out[i].To = append([]string(nil), out[i].To...)
		if out[i].Path != "" {
			out[i].Data, _ = os.ReadFile(out[i].Path)
		}
	}
	return out
}

// Count is the number of messages accepted so far, Discard mode included.
func (s *Sink) Count() int { return int(s.seq.Load()) }

// Connections is the number of connections accepted so far.
func (s *Sink) Connections() int { return int(s.conns.Load()) }

// Open is the number of connections open now. The server closes its side
// when the client hangs up or quits, so a client that leaks sockets keeps
// this above zero.
func (s *Sink) Open() int { return int(s.open.Load()) }

// Close stops listening and drops every open connection, like a server
// that is killed, and waits for the accept loop to end. It returns the
// error from closing the listener.
func (s *Sink) Close() error {
	err := s.srv.Close()
	// Serve may not have registered the listener yet; close it ourselves
	// so its Accept returns either way.
	// (The same go-smtp workaround as in inbound.Server.Close.)
	if lerr := s.ln.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	<-s.served
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// store keeps or writes one message and returns an error for the client.
func (s *Sink) store(r Received) error {
	n := s.seq.Add(1)
	if s.opts.Discard {
		return nil
	}
	if s.opts.Dir != "" {
		name := fmt.Sprintf("%s-%06d.eml", r.At.UTC().Format("20060102T150405.000000000Z"), n)
		r.Path = filepath.Join(s.opts.Dir, name)
		if err := os.WriteFile(r.Path, r.Data, 0o644); err != nil {
			s.seq.Add(-1)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
				Message: "cannot write the message"}
		}
		r.Data = nil
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, r)
	s.mu.Unlock()
	return nil
}

type session struct {
	sink   *Sink
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
	hangUp bool
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.sink.opts.Auth == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.sink.opts.Auth == nil || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if err := ss.sink.opts.Auth(username, password); err != nil {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.opts.Auth != nil && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	ss.to = nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.sink.opts.RejectRcpt; f != nil {
		if e := f(to); e != nil {
			return e
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var data []byte
	var err error
	if ss.sink.opts.Discard {
		_, err = io.Copy(io.Discard, r)
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return err
	}
	if f := ss.sink.opts.RejectData; f != nil {
		if e := f(ss.from, ss.to); e != nil {
			return e
		}
	}
	if err := ss.sink.store(Received{From: ss.from, To: ss.to, Data: data, At: time.Now()}); err != nil {
		return err
	}
	if f := ss.sink.opts.HangUpAfterData; f != nil && f() {
		ss.hangUp = true
	}
	return nil
}

// Reset runs after each DATA, once the reply is written, and on RSET.
func (ss *session) Reset() {
	ss.from, ss.to = "", nil
	if ss.hangUp {
		ss.hangUp = false
		// Conn.Close would take the lock reset holds; close the socket.
		_ = ss.conn.Conn().Close()
	}
}

func (ss *session) Logout() error { return nil }

// countingListener counts accepted and open connections.
type countingListener struct {
	net.Listener
	accepted, open *atomic.Int64
	delay          time.Duration
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	l.open.Add(1)
	return &countedConn{Conn: c, open: l.open, delay: l.delay}, nil
}

type countedConn struct {
	net.Conn
	open  *atomic.Int64
	once  sync.Once
	delay time.Duration
}

func (c *countedConn) Write(p []byte) (int, error) {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	return c.Conn.Write(p)
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
