package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/recs"
	"github.com/remarket/remarket/internal/render"
	"github.com/remarket/remarket/internal/server"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/slogtest"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

type bundle struct {
	pool *pgxpool.Pool
	st   store.Store
	svc  *campaign.Service
	sink *smtpsink.Sink
}

// setup builds a store with five customers who bought: two may get email,
// one unsubscribed, one suppressed, one without an address.
func setup(t *testing.T, opts smtpsink.Options) *bundle {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "Tea & Co", Platform: "generic", Domain: "tea.example",
		WebhookSecret: "secret-secret", From: "Tea & Co <hello@tea.example>", Address: "1 Leaf Lane, Bristol",
		Timezone: "Europe/London", Currency: "GBP"})
	if err != nil {
		t.Fatal(err)
	}
	people := []shop.Customer{
		{ExternalID: "c1", Email: "ana@example.com", FirstName: "Ana", Consent: shop.ConsentSubscribed},
		{ExternalID: "c2", Email: "ben@example.com", FirstName: "Ben\r\nBcc: evil@example.com", Consent: shop.ConsentSubscribed},
		{ExternalID: "c3", Email: "cy@example.com", Consent: shop.ConsentUnsubscribed},
		{ExternalID: "c4", Email: "di@example.com", Consent: shop.ConsentSubscribed},
		{ExternalID: "c5", Consent: shop.ConsentSubscribed},
	}
	for i, p := range people {
		p.ConsentAt = time.Now().Add(-time.Hour)
		o := &shop.Order{ExternalID: fmt.Sprint(100 + i), Customer: &p, Currency: "GBP", Status: shop.OrderPaid,
			PlacedAt: time.Now().Add(-48 * time.Hour), UpdatedAt: time.Now().Add(-48 * time.Hour),
			Lines: []shop.LineItem{{ExternalID: "1", ProductID: "tea", Title: "Breakfast tea", Quantity: 1, UnitPriceMinor: 450},
				{ExternalID: "2", ProductID: fmt.Sprint("mug", i%2), Title: `<script>alert(1)</script> Mug`, Quantity: 1, UnitPriceMinor: 1200}}}
		if err := store.OrderUpsert(ctx, pool, st.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SuppressionAdd(ctx, pool, st.ID, "di@example.com", store.SuppressManual, "test"); err != nil {
		t.Fatal(err)
	}
	sink, err := smtpsink.StartWith("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	m, err := mailer.New(mailer.Config{URL: sink.URL(), Connections: 2, NoNoopRset: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	r, err := render.Load("")
	if err != nil {
		t.Fatal(err)
	}
	svc := &campaign.Service{DB: pool, Sender: m, Log: slogtest.New(t), BatchSize: 2,
		Composer: &campaign.Composer{DB: pool, Renderer: r, Links: track.NewSigner("campaign-test-secret"),
			PublicURL: "https://remarket.test", Recs: &recs.Service{DB: pool, Opts: recommend.DefaultOptions}}}
	if svc.River, err = river.NewClient(riverpgxv5.New(pool), &river.Config{}); err != nil {
		t.Fatal(err)
	}
	return &bundle{pool: pool, st: st, svc: svc, sink: sink}
}

func (b *bundle) create(t *testing.T, seg string) store.Campaign {
	t.Helper()
	c, err := b.svc.Create(context.Background(), b.st, campaign.CreateParams{Name: "autumn", Template: "cross-sell", Segment: seg, K: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startAndSend starts the campaign and sends all of it in this goroutine,
// as one job would.
func (b *bundle) startAndSend(t *testing.T, c store.Campaign) {
	t.Helper()
	b.start(t, c)
	if err := b.sendAll(c); err != nil {
		t.Fatal(err)
	}
}

// start fills the campaign's ledger without sending.
func (b *bundle) start(t *testing.T, c store.Campaign) {
	t.Helper()
	if _, err := b.svc.Start(context.Background(), b.st, c); err != nil {
		t.Fatal(err)
	}
}

// sendAll runs one send job over the whole ledger, as River would.
func (b *bundle) sendAll(c store.Campaign) error {
	return b.svc.SendBatch(context.Background(), campaign.SendBatchArgs{CampaignID: c.ID, FromID: 1, ToID: 1 << 40}, false)
}

// work runs the send jobs with real River workers until the campaign is done.
func (b *bundle) work(t *testing.T, id int64) {
	t.Helper()
	srv, err := server.New(server.Params{Pool: b.pool, Role: server.RoleWorker, Logger: slog.New(slog.DiscardHandler), Campaigns: b.svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := store.CampaignGet(context.Background(), b.pool, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != store.CampaignSending {
			return
		}
		if time.Now().After(deadline) {
			p, _ := store.CampaignProgress(context.Background(), b.pool, id)
			t.Fatalf("campaign still sending after 30 s: %+v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSendCampaign(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	plan, err := b.svc.Plan(ctx, b.st, c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"": 2, store.SkipNoConsent: 1, store.SkipSuppressed: 1, store.SkipNoEmail: 1}
	if fmt.Sprint(plan) != fmt.Sprint(want) {
		t.Fatalf("plan %v, want %v", plan, want)
	}
	res, err := b.svc.Start(ctx, b.st, c)
	if err != nil || res.Queued != 2 || res.Skipped != 3 || res.Jobs != 1 {
		t.Fatalf("start: %+v %v", res, err)
	}
	b.work(t, c.ID)
	msgs := b.sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages sent, want 2", len(msgs))
	}
	for _, m := range msgs {
		checkMessage(t, m.Data)
	}
	// The same job again sends nothing: every row is finished.
	if err := b.sendAll(c); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sink.Messages()); n != 2 {
		t.Errorf("a job run twice sent %d messages, want 2", n)
	}
	p, _ := store.CampaignProgress(ctx, b.pool, c.ID)
	if p.Sent != 2 || p.Skipped != 3 {
		t.Errorf("progress %+v", p)
	}
}

func checkMessage(t *testing.T, data []byte) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse sent message: %v", err)
	}
	h := m.Header
	if !strings.HasPrefix(h.Get("List-Unsubscribe"), "<https://remarket.test/u/") || h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("unsubscribe headers: %q / %q", h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
	}
	if h.Get("Message-Id") == "" || h.Get("List-Id") == "" || !strings.Contains(h.Get("From"), "hello@tea.example") {
		t.Errorf("headers: %v", h)
	}
	if h.Get("Bcc") != "" || strings.Contains(string(data), "\nBcc:") {
		t.Error("a name with CR/LF injected a header")
	}
	_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(part)
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		types = append(types, ct)
		if ct == "text/html" && strings.Contains(string(b), "<script>") {
			t.Error("a hostile product title reached the HTML unescaped")
		}
		if ct == "text/plain" && !strings.Contains(string(b), "Mug") {
			t.Error("the text part lacks the recommended product")
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", types)
	}
}

func TestSuppressionAtSendTime(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	b.start(t, c)
	// Ana unsubscribes after the campaign was planned, before it goes out.
	cu, _ := store.CustomerFind(ctx, b.pool, b.st.ID, "ana@example.com")
	if err := store.CustomerUnsubscribe(ctx, b.pool, b.st.ID, cu.ID, "test"); err != nil {
		t.Fatal(err)
	}
	b.work(t, c.ID)
	for _, m := range b.sink.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "ana@") {
			t.Fatal("mailed a customer who unsubscribed after planning")
		}
	}
	if n := len(b.sink.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestBounceAndRetry(t *testing.T) {
	t.Parallel()
	tries := 0
	b := setup(t, smtpsink.Options{RejectRcpt: func(to string) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(to, "ben@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(to, "ana@") && tries == 0:
			tries++
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	b.start(t, c)
	// First run: Ana gets a 451 and is given back; the job returns an error.
	err := b.sendAll(c)
	if err == nil {
		t.Fatal("a 4xx must make the job retry")
	}
	// The retry: Ana goes through; Ben bounced for good and is suppressed.
	for range 3 {
		if err = b.sendAll(c); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.CampaignProgress(ctx, b.pool, c.ID)
	if p.Sent != 1 || p.Failed != 1 {
		t.Errorf("progress %+v, want 1 sent (after a retry) and 1 failed (bounce)", p)
	}
	var n int
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM suppressions WHERE email = 'ben@example.com' AND reason = 'bounced'`).Scan(&n)
	if n != 1 {
		t.Error("a 5xx did not suppress the address")
	}
}

func TestCancelStopsSends(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	b.start(t, c)
	if err := b.svc.Cancel(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.sendAll(c); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sink.Messages()); n != 0 {
		t.Errorf("%d messages after cancel", n)
	}
	p, _ := store.CampaignProgress(ctx, b.pool, c.ID)
	if p.Reasons[store.SkipCancelled] != 2 {
		t.Errorf("progress %+v, want 2 skipped as cancelled", p)
	}
}

// TestCancelDuringAChunk: a campaign cancelled while a worker is in the
// middle of its claimed rows sends no more of them.
func TestCancelDuringAChunk(t *testing.T) {
	t.Parallel()
	var b *bundle
	var campaignID atomic.Int64
	b = setup(t, smtpsink.Options{RejectData: func(string, []string) *smtp.SMTPError {
		// The first message is accepted; meanwhile the operator cancels, and
		// the worker's next look at the campaign comes after this.
		if id := campaignID.Swap(0); id != 0 {
			if err := b.svc.Cancel(context.Background(), id); err != nil {
				t.Error(err)
			}
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	}})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	campaignID.Store(c.ID)
	b.startAndSend(t, c)
	if n := len(b.sink.Messages()); n != 1 {
		t.Errorf("%d messages, want 1: the second was claimed with the first but should not go after the cancel", n)
	}
	p, _ := store.CampaignProgress(ctx, b.pool, c.ID)
	if p.Sent != 1 || p.Reasons[store.SkipCancelled] != 1 || p.Sending != 0 {
		t.Errorf("progress %+v, want 1 sent and 1 skipped as cancelled", p)
	}
}

// TestLedgerWriteFailureMidChunk: when recording a chunk's results fails
// (here a trigger refuses it once the first message went), the message
// handed to the server stays "sending", never to be sent again, and the
// recipient not tried yet goes back to the queue.
func TestLedgerWriteFailureMidChunk(t *testing.T) {
	t.Parallel()
	var b *bundle
	var messages atomic.Int64
	b = setup(t, smtpsink.Options{RejectData: func(string, []string) *smtp.SMTPError {
		if messages.Add(1) == 1 {
			_, err := b.pool.Exec(context.Background(), `CREATE FUNCTION refuse_results() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
CREATE TRIGGER refuse_results BEFORE UPDATE ON sends FOR EACH ROW
WHEN (NEW.status IN ('sent', 'skipped', 'failed')) EXECUTE FUNCTION refuse_results()`)
			if err != nil {
				t.Error(err)
			}
			time.Sleep(1200 * time.Millisecond) // past recordEvery: the chunk records after this send
		}
		return nil
	}})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	b.start(t, c)
	err := b.sendAll(c)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("SendBatch: %v, want the ledger's error", err)
	}
	var states string
	if err := b.pool.QueryRow(ctx, `SELECT string_agg(status, ',' ORDER BY id) FROM sends WHERE campaign_id = $1 AND status <> 'skipped'`,
		c.ID).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if messages.Load() != 1 || states != "sending,queued" {
		t.Errorf("%d messages, ledger %s; want 1 message, its row sending and the untried one queued", messages.Load(), states)
	}
	// River retries the job once the disk has room again. A row sending
	// for less than five minutes may still be in a live worker's hands: it
	// is left as it is, and only the queued one goes.
	if _, err := b.pool.Exec(ctx, `DROP TRIGGER refuse_results ON sends`); err != nil {
		t.Fatal(err)
	}
	if err := b.sendAll(c); err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(ctx, `SELECT string_agg(status, ',' ORDER BY id) FROM sends WHERE campaign_id = $1 AND status <> 'skipped'`,
		c.ID).Scan(&states); err != nil {
		t.Fatal(err)
	}
	if messages.Load() != 2 || states != "sending,sent" {
		t.Errorf("after the first retry: %d messages, ledger %s; want 2 messages, ledger sending,sent", messages.Load(), states)
	}
	// A row left sending for more than five minutes may have been
	// delivered: the next run marks it failed, and sends nothing again.
	if _, err := b.pool.Exec(ctx, `UPDATE sends SET claimed_at = now() - interval '6 minutes' WHERE status = 'sending'`); err != nil {
		t.Fatal(err)
	}
	if err := b.sendAll(c); err != nil {
		t.Fatal(err)
	}
	var reasons string
	if err := b.pool.QueryRow(ctx, `SELECT string_agg(status || ' ' || reason, ',' ORDER BY id) FROM sends WHERE campaign_id = $1 AND status <> 'skipped'`,
		c.ID).Scan(&reasons); err != nil {
		t.Fatal(err)
	}
	want := "failed interrupted during send: may have been delivered, not retried,sent "
	if messages.Load() != 2 || reasons != want {
		t.Errorf("after the retry: %d messages, ledger %q; want 2 messages, ledger %q", messages.Load(), reasons, want)
	}
}

// TestSubjectReadsTheOrder: an operator's subject that reads the order
// gets it, though the cross-sell template itself shows none.
func TestSubjectReadsTheOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	c, err := b.svc.Create(context.Background(), b.st, campaign.CreateParams{Name: "s", Template: "cross-sell",
		Segment: "orders>=1", K: 2, Subject: "{{with .Order}}After your {{len .Lines}} items: {{end}}more for you"})
	if err != nil {
		t.Fatal(err)
	}
	b.startAndSend(t, c)
	msgs := b.sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if !regexp.MustCompile(`(?m)^Subject: After your 2 items: more for you\r?$`).Match(m.Data) {
			t.Errorf("subject without the order: %s", m.Data[:min(len(m.Data), 400)])
		}
	}
}

// TestSlowChunkRecordsAsItGoes: when a chunk's sends are slow (a rate
// limit, a slow server), the ones done are recorded within about a second,
// not only at the chunk's end, so campaign status shows them.
func TestSlowChunkRecordsAsItGoes(t *testing.T) {
	t.Parallel()
	var b *bundle
	var messages atomic.Int64
	var sentBeforeSecond atomic.Int64
	b = setup(t, smtpsink.Options{RejectData: func(string, []string) *smtp.SMTPError {
		switch messages.Add(1) {
		case 1:
			time.Sleep(1200 * time.Millisecond) // longer than results may wait
		case 2:
			var n int64
			if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM sends WHERE status = 'sent'`).Scan(&n); err != nil {
				t.Error(err)
			}
			sentBeforeSecond.Store(n)
		}
		return nil
	}})
	c := b.create(t, "orders>=1")
	b.startAndSend(t, c)
	if messages.Load() != 2 || sentBeforeSecond.Load() != 1 {
		t.Errorf("%d messages; %d recorded as sent when the second went, want the first", messages.Load(), sentBeforeSecond.Load())
	}
}

// TestUnsubscribeDuringAChunk: a customer who unsubscribes while a worker
// is sending the chunk their row was claimed in gets nothing.
func TestUnsubscribeDuringAChunk(t *testing.T) {
	t.Parallel()
	var b *bundle
	var once sync.Once
	b = setup(t, smtpsink.Options{RejectData: func(_ string, to []string) *smtp.SMTPError {
		// While the first message goes, the other recipient unsubscribes;
		// the worker's next look comes after this.
		once.Do(func() {
			other := "ana@example.com"
			if len(to) == 1 && to[0] == other {
				other = "ben@example.com"
			}
			if err := store.SuppressionAdd(context.Background(), b.pool, b.st.ID, other, store.SuppressUnsubscribed, "test"); err != nil {
				t.Error(err)
			}
			time.Sleep(300 * time.Millisecond)
		})
		return nil
	}})
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	b.startAndSend(t, c)
	if n := len(b.sink.Messages()); n != 1 {
		t.Errorf("%d messages, want 1: the second recipient unsubscribed before their turn", n)
	}
	p, _ := store.CampaignProgress(ctx, b.pool, c.ID)
	if p.Sent != 1 || p.Reasons[store.SkipSuppressed] != 2 {
		t.Errorf("progress %+v, want 1 sent and 2 skipped as suppressed (one at planning, one at send)", p)
	}
}

// TestNothingToRecommend: a customer who owns the whole catalog gets no
// blank cross-sell email; the ledger says why.
func TestNothingToRecommend(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	o := &shop.Order{ExternalID: "all", Customer: &shop.Customer{Email: "ana@example.com"}, Currency: "GBP", Status: shop.OrderPaid,
		PlacedAt: at, UpdatedAt: at, Lines: []shop.LineItem{{ExternalID: "1", ProductID: "mug0", Quantity: 1, UnitPriceMinor: 1200},
			{ExternalID: "2", ProductID: "mug1", Quantity: 1, UnitPriceMinor: 1200}}}
	if err := store.OrderUpsert(ctx, b.pool, b.st.ID, o); err != nil {
		t.Fatal(err)
	}
	c := b.create(t, "bought:mug0 and bought:mug1")
	b.start(t, c)
	if err := b.sendAll(c); err != nil {
		t.Fatal(err)
	}
	p, _ := store.CampaignProgress(ctx, b.pool, c.ID)
	if len(b.sink.Messages()) != 0 || p.Reasons[store.SkipNothingToRecommend] != 1 {
		t.Errorf("%d messages, progress %+v; want none sent, 1 skipped as nothing to recommend", len(b.sink.Messages()), p)
	}
}

// TestManyJobsFinishTheCampaign splits a campaign into a job per recipient:
// the campaign is marked sent once, by the last job to finish, with every
// row sent.
func TestManyJobsFinishTheCampaign(t *testing.T) {
	t.Parallel()
	b := setup(t, smtpsink.Options{})
	b.svc.BatchSize = 1
	ctx := context.Background()
	c := b.create(t, "orders>=1")
	res, err := b.svc.Start(ctx, b.st, c)
	if err != nil || res.Queued != 2 || res.Jobs != 2 {
		t.Fatalf("start: %+v %v", res, err)
	}
	b.work(t, c.ID)
	got, err := store.CampaignGet(ctx, b.pool, c.ID)
	if err != nil || got.Status != store.CampaignSent {
		t.Fatalf("campaign %+v (%v), want sent", got, err)
	}
	if p, _ := store.CampaignProgress(ctx, b.pool, c.ID); p.Sent != 2 || p.Queued+p.Sending != 0 {
		t.Errorf("progress %+v", p)
	}
}
