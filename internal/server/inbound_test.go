package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/smtp"
	"net/textproto"
	"testing"

	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/slogtest"
	"github.com/remarket/remarket/internal/track"
)

// TestInboundUnsubscribe runs a web process with the inbound SMTP server and
// unsubscribes a customer by mailing the address their email names.
func TestInboundUnsubscribe(t *testing.T) {
	t.Parallel()
	const secret, domain = "inbound-server-test-secret", "unsub.u.example"
	pool := dbtest.New(t)
	srv, err := New(Params{Pool: pool, Role: RoleWeb, Addr: "127.0.0.1:0", Logger: slogtest.New(t), Secret: secret,
		InboundAddr: "127.0.0.1:0", UnsubscribeDomain: domain})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Shutdown(context.Background())
		}
	})
	if srv.InboundAddr() == "" {
		t.Fatal("no inbound SMTP server")
	}
	st, cid, tok := subscribedCustomer(t, pool, secret)

	forged := track.NewSigner("some-other-secret-xx").Sign(track.Token{Purpose: track.PurposeUnsubscribe, StoreID: st.ID, CustomerID: cid})
	err = smtp.SendMail(srv.InboundAddr(), nil, "ana@example.com", []string{track.UnsubscribeAddress(domain, forged)},
		[]byte("Subject: unsubscribe\r\n\r\n"))
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 550 {
		t.Fatalf("forged token: %v, want 550", err)
	}
	if c := consent(t, pool, cid); c != "subscribed" {
		t.Fatalf("a forged token unsubscribed: consent %q", c)
	}

	err = smtp.SendMail(srv.InboundAddr(), nil, "ana@example.com", []string{track.UnsubscribeAddress(domain, tok)},
		[]byte("Subject: unsubscribe\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := consent(t, pool, cid); c != "unsubscribed" {
		t.Errorf("consent after the unsubscribe mail: %q", c)
	}

	stopped = true
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-srv.Done(); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Done after Shutdown: %v", err)
	}
	if c, err := smtp.Dial(srv.InboundAddr()); err == nil {
		c.Close()
		t.Error("the inbound server still accepts connections after Shutdown")
	}
}

func TestInboundParams(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	log := slog.New(slog.DiscardHandler)
	for name, p := range map[string]Params{
		"no secret": {Pool: pool, Role: RoleWeb, Logger: log, InboundAddr: "127.0.0.1:0", UnsubscribeDomain: "unsub.u.example"},
		"no domain": {Pool: pool, Role: RoleWeb, Logger: log, InboundAddr: "127.0.0.1:0", Secret: "inbound-server-test-secret"},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	// A worker takes no mail, as it serves no HTTP.
	srv, err := New(Params{Pool: pool, Role: RoleWorker, Logger: log, Secret: "inbound-server-test-secret",
		InboundAddr: "127.0.0.1:0", UnsubscribeDomain: "unsub.u.example"})
	if err != nil {
		t.Fatal(err)
	}
	if srv.inbound != nil {
		t.Error("a worker runs the inbound SMTP server")
	}
}
