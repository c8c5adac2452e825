package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/wneessen/go-mail"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/dbtest"
	"github.com/remarket/remarket/internal/importer"
	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/recs"
	"github.com/remarket/remarket/internal/render"
	"github.com/remarket/remarket/internal/server"
	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// BenchmarkCampaignSend measures personalized emails per second through the
// whole path (ledger, River, recommendations, rendering, SMTP) to a discard
// SMTP server on loopback, beside a plain go-mail loop sending one
// pre-rendered message to the same server over the same number of
// connections with the same options, in the same run. It also reports CPU
// time per email (this process, and PostgreSQL's beside it) and the
// process's peak resident memory.
//
// This machine's speed drifts by a third within seconds, so the campaign is
// sent in several rounds, each between two plain loops: a round's ratio is
// its rate over the mean of the loops either side, and the reported figures
// are the rounds' medians (ratio-min is the worst round). Between rounds
// the ledger's rows are moved 31 days back, out of reach of the frequency
// cap and the recently-recommended window, so that every round is the same
// campaign to the same store, as if sent a month apart.
//
// REMARKET_BENCH_RECIPIENTS sets the campaign's size (default 3,000);
// REMARKET_BENCH_DATA=online-retail sends instead to every customer of the
// real Online Retail data, with its catalog; REMARKET_BENCH_ROUNDS sets the
// rounds (default 5, and 1 above 20,000 recipients); with -v, each round is
// logged, and REMARKET_BENCH_TIMELINE=1 prints each send's progress.
//
//	go test ./internal/campaign -run XXX -bench CampaignSend -benchtime 1x
//	REMARKET_BENCH_RECIPIENTS=200000 go test ./internal/campaign -run XXX -bench CampaignSend -benchtime 1x -timeout 30m
//	REMARKET_BENCH_DATA=online-retail go test ./internal/campaign -run XXX -bench CampaignSend -benchtime 1x
func BenchmarkCampaignSend(b *testing.B) {
	recipients, conns := 3000, 16
	if n, err := strconv.Atoi(os.Getenv("REMARKET_BENCH_RECIPIENTS")); err == nil && n > 0 {
		recipients = n
	}
	rounds := 5
	if recipients > 20000 {
		rounds = 1
	}
	if n, err := strconv.Atoi(os.Getenv("REMARKET_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	ctx := context.Background()
	pool := dbtest.New(b)
	st, err := store.StoreInsert(ctx, pool, store.Store{Name: "Bench", Platform: "generic", Domain: "bench.example",
		WebhookSecret: "secret-secret", From: "Bench <hi@bench.example>", Address: "1 Bench Road", Timezone: "Europe/London", Currency: "GBP"})
	if err != nil {
		b.Fatal(err)
	}
	sample := "c1@example.com"
	if os.Getenv("REMARKET_BENCH_DATA") == "online-retail" {
		recipients, sample = seedOnlineRetail(b, pool, st.ID)
	} else {
		seedCustomers(b, pool, st.ID, recipients)
	}
	sink, err := smtpsink.StartWith("127.0.0.1:0", smtpsink.Options{Discard: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	m, err := mailer.New(mailer.Config{URL: sink.URL(), Connections: conns, NoNoopRset: true})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r, err := render.Load("")
	if err != nil {
		b.Fatal(err)
	}
	svc := &campaign.Service{DB: pool, Sender: m, Log: slog.New(slog.DiscardHandler), FrequencyCapHours: campaign.DefaultFrequencyCapHours,
		Composer: &campaign.Composer{DB: pool, Renderer: r, Links: track.NewSigner("bench-secret-bench"),
			PublicURL: "https://remarket.bench", Recs: &recs.Service{DB: pool, Opts: recommend.DefaultOptions, CheckEvery: time.Minute}}}
	if svc.River, err = river.NewClient(riverpgxv5.New(pool), &river.Config{}); err != nil {
		b.Fatal(err)
	}
	// The rounds stand for campaigns a month apart; the benchmark's own
	// loop would send again at once, to customers the cap has just mailed.
	if b.N > 1 {
		b.Fatalf("b.N is %d: this benchmark sends its rounds once per run, use -benchtime 1x", b.N)
	}
	msg := sampleMessage(b, svc, st, sample)
	stop := startWorkers(b, svc, st)
	defer stop()
	var rates, ratios, cpus, pgs, plains, plainCPUs []float64
	before, beforeCPU := plainRate(b, svc, sink, msg, conns, recipients)
	for round := range rounds {
		full, cpu, pgCPU := campaignRate(b, pool, svc, st, sink, msg, conns, round == 0)
		after, afterCPU := plainRate(b, svc, sink, msg, conns, recipients)
		rates, cpus, pgs = append(rates, full), append(cpus, cpu), append(pgs, pgCPU)
		ratios = append(ratios, full/((before+after)/2))
		plains, plainCPUs = append(plains, (before+after)/2), append(plainCPUs, (beforeCPU+afterCPU)/2)
		b.Logf("round %d: %.0f emails/s, plain loops %.0f and %.0f/s, ratio %.3f; CPU %.0f µs/email here, %.0f in PostgreSQL",
			round+1, full, before, after, ratios[round], cpu, pgCPU)
		before, beforeCPU = after, afterCPU
	}
	b.ReportMetric(median(rates), "emails/s")
	b.ReportMetric(median(plains), "plain-go-mail/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(slices.Min(ratios), "ratio-min")
	b.ReportMetric(median(cpus), "cpu-µs/email")
	b.ReportMetric(median(plainCPUs), "plain-cpu-µs/email")
	if slices.Min(pgs) >= 0 {
		b.ReportMetric(median(pgs), "pg-cpu-µs/email")
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
}

// median of xs (not empty), which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// startWorkers trains the store's model and starts River's workers, as a
// serving process has them before a campaign; it returns their stop.
func startWorkers(b *testing.B, svc *campaign.Service, st store.Store) func() {
	ctx := context.Background()
	if _, err := svc.Composer.Recs.(*recs.Service).Model(ctx, st.ID); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Params{Pool: svc.DB, Role: server.RoleWorker, Logger: slog.New(slog.DiscardHandler), Campaigns: svc})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // River elects its leader and starts fetching
	return func() { _ = srv.Shutdown(ctx) }
}

// seedOnlineRetail imports the UCI Online Retail data (a real catalog of
// 3,657 products and 4,372 customers' orders) and, since it has no email
// addresses, gives every customer one and their consent. It returns how
// many customers will get the campaign and one of their addresses.
func seedOnlineRetail(b *testing.B, db *pgxpool.Pool, storeID int64) (int, string) {
	ctx := context.Background()
	_, err := importer.Run(ctx, db, importer.Params{StoreID: storeID, Format: importer.FormatOnlineRetail,
		Paths: []string{"../../../shared/datasets/online_retail_uci/by-day"}, Location: time.UTC})
	if err != nil {
		b.Fatalf("import Online Retail (../shared/datasets beside the repository): %v", err)
	}
	if _, err := db.Exec(ctx, `UPDATE customers SET email = 'c' || id || '@example.com', consent = 'subscribed',
    consent_at = now() - interval '1 hour' WHERE store_id = $1`, storeID); err != nil {
		b.Fatal(err)
	}
	if err := store.AnalyzeTables(ctx, db); err != nil {
		b.Fatal(err)
	}
	var n int
	var sample string
	err = db.QueryRow(ctx, `SELECT count(DISTINCT o.customer_id), min(c.email) FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.store_id = $1 AND o.status IN ('paid', 'partially_refunded')`, storeID).Scan(&n, &sample)
	if err != nil {
		b.Fatal(err)
	}
	return n, sample
}

// seedCustomers gives n subscribed customers an order of two of 200 products.
func seedCustomers(b *testing.B, db store.DB, storeID int64, n int) {
	var orders []*shop.Order
	for i := range n {
		c := &shop.Customer{ExternalID: fmt.Sprint("c", i), Email: fmt.Sprintf("c%d@example.com", i), FirstName: "Sam",
			Consent: shop.ConsentSubscribed, ConsentAt: time.Now().Add(-time.Hour)}
		at := time.Now().Add(-time.Duration(i%300) * 24 * time.Hour)
		orders = append(orders, &shop.Order{ExternalID: strconv.Itoa(i), Customer: c, Currency: "GBP", Status: shop.OrderPaid,
			PlacedAt: at, UpdatedAt: at, Lines: []shop.LineItem{
				{ExternalID: "1", ProductID: fmt.Sprint("p", i%200), Title: fmt.Sprint("Product ", i%200), Category: fmt.Sprint("cat", i%10), Quantity: 1, UnitPriceMinor: int64(500 + i%200*10)},
				{ExternalID: "2", ProductID: fmt.Sprint("p", (i*7)%200), Title: fmt.Sprint("Product ", (i*7)%200), Category: fmt.Sprint("cat", (i*7)%10), Quantity: 1, UnitPriceMinor: 900}}})
		if len(orders) == 500 || i == n-1 {
			if err := store.OrdersUpsert(context.Background(), db, storeID, orders); err != nil {
				b.Fatal(err)
			}
			orders = nil
		}
		if i%5000 == 0 || i == n-1 { // the tables grow from nothing: keep the index plans
			if err := store.AnalyzeTables(context.Background(), db); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// campaignRate sends a campaign to every seeded customer and returns
// emails per second, this process's CPU time per email and PostgreSQL's
// (-1 where it cannot be read). The workers are running already, as in a
// serving process, and the clock starts once the send's jobs are in the
// queue: like the plain loop, which dials its connections before its clock
// starts, this counts sending, not starting up. Its ledger rows then move
// a month back (see BenchmarkCampaignSend). profile says whether to write
// the CPU profile of this round.
func campaignRate(b *testing.B, db store.DB, svc *campaign.Service, st store.Store, sink *smtpsink.Sink, msg mailer.Message, conns int, profile bool) (perSecond, cpuMicros, pgMicros float64) {
	ctx := context.Background()
	c, err := svc.Create(ctx, st, campaign.CreateParams{Name: "bench", Template: "cross-sell", Segment: "orders>=1", K: 4})
	if err != nil {
		b.Fatal(err)
	}
	warm(b, svc, sink, msg, conns)
	// The garbage and the dirty pages of what ran before (seeding, the plain
	// loop) are not this send's: collected and checkpointed before Start,
	// since the running workers take the jobs as soon as they are in.
	settle(b, db)
	res, err := svc.Start(ctx, st, c)
	cpu0, start := cpuTime(), time.Now() // at once: the workers take the jobs as Start queues them
	if err != nil {
		b.Fatal(err)
	}
	pg0, pgOK := postgresCPU()
	if profile {
		defer profileCampaign(b)()
	}
	defer timeline(sink, start, cpu0, pg0)()
	for {
		cur, err := store.CampaignGet(ctx, db, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if cur.Status != store.CampaignSending {
			break
		}
		// The end is when the last job marked the campaign sent, not when
		// this poll saw it: polling often would only add its own queries.
		time.Sleep(20 * time.Millisecond)
	}
	cpu := cpuTime() - cpu0
	done, err := store.CampaignGet(ctx, db, c.ID)
	if err != nil || done.FinishedAt == nil {
		b.Fatalf("campaign %d not finished: %v", c.ID, err)
	}
	// finished_at is PostgreSQL's clock; start is this machine's, which the
	// benchmark's local server shares. A server elsewhere, or a clock
	// stepped during the run, would show here.
	elapsed := done.FinishedAt.Sub(start)
	if elapsed <= 0 || elapsed > time.Since(start) {
		b.Fatalf("finished_at %s is outside this run (started %s): is PostgreSQL on another machine?", done.FinishedAt, start)
	}
	pg1, _ := postgresCPU()
	p, _ := store.CampaignProgress(ctx, db, c.ID)
	if p.Sent != res.Queued {
		b.Fatalf("sent %d of %d: %+v", p.Sent, res.Queued, p)
	}
	if _, err := db.Exec(ctx, `UPDATE sends SET sent_at = sent_at - interval '31 days', claimed_at = claimed_at - interval '31 days'
WHERE campaign_id = $1`, c.ID); err != nil {
		b.Fatal(err)
	}
	pgMicros = -1
	if pgOK {
		pgMicros = float64((pg1 - pg0).Microseconds()) / float64(p.Sent)
	}
	return float64(p.Sent) / elapsed.Seconds(), float64(cpu.Microseconds()) / float64(p.Sent), pgMicros
}

// warm opens the connections a serving process that has sent before holds
// open, as the plain loop dials its own before its clock: the mailer's
// SMTP connections (it keeps them until the server closes them) and the
// PostgreSQL connections its workers use (pgxpool keeps an idle one for
// half an hour). Otherwise the campaign's clock counted 16 SMTP dials and
// a dozen new PostgreSQL backends that the plain loop's did not.
func warm(b *testing.B, svc *campaign.Service, sink *smtpsink.Sink, msg mailer.Message, conns int) {
	ctx := context.Background()
	// Rounds of conns sends at once, until the mailer holds conns
	// connections: a send that ends early can hand its connection to
	// another of the round. The plain loop has closed its own by now.
	for round := 0; sink.Open() < conns; round++ {
		if round == 50 {
			b.Fatalf("the mailer opened %d of %d connections", sink.Open(), conns)
		}
		errs := make([]error, conns)
		var wg sync.WaitGroup
		for i := range conns {
			wg.Go(func() { _, errs[i] = svc.Sender.Send(ctx, msg) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
	}
	held := make([]*pgxpool.Conn, 0, campaign.EmailWorkers+4) // the workers, River and the poll
	defer func() {
		for _, c := range held { // before any Fatal: the pool's Close waits for them
			c.Release()
		}
	}()
	for range cap(held) {
		c, err := svc.DB.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		held = append(held, c)
		if err := warmStatements(c, svc.FrequencyCapHours); err != nil {
			b.Fatal(err)
		}
	}
}

// warmStatements runs the send path's statements once on a connection,
// with ids that match nothing: a serving process's connections have
// prepared them and loaded the tables' catalog entries in sending before.
func warmStatements(db store.DB, capHours int) error {
	ctx := context.Background()
	none := []int64{-1}
	_, _, err1 := store.SendJobStart(ctx, db, -1, -1, -1, time.Minute)
	_, err2 := store.SendClaimMany(ctx, db, -1, -1, -1, 1, capHours)
	_, err3 := store.ProductsByID(ctx, db, none)
	err4 := store.SendFinishMany(ctx, db, none, []store.SendResult{{Status: "sent"}})
	_, err5 := store.CampaignGet(ctx, db, -1)                    // the cancel check
	_, err6 := store.SkipReasonsNow(ctx, db, -1, none, capHours) // the re-check of a slow chunk
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// sampleMessage is the campaign's email for one customer, as the plain
// loop sends it and the warm-up opens connections with.
func sampleMessage(b *testing.B, svc *campaign.Service, st store.Store, sample string) mailer.Message {
	ctx := context.Background()
	cu, err := store.CustomerFind(ctx, svc.DB, st.ID, sample)
	if err != nil {
		b.Fatal(err)
	}
	comp, err := svc.Composer.Compose(ctx, st, store.Campaign{ID: 1, Template: "cross-sell", Strategy: "blend", K: 4}, cu, 1)
	if err != nil {
		b.Fatal(err)
	}
	return comp.Message
}

// plainRate sends one pre-rendered message n times with go-mail directly,
// over conns connections with the same options the mailer uses, and
// returns messages per second and this process's CPU time per message.
func plainRate(b *testing.B, svc *campaign.Service, sink *smtpsink.Sink, msg mailer.Message, conns, n int) (perSecond, cpuMicros float64) {
	host, portText, _ := net.SplitHostPort(sink.Addr())
	port, _ := strconv.Atoi(portText)
	open0 := sink.Open()
	clients := make([]*mail.Client, conns)
	for i := range clients {
		c, err := mail.NewClient(host, mail.WithTLSPolicy(mail.NoTLS), mail.WithPort(port), mail.WithoutNoop(), mail.WithoutRset(),
			mail.WithHELO("bench.remarket.example"), mail.WithTimeout(5*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.DialWithContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	settle(b, svc.DB) // as before the campaign's clock
	cpu0, start := cpuTime(), time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				m := mail.NewMsg()
				_ = m.From(msg.From)
				_ = m.To(msg.To)
				m.Subject(msg.Subject)
				m.SetBodyString(mail.TypeTextPlain, msg.Text)
				m.AddAlternativeString(mail.TypeTextHTML, msg.HTML)
				if err := clients[w].Send(m); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	// Hang up, and wait for the server to see it, so that the sink's count
	// of open connections is the mailer's again (see warm).
	for _, c := range clients {
		_ = c.Close()
	}
	for t := time.Now(); sink.Open() > open0; time.Sleep(time.Millisecond) {
		if time.Since(t) > 5*time.Second {
			b.Fatalf("the sink still holds %d connections of the plain loop", sink.Open()-open0)
		}
	}
	return float64(n) / elapsed.Seconds(), float64(cpu.Microseconds()) / float64(n)
}

// settle collects garbage, as testing.B does before a benchmark, and
// checkpoints PostgreSQL, as pgbench advises before a run: what ran before
// is not counted in, nor stolen from, the run that follows.
func settle(b *testing.B, db store.DB) {
	runtime.GC()
	if _, err := db.Exec(context.Background(), "CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
}

// profileCampaign writes a CPU profile of the campaign's send alone to
// $REMARKET_BENCH_CPUPROFILE when it is set (go test's -cpuprofile would
// take in the seeding and the plain loops too), and returns its stop.
func profileCampaign(b *testing.B) func() {
	path := os.Getenv("REMARKET_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// timeline prints, every 20 ms of a round's send when
// REMARKET_BENCH_TIMELINE is set, how many emails the server has taken and
// the CPU time this process and PostgreSQL have used since start: it shows
// where a send waits or works without sending (its start, its claims). It
// returns its stop.
func timeline(sink *smtpsink.Sink, start time.Time, cpu0, pg0 time.Duration) func() {
	if os.Getenv("REMARKET_BENCH_TIMELINE") == "" {
		return func() {}
	}
	stop, n0 := make(chan struct{}), sink.Count()
	go func() {
		for tick := time.NewTicker(20 * time.Millisecond); ; {
			select {
			case <-stop:
				tick.Stop()
				return
			case <-tick.C:
			}
			pg, _ := postgresCPU()
			fmt.Fprintf(os.Stderr, "timeline %5d ms: %6d sent, CPU %5d ms here, %5d ms PostgreSQL\n", time.Since(start).Milliseconds(),
				sink.Count()-n0, (cpuTime() - cpu0).Milliseconds(), (pg - pg0).Milliseconds())
		}
	}()
	return func() { close(stop) }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
