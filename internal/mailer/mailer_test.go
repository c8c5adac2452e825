package mailer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/remarket/remarket/internal/smtpsink"
)

func rejectByAddress(to string) *gosmtp.SMTPError {
	switch {
	case strings.HasPrefix(to, "busy"):
		return &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
	case strings.HasPrefix(to, "gone"):
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	case strings.HasPrefix(to, "closing"):
		return &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
	}
	return nil
}

func TestReplyKinds(t *testing.T) {
	t.Parallel()
	for _, noNoopRset := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoNoopRset=%v", noNoopRset), func(t *testing.T) {
			t.Parallel()
			sink := startSink(t, smtpsink.Options{
				RejectRcpt: rejectByAddress,
				RejectData: func(_ string, to []string) *gosmtp.SMTPError {
					if strings.HasPrefix(to[0], "spam") {
						return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "content rejected"}
					}
					if strings.HasPrefix(to[0], "unknown") {
						return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "checked after DATA: no such user"}
					}
					return nil
				},
			})
			m := newMailer(t, Config{URL: sink.URL(), Connections: 1, NoNoopRset: noNoopRset})
			ctx := context.Background()
			for _, tc := range []struct {
				to       string
				kind     error
				op       string
				code     int
				enhanced string
			}{
				{"busy@example.com", ErrTemporary, "rcpt", 450, "4.2.1"},
				{"gone@example.com", ErrPermanent, "rcpt", 550, "5.1.1"},
				{"spam@example.com", ErrPermanent, "data", 554, "5.7.1"},
				{"unknown@example.com", ErrPermanent, "data", 550, "5.1.1"},
				{"closing@example.com", ErrTemporary, "rcpt", 421, "4.3.2"},
			} {
				res, err := m.Send(ctx, sample(tc.to))
				if !errors.Is(err, tc.kind) {
					t.Errorf("%s: err = %v, want %v", tc.to, err, tc.kind)
					continue
				}
				for _, other := range []error{ErrTemporary, ErrPermanent, ErrAfterHandoff, ErrInvalidMessage} {
					if other != tc.kind && errors.Is(err, other) {
						t.Errorf("%s: err also matches %v", tc.to, other)
					}
				}
				var se *SendError
				if !errors.As(err, &se) || se.Op != tc.op || se.Code != tc.code || se.EnhancedCode != tc.enhanced {
					t.Errorf("%s: SendError = %+v, want op %s code %d %s", tc.to, se, tc.op, tc.code, tc.enhanced)
				}
				if strings.Contains(err.Error(), tc.to) {
					t.Errorf("%s: error text names the recipient: %v", tc.to, err)
				}
				if bounce := tc.kind == ErrPermanent && tc.enhanced[:4] == "5.1."; IsBounce(err) != bounce {
					t.Errorf("%s: IsBounce = %v, want %v", tc.to, !bounce, bounce)
				}
				if res.Delivered || res.MessageID != "<c42.r7@gifts.example>" {
					t.Errorf("%s: Result = %+v", tc.to, res)
				}
				// The next message still goes out.
				if _, err := m.Send(ctx, sample("ok@example.com")); err != nil {
					t.Errorf("send after %s: %v", tc.to, err)
				}
			}
			if n := sink.Count(); n != 5 {
				t.Errorf("sink accepted %d messages, want 5", n)
			}
		})
	}
}

func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	for _, noNoopRset := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoNoopRset=%v", noNoopRset), func(t *testing.T) {
			t.Parallel()
			sink := startSink(t, smtpsink.Options{})
			m := newMailer(t, Config{URL: sink.URL(), Connections: 3, NoNoopRset: noNoopRset})
			for i := range 30 {
				if _, err := m.Send(context.Background(), sample(fmt.Sprintf("r%d@example.com", i))); err != nil {
					t.Fatal(err)
				}
			}
			if got := sink.Connections(); got != 1 {
				t.Errorf("30 sequential sends used %d connections, want 1", got)
			}
			if got := sink.Count(); got != 30 {
				t.Errorf("sink got %d messages, want 30", got)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "Close ends every connection", func() bool { return sink.Open() == 0 })
		})
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	const workers, each, conns = 12, 25, 4
	sink := startSink(t, smtpsink.Options{})
	m := newMailer(t, Config{URL: sink.URL(), Connections: conns, NoNoopRset: true})
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				msg := sample(fmt.Sprintf("w%d.%d@example.com", w, i))
				msg.MessageID = fmt.Sprintf("w%d.%d@gifts.example", w, i)
				res, err := m.Send(context.Background(), msg)
				if err == nil && (!res.Delivered || res.MessageID != "<"+msg.MessageID+">") {
					err = fmt.Errorf("result %+v for %s", res, msg.MessageID)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := sink.Messages()
	if len(got) != workers*each {
		t.Fatalf("sink got %d messages, want %d", len(got), workers*each)
	}
	seen := map[string]bool{}
	for _, r := range got {
		id := parse(t, r.Data).header.Get("Message-ID")
		want := "<" + strings.TrimSuffix(r.To[0], "@example.com") + "@gifts.example>"
		if id != want {
			t.Errorf("message to %s has Message-ID %s, want %s (bodies mixed up?)", r.To[0], id, want)
		}
		seen[id] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct Message-IDs, want %d", len(seen), workers*each)
	}
	if c := sink.Connections(); c > conns {
		t.Errorf("used %d connections, want at most %d", c, conns)
	}
}

func TestServerKilledAndBack(t *testing.T) {
	t.Parallel()
	sink := startSink(t, smtpsink.Options{})
	addr := sink.Addr()
	m := newMailer(t, Config{URL: sink.URL(), Connections: 1, Timeout: 2 * time.Second})
	ctx := context.Background()
	if _, err := m.Send(ctx, sample("a@example.com")); err != nil {
		t.Fatal(err)
	}

	_ = sink.Close() // killed: the pooled connection is now dead
	res, err := m.Send(ctx, sample("b@example.com"))
	if !errors.Is(err, ErrTemporary) || res.Delivered {
		t.Fatalf("send while down: %+v, %v; want ErrTemporary, not delivered", res, err)
	}
	var se *SendError
	if !errors.As(err, &se) || se.Op != "dial" {
		t.Errorf("send while down: %+v, want Op dial (the broken connection is redialled once)", se)
	}

	back, err := smtpsink.Start(addr, "")
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = back.Close() })
	if _, err := m.Send(ctx, sample("b@example.com")); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	if back.Count() != 1 {
		t.Errorf("restarted sink got %d messages, want 1", back.Count())
	}
}

// A server restart between two sends breaks the idle pooled connection;
// the next Send redials once and succeeds without the caller noticing.
func TestBrokenIdleConnectionIsRedialled(t *testing.T) {
	t.Parallel()
	for _, noNoopRset := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoNoopRset=%v", noNoopRset), func(t *testing.T) {
			t.Parallel()
			sink := startSink(t, smtpsink.Options{})
			addr := sink.Addr()
			m := newMailer(t, Config{URL: sink.URL(), Connections: 1, NoNoopRset: noNoopRset})
			ctx := context.Background()
			if _, err := m.Send(ctx, sample("a@example.com")); err != nil {
				t.Fatal(err)
			}
			_ = sink.Close()
			back, err := smtpsink.Start(addr, "")
			if err != nil {
				t.Fatalf("restart on %s: %v", addr, err)
			}
			t.Cleanup(func() { _ = back.Close() })
			for i := range 3 {
				if _, err := m.Send(ctx, sample("b@example.com")); err != nil {
					t.Fatalf("send %d after restart: %v", i, err)
				}
			}
			if back.Count() != 3 || back.Connections() != 1 {
				t.Errorf("restarted sink: %d messages on %d connections, want 3 on 1", back.Count(), back.Connections())
			}
		})
	}
}

// The server accepts the message, then hangs up. With go-mail's RSET after
// DATA that RSET fails although the message was delivered; without it the
// next message finds the connection dead and redials.
func TestFailureAfterHandoff(t *testing.T) {
	t.Parallel()
	t.Run("with RSET", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{HangUpAfterData: func() bool { return true }})
		m := newMailer(t, Config{URL: sink.URL(), Connections: 1})
		res, err := m.Send(context.Background(), sample("a@example.com"))
		if !res.Delivered || !errors.Is(err, ErrAfterHandoff) {
			t.Fatalf("got %+v, %v; want Delivered with ErrAfterHandoff", res, err)
		}
		if errors.Is(err, ErrTemporary) || errors.Is(err, ErrPermanent) {
			t.Errorf("after-handoff error also says temporary/permanent: %v", err)
		}
		var se *SendError
		if !errors.As(err, &se) || se.Op != "rset" {
			t.Errorf("SendError = %+v, want Op rset", se)
		}
		if res, err := m.Send(context.Background(), sample("b@example.com")); err == nil || !res.Delivered {
			t.Errorf("second send: %+v, %v", res, err)
		}
		if sink.Count() != 2 {
			t.Errorf("sink got %d messages, want 2 (no duplicates)", sink.Count())
		}
	})
	t.Run("NoNoopRset", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{HangUpAfterData: func() bool { return true }})
		m := newMailer(t, Config{URL: sink.URL(), Connections: 1, NoNoopRset: true})
		for i := range 3 {
			if res, err := m.Send(context.Background(), sample("a@example.com")); err != nil || !res.Delivered {
				t.Fatalf("send %d: %+v, %v", i, res, err)
			}
		}
		if sink.Count() != 3 || sink.Connections() != 3 {
			t.Errorf("sink: %d messages on %d connections, want 3 on 3", sink.Count(), sink.Connections())
		}
	})
}

func TestRateLimitIsHonoured(t *testing.T) {
	t.Parallel()
	// Only the lower bound is asserted: a token bucket can be slow on a busy
	// machine but never fast.
	const rate, n = 100.0, 21
	sink := startSink(t, smtpsink.Options{Discard: true})
	m := newMailer(t, Config{URL: sink.URL(), Connections: 4, RatePerSecond: rate, NoNoopRset: true})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := m.Send(context.Background(), sample(fmt.Sprintf("r%d@example.com", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if min := time.Duration(float64(n-1) / rate * float64(time.Second)); time.Since(start) < min {
		t.Errorf("%d sends at %g/s took %s, want at least %s", n, rate, time.Since(start), min)
	}
}

func TestLimiterSchedule(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	var slept []time.Duration
	l := newLimiter(4) // one slot every 250ms
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	ctx := context.Background()
	for range 5 {
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond, time.Second}
	if fmt.Sprint(slept) != fmt.Sprint(want) {
		t.Errorf("waits at one instant = %v, want %v", slept, want)
	}

	// After a long idle gap there is no saved-up burst: one free slot, then pacing.
	mu.Lock()
	now = now.Add(time.Hour)
	slept = nil
	mu.Unlock()
	for range 3 {
		_ = l.wait(ctx)
	}
	if fmt.Sprint(slept) != fmt.Sprint([]time.Duration{250 * time.Millisecond, 500 * time.Millisecond}) {
		t.Errorf("after idle: %v", slept)
	}

	// A cancelled waiter at the end of the queue gives its slot back.
	l.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	before := l.next
	if err := l.wait(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !l.next.Equal(before) {
		t.Errorf("next = %v, want %v (slot returned)", l.next, before)
	}
	if newLimiter(0) != nil || newLimiter(0).wait(ctx) != nil {
		t.Error("rate 0 must mean no limiter")
	}
}

func TestContextBoundsTheWait(t *testing.T) {
	t.Parallel()
	sink := startSink(t, smtpsink.Options{})
	m := newMailer(t, Config{URL: sink.URL(), Connections: 1, RatePerSecond: 0.01})
	if _, err := m.Send(context.Background(), sample("a@example.com")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := m.Send(ctx, sample("b@example.com"))
	if !errors.Is(err, context.DeadlineExceeded) || res.Delivered || res.MessageID == "" {
		t.Errorf("got %+v, %v; want the context's error and a MessageID", res, err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancelled send took %s", time.Since(start))
	}
	if sink.Count() != 1 {
		t.Errorf("sink got %d messages, want 1", sink.Count())
	}
}

func TestSendAfterClose(t *testing.T) {
	t.Parallel()
	sink := startSink(t, smtpsink.Options{})
	m := newMailer(t, Config{URL: sink.URL()})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(context.Background(), sample("a@example.com")); !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestTLSAndAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	auth := func(user, pass string) error {
		if user != "shop" || pass != "s3cret:/@" {
			return errors.New("bad credentials")
		}
		return nil
	}
	const pass = "s3cret%3A%2F%40" // "s3cret:/@" escaped in the URL

	t.Run("STARTTLS required, auth auto", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{TLSConfig: serverTLS, Auth: auth})
		url := strings.Replace(sink.URL(), "smtp://", "smtp://shop:"+pass+"@", 1)
		m := newMailer(t, Config{URL: url, TLSConfig: clientTLS})
		if _, err := m.Send(context.Background(), sample("a@example.com")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("smtps, auth auto", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{TLSConfig: serverTLS, ImplicitTLS: true, Auth: auth})
		url := strings.Replace(sink.URL(), "smtps://", "smtps://shop:"+pass+"@", 1)
		m := newMailer(t, Config{URL: url, TLSConfig: clientTLS})
		if _, err := m.Send(context.Background(), sample("a@example.com")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{TLSConfig: serverTLS})
		m := newMailer(t, Config{URL: sink.URL()}) // system roots
		_, err := m.Send(context.Background(), sample("a@example.com"))
		var se *SendError
		if !errors.Is(err, ErrTemporary) || !errors.As(err, &se) || se.Op != "dial" || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %v, want a temporary dial error about the certificate", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{TLSConfig: serverTLS, Auth: auth})
		url := strings.Replace(sink.URL(), "smtp://", "smtp://shop:wrong@", 1)
		m := newMailer(t, Config{URL: url, TLSConfig: clientTLS})
		_, err := m.Send(context.Background(), sample("a@example.com"))
		var se *SendError
		if !errors.Is(err, ErrTemporary) || !errors.As(err, &se) || se.Op != "dial" || se.Code != 535 {
			t.Errorf("err = %v (%+v), want temporary dial error with code 535", err, se)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error shows the password: %v", err)
		}
		// go-mail returns the failed dial without closing the socket; the
		// mailer must close it.
		waitFor(t, "the failed dial's socket is closed", func() bool { return sink.Open() == 0 })
	})
	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		t.Parallel()
		sink := startSink(t, smtpsink.Options{})
		url := strings.Replace(sink.URL(), "starttls=none", "starttls=required", 1)
		m := newMailer(t, Config{URL: url})
		_, err := m.Send(context.Background(), sample("a@example.com"))
		if !errors.Is(err, ErrTemporary) || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v, want a temporary error naming STARTTLS", err)
		}
		waitFor(t, "the failed dial's socket is closed", func() bool { return sink.Open() == 0 })
		if sink.Count() != 0 {
			t.Error("message went out in clear text")
		}
	})
}

func TestCancelledContextSendsNothing(t *testing.T) {
	t.Parallel()
	sink := startSink(t, smtpsink.Options{})
	m := newMailer(t, Config{URL: sink.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if _, err := m.Send(ctx, sample("a@example.com")); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	}
	if sink.Count() != 0 || sink.Connections() != 0 {
		t.Errorf("sink: %d messages, %d connections; want none", sink.Count(), sink.Connections())
	}
}
