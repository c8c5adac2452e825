package smtpsink_test

import (
	"errors"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/remarket/remarket/internal/smtpsink"
)

const raw = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nline one\r\n.starts with a dot\r\n"

func start(t *testing.T, opts smtpsink.Options) *smtpsink.Sink {
	t.Helper()
	s, err := smtpsink.StartWith("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func send(s *smtpsink.Sink, to ...string) error {
	return smtp.SendMail(s.Addr(), nil, "a@example.com", to, []byte(raw))
}

func TestMemoryKeepsExactData(t *testing.T) {
	t.Parallel()
	s := start(t, smtpsink.Options{})
	if got, want := s.URL(), "smtp://"+s.Addr()+"?starttls=none"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if err := send(s, "b@example.com", "c@example.com"); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "a@example.com" || len(m.To) != 2 || m.To[0] != "b@example.com" || m.To[1] != "c@example.com" {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	// net/smtp dot-stuffs ".starts"; the sink must hand back the original.
	if string(m.Data) != raw {
		t.Errorf("Data = %q, want %q", m.Data, raw)
	}
	if s.Count() != 1 || s.Connections() != 1 {
		t.Errorf("Count = %d, Connections = %d; want 1, 1", s.Count(), s.Connections())
	}
}

func TestDirWritesEMLFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	s, err := smtpsink.Start("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for range 3 {
		if err := send(s, "b@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("files = %v (%v), want 3", files, err)
	}
	name := regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-\d{6}\.eml$`)
	for _, f := range files {
		if !name.MatchString(filepath.Base(f)) {
			t.Errorf("file name %q does not match %s", filepath.Base(f), name)
		}
		b, err := os.ReadFile(f)
		if err != nil || string(b) != raw {
			t.Errorf("%s = %q (%v), want %q", f, b, err, raw)
		}
	}
	for _, m := range s.Messages() {
		if m.Path == "" || string(m.Data) != raw {
			t.Errorf("Messages() entry Path=%q Data=%q", m.Path, m.Data)
		}
	}
}

func TestRejectRcptAndData(t *testing.T) {
	t.Parallel()
	s := start(t, smtpsink.Options{
		RejectRcpt: func(to string) *gosmtp.SMTPError {
			switch to {
			case "busy@example.com":
				return &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "try later"}
			case "gone@example.com":
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		},
		RejectData: func(_ string, to []string) *gosmtp.SMTPError {
			if to[0] == "spam@example.com" {
				return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "looks like spam"}
			}
			return nil
		},
	})
	for to, code := range map[string]int{"busy@example.com": 450, "gone@example.com": 550, "spam@example.com": 554} {
		err := send(s, to)
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != code {
			t.Errorf("send to %s: err = %v, want code %d", to, err, code)
		}
	}
	if err := send(s, "ok@example.com"); err != nil {
		t.Fatal(err)
	}
	if s.Count() != 1 {
		t.Errorf("Count = %d, want 1 (only the accepted message)", s.Count())
	}
}

func TestDiscardCountsOnly(t *testing.T) {
	t.Parallel()
	s := start(t, smtpsink.Options{Discard: true})
	for range 5 {
		if err := send(s, "b@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if s.Count() != 5 || len(s.Messages()) != 0 {
		t.Errorf("Count = %d, Messages = %d; want 5, 0", s.Count(), len(s.Messages()))
	}
}

func TestHangUpAfterData(t *testing.T) {
	t.Parallel()
	s := start(t, smtpsink.Options{HangUpAfterData: func() bool { return true }})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte(raw))
	if err := w.Close(); err != nil {
		t.Fatalf("DATA was not accepted: %v", err)
	}
	if err := c.Reset(); err == nil {
		t.Fatal("RSET after the hang-up succeeded")
	}
	if s.Count() != 1 {
		t.Errorf("Count = %d, want 1", s.Count())
	}
}

func TestCloseDropsConnectionsAndPortCanBeReused(t *testing.T) {
	t.Parallel()
	s, err := smtpsink.Start("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	if s.Open() != 1 {
		t.Errorf("Open = %d, want 1", s.Open())
	}
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err == nil {
		t.Error("NOOP on a closed sink succeeded")
	}
	waitFor(t, func() bool { return s.Open() == 0 })

	s2, err := smtpsink.Start(addr, "")
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	defer s2.Close()
	if err := send(s2, "b@example.com"); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := smtpsink.StartWith("127.0.0.1:0", smtpsink.Options{ImplicitTLS: true}); err == nil {
		t.Error("ImplicitTLS without TLSConfig started")
	}
	if _, err := smtpsink.Start("256.0.0.1:0", ""); err == nil {
		t.Error("bad address started")
	}
}

func TestReplyDelay(t *testing.T) {
	t.Parallel()
	s := start(t, smtpsink.Options{ReplyDelay: 20 * time.Millisecond})
	begin := time.Now()
	if err := send(s, "b@example.com"); err != nil {
		t.Fatal(err)
	}
	// Greeting, EHLO, MAIL, RCPT, DATA, end of data, QUIT: at least 7 replies.
	if d := time.Since(begin); d < 7*20*time.Millisecond {
		t.Errorf("send took %s, want at least 140ms", d)
	}
}
