package mailer

import (
	"bytes"
	"crypto/tls"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/slogtest"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/testcert"
)

func startSink(t testing.TB, opts smtpsink.Options) *smtpsink.Sink {
	t.Helper()
	s, err := smtpsink.StartWith("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newMailer(t testing.TB, cfg Config) *Mailer {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "test.remarket.example"
	}
	if cfg.Logger == nil {
		cfg.Logger = slogtest.New(t)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// sample is a message with every header the mailer sets.
func sample(to string) Message {
	return Message{
		From:                  "Gift Shop <shop@gifts.example>",
		To:                    to,
		Subject:               "Your cart is waiting",
		Text:                  "Hello,\nyour cart is waiting.\n",
		HTML:                  "<p>Hello,<br>your cart is waiting.</p>",
		MessageID:             "<c42.r7@gifts.example>",
		ListUnsubscribeURL:    "https://t.gifts.example/u/abc?t=x.y-z",
		ListUnsubscribeMailto: "mailto:unsubscribe@gifts.example?subject=c42.r7",
		ListID:                "Gift Shop <gifts.remarket.example>",
		Headers:               map[string]string{"X-Remarket-Campaign": "42"},
	}
}

// parsed is a received message taken apart with the standard library.
type parsed struct {
	header netmail.Header
	parts  []part // empty for a single-part message
	body   string // decoded body of a single-part message
}

type part struct {
	contentType string
	params      map[string]string
	body        string
}

func parse(t testing.TB, data []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, data)
	}
	p := parsed{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p.body = decodeBody(t, m.Header.Get("Content-Transfer-Encoding"), m.Body)
		return p
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		mp, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, ps, err := mime.ParseMediaType(mp.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type: %v", err)
		}
		b, err := io.ReadAll(mp)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		p.parts = append(p.parts, part{contentType: ct, params: ps, body: string(b)})
	}
	return p
}

func decodeBody(t testing.TB, cte string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(cte, "8bit") {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.EqualFold(cte, "quoted-printable") {
		t.Fatalf("Content-Transfer-Encoding = %q, want quoted-printable or 8bit", cte)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(r))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// crlf converts the line ends of s to CRLF, as quoted-printable sends them.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func decodeWords(t testing.TB, s string) string {
	t.Helper()
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return d
}

// selfSigned is a certificate for the in-process server on 127.0.0.1.
func selfSigned(t testing.TB) (server, client *tls.Config) { return testcert.New(t) }

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
