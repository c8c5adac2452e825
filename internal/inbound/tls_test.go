package inbound

import (
	"testing"

	"github.com/remarket/remarket/internal/testcert"
)

// TestStartTLS: with a certificate the server offers STARTTLS, and an
// unsubscribe delivered over it works; without one it offers none.
func TestStartTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testcert.New(t, testDomain)
	b := setup(t, func(p *Params) { p.TLS = serverTLS })
	ana, anaAddr := b.customer(t, "ana@customer.example")

	c := dial(t, b.srv.Addr())
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	clientTLS.ServerName = testDomain
	must(t, c.StartTLS(clientTLS))
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("no TLS after STARTTLS")
	}
	must(t, c.Mail("ana@customer.example"))
	must(t, c.Rcpt(anaAddr))
	must(t, data(c, "unsubscribe me\r\n"))
	if !b.unsubscribed(t, ana) {
		t.Fatal("not unsubscribed over TLS")
	}

	plain := setup(t, nil)
	if ok, _ := dial(t, plain.srv.Addr()).Extension("STARTTLS"); ok {
		t.Fatal("STARTTLS offered without a certificate")
	}
}
