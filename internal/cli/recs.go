package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/httpapi"
	"github.com/remarket/remarket/internal/jobs"
	"github.com/remarket/remarket/internal/progress"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/recs"
	"github.com/remarket/remarket/internal/store"
)

func (a *app) recsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "recs", Short: "Recommendations for customers"}
	cmd.AddCommand(a.recsShowCmd(), a.recsRebuildCmd(), a.recsStatsCmd())
	return cmd
}

func (a *app) recsShowCmd() *cobra.Command {
	var storeRef, customer, strategy string
	var k int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a customer's recommendations with the reason for each",
		Args:  exactArgs(0, "no arguments (use --customer)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(recommend.Strategies, strategy) {
				return usagef("--strategy %q: use one of %v", strategy, recommend.Strategies)
			}
			if k < 1 || k > 100 {
				return usagef("--k %d: use 1 to 100", k)
			}
			if customer == "" {
				return usagef("--customer is required (an email or customer id)")
			}
			if storeRef == "" {
				return usagef("--store is required (a store's id, name or domain)")
			}
			rows, err := a.picks(cmd.Context(), storeRef, customer, strategy, k)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, rows)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RANK\tPRODUCT\tSCORE\tREASON")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%.3f\t%s\n", r.Rank, r.Title, r.Score, r.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	cmd.Flags().StringVar(&customer, "customer", "", "customer email or id")
	cmd.Flags().StringVar(&strategy, "strategy", recommend.Blend, fmt.Sprintf("one of %v", recommend.Strategies))
	cmd.Flags().IntVar(&k, "k", 6, "how many products")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// picks asks the running server, whose models are warm, when an admin token
// is configured and it answers: then this process needs no database at all,
// which is most of a quick command's time. Otherwise it trains the store's
// model here first, which takes seconds on a large store.
func (a *app) picks(ctx context.Context, storeRef, customer, strategy string, k int) ([]httpapi.Pick, error) {
	if a.cfg.AdminToken != "" {
		ps, err := a.remotePicks(ctx, storeRef, customer, strategy, k)
		if err == nil || errors.Is(err, errRemoteNotFound) {
			return ps, err
		}
		fmt.Fprintf(a.env.Stderr, "note: asking the server at %s failed (%v); training the model here\n", a.cfg.PublicBase(), err)
	}
	st, err := a.findStore(ctx, storeRef)
	if err != nil {
		return nil, err
	}
	// Say why this may take seconds, and how to make it quick.
	if a.cfg.AdminToken == "" {
		fmt.Fprintf(a.env.Stderr, "training the model of %s here (with REMARKET_ADMIN_TOKEN set, the running server answers at once)…\n", st.Name)
	}
	start := time.Now()
	svc := &recs.Service{DB: a.pool, Opts: recommend.DefaultOptions}
	ps, err := httpapi.Picks(ctx, a.pool, svc, st.ID, customer, strategy, k)
	if a.cfg.AdminToken == "" && err == nil {
		fmt.Fprintf(a.env.Stderr, "trained and asked in %s\n", time.Since(start).Round(time.Millisecond))
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no customer %q in store %s", customer, st.Name)
	}
	return ps, err
}

func (a *app) remotePicks(ctx context.Context, storeRef, customer, strategy string, k int) ([]httpapi.Pick, error) {
	u := a.cfg.PublicBase() + "/admin/recs?" + url.Values{"store": {storeRef}, "customer": {customer},
		"strategy": {strategy}, "k": {strconv.Itoa(k)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.AdminToken)
	// A server that is still training takes as long as training here would.
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		if strings.Contains(string(body), "unknown store") {
			return nil, remoteNotFound(fmt.Sprintf("no store %q (see remarket store list)", storeRef))
		}
		return nil, remoteNotFound(fmt.Sprintf("no customer %q in store %s", customer, storeRef))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	var ps []httpapi.Pick
	return ps, json.NewDecoder(resp.Body).Decode(&ps)
}

// errRemoteNotFound marks a store or customer the server does not know:
// asking again here would not find it either.
var errRemoteNotFound = errors.New("not found")

type remoteNotFound string

func (e remoteNotFound) Error() string        { return string(e) }
func (e remoteNotFound) Is(target error) bool { return target == errRemoteNotFound }

func (a *app) recsRebuildCmd() *cobra.Command {
	var storeRef string
	var local bool
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Recompute a store's product statistics and retrain its model from all stored orders (after an import), as jobs for the workers",
		Long: `Statistics and models are kept current on their own: every processed order updates the
product statistics in its own transaction, and remarket serve trains each store's model
at start and adds new orders before answering. An import bypasses both: rebuild
recomputes the statistics and retrains the model now, as River jobs that a worker runs,
and waits for them; --local does both here instead and reports the model.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			if local {
				return a.rebuildLocal(cmd.Context(), st)
			}
			return a.rebuildJob(cmd.Context(), st)
		},
	}
	cmd.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	cmd.Flags().BoolVar(&local, "local", false, "train in this process instead of the workers")
	return cmd
}

func (a *app) rebuildLocal(ctx context.Context, st store.Store) error {
	bar := progress.New(a.env.Stderr, "rebuilding "+st.Name+" here: product statistics", 2, progress.WithUnit("steps"))
	stop := bar.TickEvery(time.Second)
	defer stop()
	start := time.Now()
	if err := store.StatsRebuild(ctx, a.pool, st.ID); err != nil {
		bar.Stop()
		return err
	}
	statsTook := time.Since(start)
	bar.SetLabel("rebuilding " + st.Name + " here: model")
	bar.Set(1)
	start = time.Now()
	h, err := recs.LoadHistory(ctx, a.pool, st.ID)
	if err != nil {
		bar.Stop()
		return err
	}
	loaded := time.Since(start)
	recommend.Train(h, recommend.DefaultOptions)
	trained := time.Since(start) - loaded
	bar.SetLabel("rebuilding " + st.Name + " here")
	bar.Set(2)
	bar.Done()
	fmt.Fprintf(a.env.Stdout, "store %s: product statistics rebuilt in %s\n", st.Name, statsTook.Round(time.Millisecond))
	fmt.Fprintf(a.env.Stdout, "store %s: %d products, %d kept purchases; loaded in %s, trained in %s\n", st.Name,
		len(h.Products), len(h.Purchases), loaded.Round(time.Millisecond), trained.Round(time.Millisecond))
	return nil
}

// rebuildJob queues the rebuild for the workers and follows it.
func (a *app) rebuildJob(ctx context.Context, st store.Store) error {
	client, err := river.NewClient(riverpgxv5.New(a.pool), &river.Config{Logger: quietLogger(a.env.Stderr)})
	if err != nil {
		return err
	}
	// The statistics first, then the model: two jobs, two steps of progress.
	steps := []struct {
		what string
		args river.JobArgs
	}{{"product statistics", jobs.StatsRebuildArgs{StoreID: st.ID}}, {"model", jobs.RecsRebuildArgs{StoreID: st.ID}}}
	bar := progress.New(a.env.Stderr, "rebuilding "+st.Name, int64(len(steps)), progress.WithUnit("steps"))
	stop := bar.TickEvery(time.Second)
	defer stop()
	var done []string
	for i, s := range steps {
		res, err := client.Insert(ctx, s.args, nil)
		if err != nil {
			bar.Stop()
			return err
		}
		label := fmt.Sprintf("rebuilding %s: %s (job %d)", st.Name, s.what, res.Job.ID)
		bar.SetLabel(label)
		start := time.Now()
		untaken := func() { bar.SetLabel(label + " (waiting for a worker: is remarket serve running?)") }
		if err := waitJob(ctx, client, res.Job.ID, untaken); err != nil {
			bar.Stop()
			return errors.Join(err, cancelUntaken(context.WithoutCancel(ctx), a.pool, res.Job.ID))
		}
		bar.Set(int64(i + 1))
		// Printed after the bar, which may be redrawing its line.
		done = append(done, fmt.Sprintf("rebuilt the %s of %s in %s (job %d)", s.what, st.Name, time.Since(start).Round(time.Millisecond), res.Job.ID))
	}
	bar.SetLabel("rebuilding " + st.Name)
	bar.Done()
	for _, l := range done {
		fmt.Fprintln(a.env.Stdout, l)
	}
	return nil
}

// cancelUntaken cancels a job given up on (no worker took it, or the wait
// was interrupted) if no worker has taken it yet, so that a worker started
// later does not run a rebuild nobody waits for. One already running is
// left to finish: the check and the change are one statement, so a worker
// taking the job at that moment wins. It gives the database a few seconds,
// since it runs after an interrupt too.
func cancelUntaken(ctx context.Context, db *pgxpool.Pool, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := db.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now()
WHERE id = $1 AND state IN ('available', 'scheduled', 'retryable')`, id)
	if err != nil {
		return fmt.Errorf("cancel rebuild job %d: %w", id, err)
	}
	return nil
}

// waitJob waits for a job to complete; untaken is called once when no
// worker has taken it after a few seconds.
func waitJob(ctx context.Context, client *river.Client[pgx.Tx], id int64, untaken func()) error {
	start := time.Now()
	for {
		j, err := client.JobGet(ctx, id)
		if err != nil {
			return err
		}
		switch j.State {
		case rivertype.JobStateCompleted:
			return nil
		case rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
			return fmt.Errorf("rebuild job %d %s: %v", j.ID, j.State, j.Errors)
		case rivertype.JobStateAvailable:
			if untaken != nil && time.Since(start) > 5*time.Second {
				untaken()
				untaken = nil
			}
			if time.Since(start) > 30*time.Second {
				return fmt.Errorf("no worker has taken rebuild job %d in 30 s: is remarket serve running? (--local trains here)", j.ID)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (a *app) evalCmd() *cobra.Command {
	var storeRef, cutoff string
	var k int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure every strategy and two baselines offline on the store's own orders",
		Long:  "Trains on orders before --cutoff and scores the top K against what each customer bought after it (docs/recommendations.md).",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := recommend.EvalParams{K: k, Options: recommend.DefaultOptions}
			if cutoff != "" {
				// Checked before the store is looked up, so that a typo is
				// the first thing said; read again below in its time zone.
				if _, err := parseDate(cutoff); err != nil {
					return err
				}
			}
			if k < 1 || k > 100 {
				return usagef("--k %d: use 1 to 100", k)
			}
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			// A cutoff without an offset is in the store's time zone, as the
			// imported orders' times were read.
			if cutoff != "" {
				loc, err := time.LoadLocation(st.Timezone)
				if err != nil {
					return fmt.Errorf("store time zone: %w", err)
				}
				if p.Cutoff, err = parseDateIn(cutoff, loc); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.env.Stderr, "loading the orders of %s, then training on those before the cutoff…\n", st.Name)
			h, err := recs.LoadHistory(cmd.Context(), a.pool, st.ID)
			if err != nil {
				return err
			}
			if len(h.Purchases) == 0 {
				return fmt.Errorf("store %s has no orders to evaluate on (import some first)", st.Name)
			}
			var bar *progress.Bar
			p.ProgressFunc = func(done, total int) {
				if bar == nil {
					bar = progress.New(a.env.Stderr, "evaluating", int64(total), progress.WithUnit("customers"))
				}
				bar.Set(int64(done))
			}
			// The model's maps let Go's heap grow well past what is live;
			// a soft limit keeps the whole evaluation under 500 MB.
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(400 << 20)
			}
			rep := recommend.Evaluate(h, p)
			if bar != nil {
				bar.Done()
			}
			if asJSON {
				return printJSON(a.env.Stdout, rep)
			}
			printReport(a, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	cmd.Flags().StringVar(&cutoff, "cutoff", "", "train before this time (default: 80 % of the stored time range)")
	cmd.Flags().IntVar(&k, "k", 10, "list length")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printReport(a *app, rep recommend.Report) {
	fmt.Fprintf(a.env.Stdout, "cutoff %s, K = %d, %d training and %d test purchases\n", rep.Cutoff.Format("2006-01-02 15:04:05 MST"), rep.K, rep.TrainPurchases, rep.TestPurchases)
	for _, target := range []string{"new", "all"} {
		t, ok := rep.Targets[target]
		if !ok {
			continue
		}
		fmt.Fprintf(a.env.Stdout, "\ntarget %q (%d customers)\n", target, t.Customers)
		tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "NAME\tHITRATE@%d\tRECALL@%d\tNDCG@%d\tCOVERAGE\n", rep.K, rep.K, rep.K)
		for _, r := range t.Results {
			name := r.Name
			if r.Baseline {
				name += " (baseline)"
			}
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\n", name, r.HitRate, r.Recall, r.NDCG, r.Coverage)
		}
		tw.Flush()
	}
}
