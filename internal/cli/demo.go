package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/demo"
	"github.com/remarket/remarket/internal/localpg"
	"github.com/remarket/remarket/internal/progress"
	"github.com/remarket/remarket/internal/server"
	"github.com/remarket/remarket/internal/smtpsink"
	"github.com/remarket/remarket/internal/store"
)

const (
	demoSecret = "demo-webhook-secret"
	// demoUnsubscribeDomain is the mailto: domain of the demo's emails.
	demoUnsubscribeDomain = "unsubscribe.demo-shop.example"
	demoDir               = ".remarket"
)

func (a *app) demoCmd() *cobra.Command {
	var customers int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run remarket end to end on a generated shop, with no setup",
		Long: `demo creates a demo store with a generated catalog, customers and order history,
posts them to itself as signed webhooks, and prints what it stored.

It uses REMARKET_DATABASE_URL, or a server on localhost:5432, or else starts a
private PostgreSQL from the server binaries on this machine in .remarket/ and
stops it on exit.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if customers < 10 || customers > 100000 {
				return usagef("--customers %d: use 10 to 100000", customers)
			}
			return a.demo(cmd.Context(), customers)
		},
	}
	cmd.Flags().IntVar(&customers, "customers", 300, "how many customers the generated shop has")
	return cmd
}

func (a *app) demo(ctx context.Context, customers int) error {
	out := a.env.Stdout
	explicit := a.env.Getenv("REMARKET_DATABASE_URL") != "" || a.cfg.DatabaseURL != config.DefaultDatabaseURL
	pg, err := localpg.Ensure(ctx, a.cfg.DatabaseURL, demoDir, !explicit, out)
	if err != nil {
		return err
	}
	defer func() {
		if err := pg.Stop(); err != nil {
			fmt.Fprintf(a.env.Stderr, "stop private PostgreSQL: %v\n", err)
		}
	}()
	fmt.Fprintln(out, "database:", pg.Note)
	a.cfg.DatabaseURL = pg.URL
	pool, err := a.dbAnySchema(ctx)
	if err != nil {
		return err
	}
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	shop := demo.Generate(1, customers, time.Now())
	st, err := demoStore(ctx, pool, shop.Domain)
	if err != nil {
		return err
	}
	outbox, err := a.demoSMTP()
	if err != nil {
		return err
	}
	defer outbox.close()
	svc, err := a.campaigns(ctx)
	if err != nil {
		return err
	}
	// The demo mails everyone each run; campaigns made with the CLI skip
	// customers mailed in the last 20 hours.
	svc.FrequencyCapHours = 0
	// Its emails carry both List-Unsubscribe forms: the https link and a
	// mailto: address the demo's own inbound SMTP server takes while it
	// runs (a reserved .example domain, unless one is configured).
	unsubDomain := a.cfg.UnsubscribeDomain
	if unsubDomain == "" {
		unsubDomain = demoUnsubscribeDomain
	}
	svc.Composer.UnsubscribeDomain = unsubDomain
	srv, err := server.New(server.Params{Pool: pool, Addr: "127.0.0.1:0", Logger: quietLogger(a.env.Stderr),
		Secret: a.cfg.Secret, Campaigns: svc, InboundAddr: "127.0.0.1:0", UnsubscribeDomain: unsubDomain})
	if err != nil {
		return err
	}
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	base := "http://" + srv.Addr()
	svc.Composer.PublicURL = base // unsubscribe links point at this server while it runs
	fmt.Fprintf(out, "store %q (id %d), webhooks at %s/webhooks/generic/%d\n", st.Name, st.ID, base, st.ID)
	fmt.Fprintf(out, "unsubscribe by email: unsubscribe+TOKEN@%s, taken by the inbound SMTP server at %s while the demo runs\n",
		unsubDomain, srv.InboundAddr())
	if err := sendDemo(ctx, out, a.env.Stderr, base, st, shop); err != nil {
		return err
	}
	if err := waitProcessed(ctx, pool, st.ID, a.env.Stderr); err != nil {
		return err
	}
	if err := printDemoSummary(ctx, out, pool, st); err != nil {
		return err
	}
	return a.demoCampaign(ctx, svc, st, outbox)
}

// demoStore finds or creates the demo store, so that the demo can run again.
func demoStore(ctx context.Context, db store.DB, domain string) (store.Store, error) {
	st, err := store.StoreFind(ctx, db, domain)
	if err == nil {
		return st, nil
	}
	return store.StoreInsert(ctx, db, store.Store{Name: "Demo Shop", Platform: "generic", Domain: domain,
		WebhookSecret: demoSecret, From: "Demo Shop <hello@demo-shop.example>",
		Address: "1 Market Street, London EC1A 1AA, United Kingdom", Timezone: "Europe/London", Currency: "GBP"})
}

// sendDemo posts the shop, then shows how remarket answers a retry, a forged
// signature and a signed body it cannot parse.
func sendDemo(ctx context.Context, out, progressTo io.Writer, base string, st store.Store, shop demo.Shop) error {
	ds, err := shop.Deliveries(100)
	if err != nil {
		return err
	}
	p := demo.Poster{URL: fmt.Sprintf("%s/webhooks/generic/%d", base, st.ID), Secret: st.WebhookSecret, Client: demo.NewClient()}
	stats, err := p.PostAll(ctx, ds, 8, progressTo)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "posted %d signed webhooks (%d customers' history): %s\n", stats.Sent, shop.Customers, statusSummary(stats.ByStatus))
	retry, _ := p.Post(ctx, ds[len(ds)-1])
	forged := demo.Poster{URL: p.URL, Secret: "not-the-secret", Client: p.Client}
	bad, _ := forged.Post(ctx, demo.Delivery{EventID: "forged", Body: []byte(`{"type":"order"}`)})
	broken, _ := p.Post(ctx, demo.Delivery{EventID: fmt.Sprintf("broken-%d", time.Now().UnixNano()), Body: []byte(`{"type":"order","order":{"id":`)})
	fmt.Fprintf(out, "a retried webhook got %d (stored once), a forged signature %d (refused), a signed but truncated body %d (kept, marked failed)\n",
		retry, bad, broken)
	return nil
}

func statusSummary(m map[int]int) string {
	var parts []string
	for code, n := range m {
		parts = append(parts, fmt.Sprintf("%d× %d %s", n, code, http.StatusText(code)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// waitProcessed waits until the workers have processed every delivery,
// showing how many are done.
func waitProcessed(ctx context.Context, db store.DB, storeID int64, progressTo io.Writer) error {
	deadline := time.Now().Add(2 * time.Minute)
	var bar *progress.Bar
	for {
		c, err := store.StoreCounts(ctx, db, storeID)
		if err != nil {
			return err
		}
		pending, total := c.Inbox[store.InboxPending], int64(0)
		for _, n := range c.Inbox {
			total += n
		}
		if bar == nil {
			bar = progress.New(progressTo, "processing deliveries", total, progress.WithUnit("deliveries"))
		}
		bar.Set(total - pending)
		if pending == 0 {
			bar.Done()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d deliveries still pending after 2 minutes (see remarket inbox list)", pending)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printDemoSummary(ctx context.Context, out io.Writer, pool store.DB, st store.Store) error {
	c, err := store.StoreCounts(ctx, pool, st.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nstored for %s:\n", st.Name)
	fmt.Fprintf(out, "  customers   %d (%d subscribed to email)\n", c.Customers, c.CustomersSubscribed)
	fmt.Fprintf(out, "  products    %d\n", c.Products)
	fmt.Fprintf(out, "  orders      %s (%d lines)\n", mapSummary(c.Orders), c.OrderLines)
	fmt.Fprintf(out, "  checkouts   %s\n", mapSummary(c.Checkouts))
	fmt.Fprintf(out, "  views       %d\n", c.Views)
	fmt.Fprintf(out, "  deliveries  %s\n", mapSummary(c.Inbox))
	orders, err := store.OrderList(ctx, pool, store.OrderListParams{StoreID: st.ID, Limit: 1})
	if err != nil || len(orders) == 0 || orders[0].CustomerID == nil {
		return err
	}
	p, err := store.CustomerProfile(ctx, pool, st.ID, fmt.Sprint(*orders[0].CustomerID))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nthe latest buyer (remarket customer show --store %d %d):\n", st.ID, p.Customer.ID)
	printProfile(out, p)
	fmt.Fprintf(out, "\nnext: remarket inbox list --failed, remarket order list --store %d\n", st.ID)
	return nil
}

func mapSummary(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// demoOutbox is where the demo's email goes: the configured SMTP server, or
// an embedded one writing .eml files under .remarket/outbox.
type demoOutbox struct {
	sink *smtpsink.Sink
	dir  string
}

func (o demoOutbox) close() {
	if o.sink != nil {
		_ = o.sink.Close()
	}
}

// demoSMTP starts the embedded SMTP server unless REMARKET_SMTP_URL is set,
// and gives the demo a signing secret of its own when none is configured.
func (a *app) demoSMTP() (demoOutbox, error) {
	if a.cfg.Secret == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		a.cfg.Secret = hex.EncodeToString(b)
	}
	if a.cfg.SMTPURL != "" {
		return demoOutbox{}, nil
	}
	dir, err := filepath.Abs(filepath.Join(demoDir, "outbox", time.Now().Format("20060102-150405")))
	if err != nil {
		return demoOutbox{}, err
	}
	sink, err := smtpsink.Start("127.0.0.1:0", dir) // creates dir
	if err != nil {
		return demoOutbox{}, err
	}
	a.cfg.SMTPURL = sink.URL()
	return demoOutbox{sink: sink, dir: dir}, nil
}

// demoCampaign creates a cross-sell campaign for everyone who bought,
// previews it for one customer, sends it and waits until it is out.
func (a *app) demoCampaign(ctx context.Context, svc *campaign.Service, st store.Store, outbox demoOutbox) error {
	out := a.env.Stdout
	camp, err := svc.Create(ctx, st, campaign.CreateParams{Name: "Demo cross-sell " + time.Now().Format(time.DateTime),
		Template: "cross-sell", Segment: "orders>=1", K: 4})
	if err != nil {
		return err
	}
	plan, err := svc.Plan(ctx, st, camp)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncampaign %d (cross-sell to segment %q):\n", camp.ID, camp.Segment)
	printPlan(out, plan)
	aud, err := svc.Audience(st, camp)
	if err != nil {
		return err
	}
	if id, ok := firstEligible(ctx, a.pool, aud); ok {
		cu, err := store.CustomerGet(ctx, a.pool, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\npreview for %s (remarket campaign preview %d --customer %s):\n", deref(cu.Email), camp.ID, deref(cu.Email))
		if err := a.previewOne(ctx, &indent{w: out}, svc, st, camp, cu, "text"); err != nil {
			return err
		}
	}
	res, err := svc.Start(ctx, st, camp)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nqueued %s in %s\n", plural(res.Queued, "email"), plural(int64(res.Jobs), "job"))
	if err := a.watchCampaign(ctx, camp.ID); err != nil {
		return err
	}
	if outbox.dir != "" {
		files, _ := filepath.Glob(filepath.Join(outbox.dir, "*.eml"))
		fmt.Fprintf(out, "\n%d messages written as .eml files to %s\n", len(files), outbox.dir)
	} else {
		fmt.Fprintf(out, "\nmessages sent to the SMTP server at REMARKET_SMTP_URL\n")
	}
	return nil
}

// firstEligible finds a customer of the audience who would get the email.
func firstEligible(ctx context.Context, db store.DB, a store.Audience) (int64, bool) {
	ids, reasons, err := store.AudienceSample(ctx, db, a, 100)
	if err != nil {
		return 0, false
	}
	for i, r := range reasons {
		if r == "" {
			return ids[i], true
		}
	}
	return 0, false
}

// indent prefixes each line, to set a preview apart from the demo's output.
type indent struct {
	w   io.Writer
	mid bool
}

func (i *indent) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if !i.mid {
			if _, err := io.WriteString(i.w, "  | "); err != nil {
				return 0, err
			}
		}
		if _, err := io.WriteString(i.w, line); err != nil {
			return 0, err
		}
		i.mid = !strings.HasSuffix(line, "\n")
	}
	return len(p), nil
}
