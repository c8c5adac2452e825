package campaign_test

import (
	"bytes"
	"context"
	"net/mail"
	"net/smtp"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/inbound"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// TestMailtoUnsubscribe: a campaign email's List-Unsubscribe carries a
// mailto address beside the https link, with the same token, and mail to
// that address unsubscribes the customer.
func TestMailtoUnsubscribe(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	b.svc.Composer.UnsubscribeDomain = "unsub.tea.example"
	ctx := context.Background()
	b.startAndSend(t, b.create(t, "orders>=1"))
	var header string
	for _, m := range b.sink.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if msg.Header.Get("To") == "ana@example.com" || strings.Contains(msg.Header.Get("To"), "<ana@example.com>") {
			header = msg.Header.Get("List-Unsubscribe")
		}
	}
	https, mailto, ok := strings.Cut(header, ", ")
	if !ok || !strings.HasPrefix(mailto, "<mailto:unsubscribe+") || !strings.HasSuffix(mailto, "@unsub.tea.example?subject=unsubscribe>") {
		t.Fatalf("List-Unsubscribe %q, want the https link and a mailto address", header)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(mailto, "<mailto:"), "?subject=unsubscribe>")
	tok, _ := track.ParseUnsubscribeAddress(addr, "unsub.tea.example")
	if !strings.HasSuffix(strings.Trim(https, "<>"), "/u/"+tok) {
		t.Errorf("the mailto token %q is not the https link's: %q", tok, https)
	}

	in, err := inbound.New(inbound.Params{DB: b.pool, Links: b.svc.Composer.Links, Domain: "unsub.tea.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer in.Close() //nolint:errcheck
	if err := smtp.SendMail(in.Addr(), nil, "ana@example.com", []string{addr}, []byte("Subject: unsubscribe\r\n\r\nplease\r\n")); err != nil {
		t.Fatalf("mail to %s: %v", addr, err)
	}
	cu, err := store.CustomerFind(ctx, b.pool, b.st.ID, "ana@example.com")
	if err != nil || cu.Consent != "unsubscribed" {
		t.Errorf("after mail to the unsubscribe address: %+v (%v), want unsubscribed", cu, err)
	}
}
