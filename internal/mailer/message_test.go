package mailer

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/smtpsink"
)

// sendOne sends msg through a fresh sink and returns what the server got.
func sendOne(t *testing.T, msg Message) (Result, smtpsink.Received) {
	t.Helper()
	sink := startSink(t, smtpsink.Options{})
	m := newMailer(t, Config{URL: sink.URL()})
	res, err := m.Send(context.Background(), msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := sink.Messages()
	if len(got) != 1 {
		t.Fatalf("sink got %d messages, want 1", len(got))
	}
	return res, got[0]
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	msg := sample("Bob Example <bob@example.com>")
	msg.Date = time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	res, rcv := sendOne(t, msg)

	if !res.Delivered || res.MessageID != "<c42.r7@gifts.example>" {
		t.Errorf("Result = %+v", res)
	}
	if rcv.From != "shop@gifts.example" || len(rcv.To) != 1 || rcv.To[0] != "bob@example.com" {
		t.Errorf("envelope = %q -> %q", rcv.From, rcv.To)
	}
	h := parse(t, rcv.Data).header
	want := map[string]string{
		"Message-Id":            "<c42.r7@gifts.example>",
		"List-Unsubscribe":      "<https://t.gifts.example/u/abc?t=x.y-z>, <mailto:unsubscribe@gifts.example?subject=c42.r7>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"List-Id":               "Gift Shop <gifts.remarket.example>",
		"Subject":               "Your cart is waiting",
		"X-Remarket-Campaign":   "42",
		"Mime-Version":          "1.0",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Gift Shop" || from[0].Address != "shop@gifts.example" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Bob Example" || to[0].Address != "bob@example.com" {
		t.Errorf("To = %v (%v)", to, err)
	}
	date, err := h.Date()
	if err != nil || !date.Equal(msg.Date) {
		t.Errorf("Date = %v (%v), want %v", date, err, msg.Date)
	}
	for _, k := range []string{"Bcc", "User-Agent", "X-Mailer"} {
		if v, ok := h[k]; ok {
			t.Errorf("unexpected header %s: %q", k, v)
		}
	}
}

func TestMessageIDForms(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"c42.r7@gifts.example", "<c42.r7@gifts.example>"} {
		msg := sample("bob@example.com")
		msg.MessageID = id
		var b bytes.Buffer
		if err := WriteEML(&b, msg); err != nil {
			t.Fatal(err)
		}
		if got := parse(t, b.Bytes()).header.Get("Message-ID"); got != "<c42.r7@gifts.example>" {
			t.Errorf("MessageID %q: header = %q", id, got)
		}
	}
	// Empty: generated at the From domain and returned.
	msg := sample("bob@example.com")
	msg.MessageID = ""
	res, rcv := sendOne(t, msg)
	if !strings.HasSuffix(res.MessageID, "@gifts.example>") || len(res.MessageID) < 30 {
		t.Errorf("generated MessageID = %q", res.MessageID)
	}
	if got := parse(t, rcv.Data).header.Get("Message-ID"); got != res.MessageID {
		t.Errorf("header %q != Result %q", got, res.MessageID)
	}
}

func TestTextThenHTMLAndUTF8RoundTrip(t *testing.T) {
	t.Parallel()
	msg := sample("Zoë Ünal <zoe@example.com>")
	msg.Subject = "Dein Warenkorb wartet 🛒 — Grüße aus Köln, mit einem langen Betreff, der umbrochen werden muss"
	msg.Text = "Hallo Zoë,\n\n.eine Zeile mit Punkt am Anfang\nFrom here on\n" +
		strings.Repeat("sehr lange Zeile äöü ", 20) + "\n€ 12,99 — 👍\n"
	msg.HTML = "<html><body><p>Hallo Zoë</p><p style=\"color:#333\">€ 12,99 — 👍</p>" +
		strings.Repeat("<td>ß</td>", 100) + "</body></html>"
	msg.ListID = "Geschenke Köln <gifts.remarket.example>"
	msg.From = "Gifts & Co. <shop@gifts.example>"
	_, rcv := sendOne(t, msg)
	p := parse(t, rcv.Data)

	if got := decodeWords(t, p.header.Get("Subject")); got != msg.Subject {
		t.Errorf("Subject = %q, want %q", got, msg.Subject)
	}
	if got := decodeWords(t, p.header.Get("List-Id")); got != msg.ListID {
		t.Errorf("List-Id = %q, want %q", got, msg.ListID)
	}
	if from, err := p.header.AddressList("From"); err != nil || from[0].Name != "Gifts & Co." {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || to[0].Name != "Zoë Ünal" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if len(p.parts) != 2 {
		t.Fatalf("got %d parts, want 2", len(p.parts))
	}
	for i, w := range []struct{ ct, body string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		got := p.parts[i]
		if got.contentType != w.ct || !strings.EqualFold(got.params["charset"], "utf-8") {
			t.Errorf("part %d: %s %v, want %s; charset=UTF-8", i, got.contentType, got.params, w.ct)
		}
		if got.body != crlf(w.body) {
			t.Errorf("part %d body = %q, want %q", i, got.body, crlf(w.body))
		}
	}
	// Every line fits SMTP's limits and the raw message is 7-bit.
	for i, line := range strings.Split(string(rcv.Data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i, len(line))
		}
	}
	for i, c := range rcv.Data {
		if c >= 0x80 {
			t.Fatalf("byte %d is 0x%x: the message is not 7-bit", i, c)
		}
	}
}

func TestSinglePartBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, html, ct string }{
		{"only text\n", "", "text/plain"},
		{"", "<p>only html</p>", "text/html"},
	} {
		msg := sample("bob@example.com")
		msg.Text, msg.HTML = tc.text, tc.html
		var b bytes.Buffer
		if err := WriteEML(&b, msg); err != nil {
			t.Fatal(err)
		}
		p := parse(t, b.Bytes())
		if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ct+";") {
			t.Errorf("Content-Type = %q, want %s", ct, tc.ct)
		}
		if p.body != crlf(tc.text+tc.html) {
			t.Errorf("body = %q", p.body)
		}
	}
}

func TestWriteEMLIsWhatSendSends(t *testing.T) {
	t.Parallel()
	msg := sample("bob@example.com")
	msg.Date = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	var b bytes.Buffer
	if err := WriteEML(&b, msg); err != nil {
		t.Fatal(err)
	}
	_, rcv := sendOne(t, msg)
	eml, sent := parse(t, b.Bytes()), parse(t, rcv.Data)
	for k := range sent.header {
		if k == "Content-Type" { // differs only in the random boundary
			continue
		}
		if eml.header.Get(k) != sent.header.Get(k) {
			t.Errorf("%s: eml %q, sent %q", k, eml.header.Get(k), sent.header.Get(k))
		}
	}
	if len(eml.header) != len(sent.header) || len(eml.parts) != len(sent.parts) {
		t.Fatalf("eml has %d headers/%d parts, sent %d/%d", len(eml.header), len(eml.parts), len(sent.header), len(sent.parts))
	}
	for i := range eml.parts {
		if eml.parts[i].body != sent.parts[i].body {
			t.Errorf("part %d differs", i)
		}
	}
}

func TestHostileInputIsRefused(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*Message){
		"To display name CRLF": func(m *Message) { m.To = "\"Bob\r\nBcc: victim@evil.example\" <bob@example.com>" },
		"To LF":                func(m *Message) { m.To = "Bob\n <bob@example.com>" },
		"From CR":              func(m *Message) { m.From = "Shop\r <shop@gifts.example>" },
		"Subject CRLF":         func(m *Message) { m.Subject = "Hi\r\nBcc: victim@evil.example" },
		"MessageID LF":         func(m *Message) { m.MessageID = "a@b\nBcc: x@y" },
		"header value CRLF":    func(m *Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: x@y"} },
		"header name CRLF":     func(m *Message) { m.Headers = map[string]string{"X-A\r\nBcc": "x@y"} },
		"header name colon":    func(m *Message) { m.Headers = map[string]string{"Bcc: x@y\r\nX": "1"} },
		"reserved header":      func(m *Message) { m.Headers = map[string]string{"bcc": "x@y"} },
		"override Subject":     func(m *Message) { m.Headers = map[string]string{"Subject": "other"} },
		"ListID CRLF":          func(m *Message) { m.ListID = "Shop\r\nBcc: x@y <a.b>" },
		"unsubscribe URL CRLF": func(m *Message) { m.ListUnsubscribeURL = "https://a.example/u\r\nBcc: x@y" },
		"mailto CRLF":          func(m *Message) { m.ListUnsubscribeMailto = "mailto:a@b\r\nBcc: x@y" },
		"NUL in subject":       func(m *Message) { m.Subject = "a\x00b" },
		// No raw CR/LF, but net/mail decodes the encoded word to "Bob\r\nBcc: …".
		"encoded CRLF in name": func(m *Message) { m.To = "=?utf-8?q?Bob=0D=0ABcc=3A_victim=40evil.example?= <bob@example.com>" },
	}
	sink := startSink(t, smtpsink.Options{})
	m := newMailer(t, Config{URL: sink.URL()})
	for name, mutate := range cases {
		msg := sample("bob@example.com")
		mutate(&msg)
		_, err := m.Send(context.Background(), msg)
		if !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: err = %v, want ErrInvalidMessage", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "victim@") || strings.Contains(err.Error(), "bob@")) {
			t.Errorf("%s: error quotes an address: %v", name, err)
		}
	}
	if n := sink.Count(); n != 0 {
		t.Errorf("sink received %d messages, want 0", n)
	}
}

func TestInvalidMessages(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*Message){
		"no To":               func(m *Message) { m.To = "" },
		"bad To":              func(m *Message) { m.To = "not an address" },
		"two To":              func(m *Message) { m.To = "a@example.com, b@example.com" },
		"bad From":            func(m *Message) { m.From = "shop" },
		"empty subject":       func(m *Message) { m.Subject = "  " },
		"long subject":        func(m *Message) { m.Subject = strings.Repeat("x", 901) },
		"no body":             func(m *Message) { m.Text, m.HTML = "", "" },
		"invalid UTF-8 text":  func(m *Message) { m.Text = "a\xffb" },
		"MessageID no @":      func(m *Message) { m.MessageID = "<abc>" },
		"MessageID space":     func(m *Message) { m.MessageID = "a b@c" },
		"MessageID two @":     func(m *Message) { m.MessageID = "a@b@c" },
		"MessageID brackets":  func(m *Message) { m.MessageID = "<<a@b>>" },
		"http unsubscribe":    func(m *Message) { m.ListUnsubscribeURL = "http://t.example/u" },
		"relative URL":        func(m *Message) { m.ListUnsubscribeURL = "/u/abc" },
		"URL with comma":      func(m *Message) { m.ListUnsubscribeURL = "https://t.example/u,x" },
		"non-canonical URL":   func(m *Message) { m.ListUnsubscribeURL = "https://t.example/ü" },
		"mailto not mailto":   func(m *Message) { m.ListUnsubscribeMailto = "unsubscribe@gifts.example" },
		"ListID no domain":    func(m *Message) { m.ListID = "Shop <gifts>" },
		"ListID unterminated": func(m *Message) { m.ListID = "Shop <gifts.example" },
		"long header":         func(m *Message) { m.Headers = map[string]string{"X-Long": strings.Repeat("a", 1000)} },
		"empty header name":   func(m *Message) { m.Headers = map[string]string{"": "x"} },
	}
	for name, mutate := range cases {
		msg := sample("bob@example.com")
		mutate(&msg)
		if err := WriteEML(&bytes.Buffer{}, msg); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: err = %v, want ErrInvalidMessage", name, err)
		}
	}
}

func TestListUnsubscribeVariants(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, mailto, list, post string
	}{
		{"https://t.example/u/1", "", "<https://t.example/u/1>", "List-Unsubscribe=One-Click"},
		{"", "mailto:u@gifts.example", "<mailto:u@gifts.example>", ""},
		{"", "", "", ""},
		// Loopback only (the demo's local server): plain http is allowed.
		{"http://127.0.0.1:8080/u/1", "mailto:u@gifts.example", "<http://127.0.0.1:8080/u/1>, <mailto:u@gifts.example>", "List-Unsubscribe=One-Click"},
	} {
		msg := sample("bob@example.com")
		msg.ListUnsubscribeURL, msg.ListUnsubscribeMailto = tc.url, tc.mailto
		var b bytes.Buffer
		if err := WriteEML(&b, msg); err != nil {
			t.Fatal(err)
		}
		h := parse(t, b.Bytes()).header
		if h.Get("List-Unsubscribe") != tc.list || h.Get("List-Unsubscribe-Post") != tc.post {
			t.Errorf("%+v: List-Unsubscribe %q, -Post %q", tc, h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
		}
	}
}

func TestListIDNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"gifts.remarket.example":                  "<gifts.remarket.example>",
		"<gifts.remarket.example>":                "<gifts.remarket.example>",
		"Gift Shop <gifts.remarket.example>":      "Gift Shop <gifts.remarket.example>",
		"Gifts & Co. <gifts.remarket.example>":    `"Gifts & Co." <gifts.remarket.example>`,
		`Say "hi" <gifts.remarket.example>`:       `"Say \"hi\"" <gifts.remarket.example>`,
		"A <b> shop <campaigns.gifts.example>":    `"A <b> shop" <campaigns.gifts.example>`,
		"Köln Geschenke <gifts.remarket.example>": "=?UTF-8?q?K=C3=B6ln_Geschenke?= <gifts.remarket.example>",
	} {
		got, err := listIDValue(in)
		if err != nil || got != want {
			t.Errorf("listIDValue(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestEightBitWhenItFits sends bodies whose lines fit SMTP's limit as they
// are (8BITMIME), and falls back to quoted-printable for a body with a line
// that is too long, without changing what the reader gets.
func TestEightBitWhenItFits(t *testing.T) {
	t.Parallel()
	msg := sample("bob@example.com")
	msg.Text = "Grüße, Zoë\n.a dot first\n€ 12,99\n"
	msg.HTML = "<p style=\"color:#333\">Grüße, Zoë</p>\n<p>€ 12,99</p>\n"
	_, rcv := sendOne(t, msg)
	if n := strings.Count(string(rcv.Data), "Content-Transfer-Encoding: 8bit"); n != 2 {
		t.Errorf("%d parts in 8bit, want 2:\n%s", n, rcv.Data)
	}
	if !strings.Contains(string(rcv.Data), `<p style="color:#333">Grüße, Zoë</p>`) {
		t.Errorf("the HTML is not as it was written:\n%s", rcv.Data)
	}
	p := parse(t, rcv.Data)
	if len(p.parts) != 2 || p.parts[0].body != crlf(msg.Text) || p.parts[1].body != crlf(msg.HTML) {
		t.Errorf("parts = %+v", p.parts)
	}

	msg.HTML = "<p>" + strings.Repeat("x", 1000) + "</p>"
	_, rcv = sendOne(t, msg)
	if n := strings.Count(string(rcv.Data), "Content-Transfer-Encoding: quoted-printable"); n != 2 {
		t.Errorf("%d parts in quoted-printable, want 2 (a line is too long for 8bit):\n%s", n, rcv.Data)
	}
	if p := parse(t, rcv.Data); len(p.parts) != 2 || p.parts[1].body != msg.HTML {
		t.Errorf("parts = %+v", p.parts)
	}
}

func TestFitsEightBit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body string
		want bool
	}{
		{"", true}, {"a\nb\n", true}, {strings.Repeat("é", 499), true}, {strings.Repeat("x", 998) + "\nshort", true},
		{strings.Repeat("x", 999), false}, {"a\r\nb", false}, {"nul\x00", false},
		{strings.Repeat("short line\n", 300) + strings.Repeat("x", 999) + "\nend", false},
		{strings.Repeat(strings.Repeat("x", 998)+"\n", 5), true}, {strings.Repeat(strings.Repeat("x", 997)+"\n", 5) + strings.Repeat("x", 999), false},
	} {
		if got := fitsEightBit(c.body); got != c.want {
			t.Errorf("fitsEightBit(%.20q… %d bytes) = %v, want %v", c.body, len(c.body), got, c.want)
		}
	}
	// Random bodies of lines around the limit, against the rule read line by line.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(strings.Repeat("y", 990+rng.IntN(12)))
			b.WriteString("\n")
			b.WriteString(strings.Repeat("z\n", rng.IntN(3)))
		}
		body := b.String()
		want := true
		for l := range strings.SplitSeq(body, "\n") {
			want = want && len(l) <= maxLine
		}
		if got := fitsEightBit(body); got != want {
			t.Fatalf("fitsEightBit(lines of %v) = %v, want %v", lineLengths(body), got, want)
		}
	}
}

func lineLengths(s string) []int {
	var n []int
	for l := range strings.SplitSeq(s, "\n") {
		n = append(n, len(l))
	}
	return n
}
