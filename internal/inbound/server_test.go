package inbound

import (
	"context"
	"errors"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/slogtest"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// must fails the test at once on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const (
	testSecret = "inbound-test-secret-0123"
	testDomain = "unsub.shop.example"
)

type testBundle struct {
	pool  *pgxpool.Pool
	srv   *Server
	links *track.Signer
	st    store.Store
}

// setup starts the server on 127.0.0.1:0 against a fresh database with one
// store; mod adjusts its Params.
func setup(t *testing.T, mod func(*Params)) *testBundle {
	t.Helper()
	b := &testBundle{pool: dbtest.New(t), links: track.NewSigner(testSecret)}
	p := Params{DB: b.pool, Links: b.links, Domain: testDomain, Logger: slogtest.New(t)}
	if mod != nil {
		mod(&p)
	}
	srv, err := New(p)
	must(t, err)
	must(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() { _ = srv.Close() })
	b.srv = srv
	b.st, err = store.StoreInsert(context.Background(), b.pool, store.Store{Name: "Inbound Shop", Platform: "generic",
		Domain: "shop.example", WebhookSecret: "x", Timezone: "UTC", Currency: "EUR"})
	must(t, err)
	return b
}

// customer adds a subscribed customer and returns their id and the address
// that unsubscribes them.
func (b *testBundle) customer(t *testing.T, email string) (int64, string) {
	t.Helper()
	id, err := store.CustomerUpsert(context.Background(), b.pool, b.st.ID,
		&shop.Customer{Email: email, Consent: shop.ConsentSubscribed, ConsentAt: time.Now().Add(-time.Hour)})
	must(t, err)
	tok := b.links.Sign(track.Token{Purpose: track.PurposeUnsubscribe, StoreID: b.st.ID, CustomerID: id, SendID: 7})
	return id, track.UnsubscribeAddress(testDomain, tok)
}

// unsubscribed says whether the customer's consent is withdrawn by email and
// their address suppressed, and fails the test when only one of them is.
func (b *testBundle) unsubscribed(t *testing.T, id int64) bool {
	t.Helper()
	var consent, source string
	var suppressed int
	must(t, b.pool.QueryRow(context.Background(), `SELECT consent, coalesce(consent_source, ''),
  (SELECT count(*) FROM suppressions s WHERE s.store_id = c.store_id AND s.email = c.email AND s.reason = 'unsubscribed' AND s.source = $2)
FROM customers c WHERE id = $1`, id, Source).Scan(&consent, &source, &suppressed))
	switch {
	case consent == "unsubscribed" && (source != Source || suppressed != 1):
		t.Fatalf("customer %d: consent unsubscribed from %q, %d suppression rows; want from %q and 1 row", id, source, suppressed, Source)
	case consent != "unsubscribed" && suppressed != 0:
		t.Fatalf("customer %d: address suppressed but consent %q", id, consent)
	}
	return consent == "unsubscribed"
}

func (b *testBundle) suppressions(t *testing.T) int {
	t.Helper()
	var n int
	must(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM suppressions`).Scan(&n))
	return n
}

// dial opens an SMTP session the way a sending MTA would: connect, EHLO.
func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	must(t, c.Hello("mx.customer.example"))
	return c
}

// send delivers one message to rcpts and returns the first refusal.
func send(t *testing.T, addr string, body string, rcpts ...string) error {
	t.Helper()
	c := dial(t, addr)
	if err := c.Mail("ana@customer.example"); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	return data(c, body)
}

func data(c *smtp.Client, body string) error {
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("From: Ana <ana@customer.example>\r\nSubject: unsubscribe\r\n\r\n" + body)); err != nil {
		return err
	}
	return w.Close() // returns the reply to the end of DATA
}

// requireCode checks err is an SMTP reply with that code and text.
func requireCode(t *testing.T, err error, code int, text string) {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != code || !strings.Contains(te.Msg, text) {
		t.Fatalf("got %v; want a %d reply saying %q", err, code, text)
	}
}

func TestUnsubscribeByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ana, anaAddr := b.customer(t, "ana@customer.example")
	bob, _ := b.customer(t, "bob@customer.example")

	must(t, send(t, b.srv.Addr(), "unsubscribe me\r\n", anaAddr))
	if !b.unsubscribed(t, ana) {
		t.Fatal("not unsubscribed")
	}
	if b.unsubscribed(t, bob) {
		t.Fatal("another customer was unsubscribed")
	}
	// A mail client that sends twice, or an MTA retrying after a lost
	// reply, changes nothing.
	must(t, send(t, b.srv.Addr(), "", anaAddr))
	if !b.unsubscribed(t, ana) || b.suppressions(t) != 1 {
		t.Fatalf("after a second message: %d suppressions", b.suppressions(t))
	}

	// The prefix and domain in another case still reach the customer (as
	// the mailto: URI's address, quoted by a client, does too).
	cy, cyAddr := b.customer(t, "cy@customer.example")
	tok, _ := track.ParseUnsubscribeAddress(cyAddr, testDomain)
	must(t, send(t, b.srv.Addr(), "", `"Unsubscribe+`+tok+`"@UNSUB.shop.example`))
	if !b.unsubscribed(t, cy) {
		t.Fatal("a quoted local part in other cases was not accepted")
	}
}

func TestSeveralRecipients(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ana, anaAddr := b.customer(t, "ana@customer.example")
	bob, bobAddr := b.customer(t, "bob@customer.example")
	forged := track.UnsubscribeAddress(testDomain, track.NewSigner("another-secret-entirely").Sign(
		track.Token{Purpose: track.PurposeUnsubscribe, StoreID: b.st.ID, CustomerID: bob, SendID: 3}))

	c := dial(t, b.srv.Addr())
	must(t, c.Mail(""))
	must(t, c.Rcpt(anaAddr))
	requireCode(t, c.Rcpt(forged), 550, "5.1.1 unknown unsubscribe address")
	must(t, c.Rcpt(anaAddr)) // the same customer twice: once is enough
	must(t, c.Rcpt(bobAddr))
	if b.unsubscribed(t, ana) {
		t.Fatal("unsubscribed before the message was sent")
	}
	must(t, data(c, "stop\r\n"))
	if !b.unsubscribed(t, ana) || !b.unsubscribed(t, bob) {
		t.Fatal("not every recipient was unsubscribed")
	}
	must(t, c.Quit())

	// RSET drops the recipients: nobody is unsubscribed by a message that
	// is never sent.
	cy, cyAddr := b.customer(t, "cy@customer.example")
	c = dial(t, b.srv.Addr())
	must(t, c.Mail("ana@customer.example"))
	must(t, c.Rcpt(cyAddr))
	must(t, c.Reset())
	must(t, c.Quit())
	if b.unsubscribed(t, cy) {
		t.Fatal("unsubscribed by a message that was never sent")
	}
}

func TestRefusedRecipients(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ana, anaAddr := b.customer(t, "ana@customer.example")
	tok, ok := track.ParseUnsubscribeAddress(anaAddr, testDomain)
	if !ok {
		t.Fatalf("cannot parse %q", anaAddr)
	}
	sign := func(s *track.Signer, tt track.Token) string { return track.UnsubscribeAddress(testDomain, s.Sign(tt)) }
	other := track.NewSigner("another-secret-entirely")

	unknown := map[string]string{
		"forged":           sign(other, track.Token{Purpose: track.PurposeUnsubscribe, StoreID: b.st.ID, CustomerID: ana}),
		"truncated":        track.UnsubscribeAddress(testDomain, tok[:len(tok)-2]),
		"one letter off":   track.UnsubscribeAddress(testDomain, flip(tok)),
		"lowercased":       strings.ToLower(anaAddr),
		"click token":      sign(b.links, track.Token{Purpose: track.PurposeClick, StoreID: b.st.ID, CustomerID: ana}),
		"no such store":    sign(b.links, track.Token{Purpose: track.PurposeUnsubscribe, StoreID: b.st.ID + 1000, CustomerID: ana}),
		"not base64":       "unsubscribe+" + tok[:10] + "=" + tok[11:] + "@" + testDomain,
		"empty token":      "unsubscribe+@" + testDomain,
		"no token":         "unsubscribe@" + testDomain,
		"postmaster":       "postmaster@" + testDomain,
		"another mailbox":  "ana@" + testDomain,
		"garbage":          "unsubscribe+" + strings.Repeat("A", 70) + "@" + testDomain,
		"token in quotes":  `"unsubscribe+` + tok + ` x"@` + testDomain,
		"dot in the token": "unsubscribe+" + tok[:5] + "." + tok[5:] + "@" + testDomain,
	}
	for name, rcpt := range unknown {
		t.Run(name, func(t *testing.T) {
			c := dial(t, b.srv.Addr())
			must(t, c.Mail("ana@customer.example"))
			requireCode(t, c.Rcpt(rcpt), 550, "5.1.1 unknown unsubscribe address")
		})
	}
	// A test send's address (send 0) went to a tester, not to Ana.
	tc := dial(t, b.srv.Addr())
	must(t, tc.Mail("qa@shop.example"))
	requireCode(t, tc.Rcpt(sign(b.links, track.Token{Purpose: track.PurposeUnsubscribe, StoreID: b.st.ID, CustomerID: ana})),
		550, "5.1.1 address from a test email: it unsubscribes nobody")
	if b.unsubscribed(t, ana) {
		t.Fatal("a test email's address unsubscribed the customer")
	}
	relay := map[string]string{
		"another domain":        "unsubscribe+" + tok + "@shop.example",
		"a subdomain":           "unsubscribe+" + tok + "@x." + testDomain,
		"the domain as a local": "unsubscribe+" + tok + "@" + testDomain + ".evil.example",
		"a customer":            "bob@customer.example",
	}
	for name, rcpt := range relay {
		t.Run(name, func(t *testing.T) {
			c := dial(t, b.srv.Addr())
			must(t, c.Mail("ana@customer.example"))
			requireCode(t, c.Rcpt(rcpt), 550, "5.7.1 relaying denied")
		})
	}
	// With every recipient refused there is nothing to send to.
	c := dial(t, b.srv.Addr())
	must(t, c.Mail("ana@customer.example"))
	requireCode(t, c.Rcpt(unknown["forged"]), 550, "5.1.1")
	_, err := c.Data()
	requireCode(t, err, 502, "Missing RCPT")

	if b.unsubscribed(t, ana) || b.suppressions(t) != 0 {
		t.Fatalf("a refused address unsubscribed someone: %d suppressions", b.suppressions(t))
	}
}

func flip(tok string) string {
	b := []byte(tok)
	if b[3] == 'A' {
		b[3] = 'B'
	} else {
		b[3] = 'A'
	}
	return string(b)
}

func TestNoAuthNoRelay(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := dial(t, b.srv.Addr())
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("the server offers AUTH")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Fatal("the server offers STARTTLS without a certificate")
	}
	err := c.Auth(smtp.PlainAuth("", "admin", "admin", "127.0.0.1"))
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code/100 != 5 {
		t.Fatalf("AUTH: %v; want a 5xx reply", err)
	}
	c = dial(t, b.srv.Addr()) // net/smtp quits after a refused AUTH
	must(t, c.Mail("spammer@bulk.example"))
	requireCode(t, c.Rcpt("victim@customer.example"), 550, "relaying denied")
}

func TestMessageSizeLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(p *Params) { p.MaxMessageBytes = 2048 })
	ana, anaAddr := b.customer(t, "ana@customer.example")
	c := dial(t, b.srv.Addr())
	ok, size := c.Extension("SIZE")
	if !ok || size != "2048" {
		t.Fatalf("SIZE %v %q; want 2048", ok, size)
	}
	must(t, c.Mail("ana@customer.example"))
	must(t, c.Rcpt(anaAddr))
	requireCode(t, data(c, strings.Repeat("x", 70)+"\r\n"+strings.Repeat(strings.Repeat("y", 70)+"\r\n", 100)), 552, "size")
	if b.unsubscribed(t, ana) {
		t.Fatal("an oversized message unsubscribed")
	}
	// The connection is still usable, and a message under the limit works.
	must(t, c.Mail("ana@customer.example"))
	must(t, c.Rcpt(anaAddr))
	must(t, data(c, "unsubscribe\r\n"))
	if !b.unsubscribed(t, ana) {
		t.Fatal("not unsubscribed after the oversized message")
	}
}

func TestReadTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(p *Params) { p.ReadTimeout = 200 * time.Millisecond })
	c := dial(t, b.srv.Addr())
	time.Sleep(400 * time.Millisecond)
	err := c.Mail("ana@customer.example")
	if err == nil {
		t.Fatal("a silent client was not hung up on")
	}
}

func TestShutdownLetsTransactionsFinish(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ana, anaAddr := b.customer(t, "ana@customer.example")
	idle := dial(t, b.srv.Addr()) // connected, never sends MAIL: no reason to wait for it
	busy := dial(t, b.srv.Addr())
	must(t, busy.Mail("ana@customer.example"))
	must(t, busy.Rcpt(anaAddr))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- b.srv.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned during a transaction: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	must(t, data(busy, "unsubscribe\r\n"))
	select {
	case err := <-stopped:
		must(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return once the transaction was over")
	}
	if !b.unsubscribed(t, ana) {
		t.Fatal("the transaction that Shutdown waited for did not unsubscribe")
	}
	if idle.Noop() == nil {
		t.Fatal("the idle connection is still open")
	}
	if c, err := smtp.Dial(b.srv.Addr()); err == nil {
		c.Close()
		t.Fatal("still accepting connections")
	}
	if err, ok := <-b.srv.Done(); ok { // closed once the accept loop has ended
		t.Fatalf("Done after Shutdown delivered %v", err)
	}

	// A transaction that outlasts the deadline is cut off.
	b2 := setup(t, nil)
	_, addr2 := b2.customer(t, "bob@customer.example")
	c := dial(t, b2.srv.Addr())
	must(t, c.Mail("ana@customer.example"))
	must(t, c.Rcpt(addr2))
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := b2.srv.Shutdown(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline: %v", err)
	}
	if data(c, "too late\r\n") == nil {
		t.Fatal("a transaction cut off at shutdown was accepted")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	links := track.NewSigner(testSecret)
	for name, p := range map[string]Params{
		"no database": {Links: links, Domain: testDomain},
		"no signer":   {DB: &pgxpool.Pool{}, Domain: testDomain},
		"no domain":   {DB: &pgxpool.Pool{}, Links: links},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}
