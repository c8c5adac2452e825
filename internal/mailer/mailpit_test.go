package mailer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestMailpit sends to a Mailpit on 127.0.0.1:1025 (API on :8025) when one
// is running, as docker compose starts it, and reads the message back
// through its API. Without Mailpit it skips: the in-process sink is the
// required real server. REMARKET_MAILPIT_SMTP / _API override the addresses.
func TestMailpit(t *testing.T) {
	t.Parallel()
	smtpAddr := envOr("REMARKET_MAILPIT_SMTP", "127.0.0.1:1025")
	api := envOr("REMARKET_MAILPIT_API", "http://127.0.0.1:8025")
	c, err := net.DialTimeout("tcp", smtpAddr, 300*time.Millisecond)
	if err != nil {
		t.Skipf("no Mailpit on %s: %v", smtpAddr, err)
	}
	_ = c.Close()

	m := newMailer(t, Config{URL: "smtp://" + smtpAddr + "?starttls=none"})
	msg := sample("Zoë <zoe@example.com>")
	msg.Subject = "Mailpit check 🛒"
	msg.MessageID = fmt.Sprintf("mailpit.%d@gifts.example", time.Now().UnixNano())
	res, err := m.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}

	id := ""
	waitFor(t, "Mailpit lists the message", func() bool {
		var out struct {
			Messages []struct{ ID, MessageID string }
		}
		q := url.Values{"query": {"message-id:" + msg.MessageID}}
		if err := getJSON(api+"/api/v1/search?"+q.Encode(), &out); err != nil {
			t.Logf("search: %v", err)
			return false
		}
		for _, x := range out.Messages {
			if "<"+x.MessageID+">" == res.MessageID || x.MessageID == res.MessageID {
				id = x.ID
			}
		}
		return id != ""
	})
	resp, err := http.Get(api + "/api/v1/message/" + id + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, raw)
	for k, v := range map[string]string{
		"Message-ID":            res.MessageID,
		"List-Unsubscribe":      "<" + msg.ListUnsubscribeURL + ">, <" + msg.ListUnsubscribeMailto + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	} {
		if got := p.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := decodeWords(t, p.header.Get("Subject")); got != msg.Subject {
		t.Errorf("Subject = %q", got)
	}
	if len(p.parts) != 2 || p.parts[0].contentType != "text/plain" || p.parts[1].contentType != "text/html" {
		t.Errorf("parts = %+v", p.parts)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
