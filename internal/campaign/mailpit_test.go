//go:build mailpit

package campaign_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/render"
)

// TestMailpitHTMLCheck sends every built-in template, rendered with its
// sample data, to a running Mailpit and requires its html-check to find at
// least 95 % of the HTML and CSS supported across mail clients. Run with
// `make check-email`, which starts Mailpit.
func TestMailpitHTMLCheck(t *testing.T) {
	api, smtpURL := os.Getenv("REMARKET_MAILPIT_URL"), os.Getenv("REMARKET_MAILPIT_SMTP")
	if api == "" || smtpURL == "" {
		t.Fatal("set REMARKET_MAILPIT_URL (http://127.0.0.1:8025) and REMARKET_MAILPIT_SMTP (smtp://127.0.0.1:1025?starttls=none); make check-email does")
	}
	r, err := render.Load("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mailer.New(mailer.Config{URL: smtpURL, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, name := range r.Names() {
		msg, err := r.Render(name, render.SampleData(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		id := fmt.Sprintf("<check-%s-%d@remarket.test>", name, os.Getpid())
		_, err = m.Send(context.Background(), mailer.Message{From: "Shop <shop@remarket.test>", To: "check@remarket.test",
			Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, MessageID: id, ListUnsubscribeURL: "https://remarket.test/u/x"})
		if err != nil {
			t.Fatalf("%s: send to Mailpit: %v", name, err)
		}
		supported := htmlCheck(t, api, id)
		t.Logf("%-20s %.1f %% supported", name, supported)
		if supported < 95 {
			t.Errorf("%s: Mailpit html-check %.1f %% supported, want at least 95 %%", name, supported)
		}
	}
}

func htmlCheck(t *testing.T, api, messageID string) float64 {
	t.Helper()
	var found struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	getJSON(t, api+"/api/v1/search?query="+url.QueryEscape("message-id:"+messageID[1:len(messageID)-1]), &found)
	if len(found.Messages) != 1 {
		t.Fatalf("Mailpit holds %d messages with id %s", len(found.Messages), messageID)
	}
	var check struct {
		Total struct{ Supported float64 }
	}
	getJSON(t, api+"/api/v1/message/"+found.Messages[0].ID+"/html-check", &check)
	return check.Total.Supported
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("Mailpit API: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Mailpit API %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("Mailpit API %s: %v", u, err)
	}
}
