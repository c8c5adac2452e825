package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/campaign"
	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/progress"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/segment"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/tty"
)

func (a *app) campaignCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "campaign", Short: "Create, preview, test, send, watch and cancel campaigns"}
	cmd.AddCommand(a.campaignCreateCmd(), a.campaignListCmd(), a.campaignShowCmd(), a.campaignPreviewCmd(),
		a.campaignTestCmd(), a.campaignSendCmd(), a.campaignStatusCmd(), a.campaignCancelCmd())
	return cmd
}

func (a *app) campaignCreateCmd() *cobra.Command {
	var storeRef string
	var p campaign.CreateParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a draft campaign for a segment (docs/segments.md)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if p.Name == "" {
				return usagef("--name is required")
			}
			if p.Segment == "" {
				return usagef("--segment is required, e.g. --segment 'orders>=1'")
			}
			if _, err := segment.Parse(p.Segment); err != nil {
				return UsageError{err}
			}
			svc, err := a.campaignPlanner(cmd.Context())
			if err != nil {
				return err
			}
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			c, err := svc.Create(cmd.Context(), st, p)
			if err != nil {
				return UsageError{err}
			}
			a.audienceNote(cmd.Context(), svc, st, c)
			if asJSON {
				return printJSON(a.env.Stdout, c)
			}
			fmt.Fprintln(a.env.Stdout, c.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&storeRef, "store", "", "store id, name or domain")
	f.StringVar(&p.Name, "name", "", "campaign name")
	f.StringVar(&p.Template, "template", "", "email template, e.g. cross-sell (remarket templates check lists them)")
	f.StringVar(&p.Strategy, "strategy", recommend.Blend, fmt.Sprintf("recommendations: one of %v", recommend.Strategies))
	f.IntVar(&p.K, "k", 6, "products per email")
	f.StringVar(&p.Segment, "segment", "", "who gets it, e.g. 'bought-category:Tea and not orders>=3'")
	f.StringVar(&p.Subject, "subject", "", "subject line (default: the template's)")
	f.BoolVar(&asJSON, "json", false, "print the campaign as JSON")
	return cmd
}

// audienceNote warns, on stderr, about a new campaign nobody would get now:
// a segment that matches nobody (a SKU or category spelled otherwise than
// in the store) or whose customers would all be skipped. It is advice: the
// campaign exists already, so a failure to count only says so.
func (a *app) audienceNote(ctx context.Context, svc *campaign.Service, st store.Store, c store.Campaign) {
	plan, err := svc.Plan(ctx, st, c)
	if err != nil {
		fmt.Fprintf(a.env.Stderr, "note: could not count the audience of campaign %d: %v\n", c.ID, err)
		return
	}
	var total int64
	for _, n := range plan {
		total += n
	}
	switch {
	case total == 0:
		fmt.Fprintf(a.env.Stderr, "note: the segment %q matches no customer of %s now\n", c.Segment, st.Name)
	case plan[""] == 0:
		fmt.Fprintf(a.env.Stderr, "note: all %d customers of the segment would be skipped now (campaign show %d says why)\n", total, c.ID)
	}
}

func (a *app) campaignListCmd() *cobra.Command {
	var storeRef string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List campaigns",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var storeID int64
			if storeRef != "" {
				st, err := a.findStore(cmd.Context(), storeRef)
				if err != nil {
					return err
				}
				storeID = st.ID
			}
			pool, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			cs, err := store.CampaignList(cmd.Context(), pool, storeID)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, cs)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTORE\tNAME\tTEMPLATE\tSTATUS\tCREATED\tSEGMENT")
			for _, c := range cs {
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.StoreID, c.Name, c.Template, c.Status, c.CreatedAt.Format(time.DateTime), c.Segment)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&storeRef, "store", "", "only this store")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// campaignArg resolves the ID argument.
func (a *app) campaignArg(ctx context.Context, arg string) (store.Campaign, store.Store, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return store.Campaign{}, store.Store{}, usagef("campaign id %q is not a number", arg)
	}
	pool, err := a.db(ctx)
	if err != nil {
		return store.Campaign{}, store.Store{}, err
	}
	c, err := store.CampaignGet(ctx, pool, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, store.Store{}, fmt.Errorf("no campaign %d (see remarket campaign list)", id)
	}
	if err != nil {
		return c, store.Store{}, err
	}
	st, err := store.StoreGet(ctx, pool, c.StoreID)
	return c, st, err
}

func (a *app) campaignShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a campaign, its audience and progress",
		Args:  exactArgs(1, "one campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, st, err := a.campaignArg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			prog, err := store.CampaignProgress(cmd.Context(), a.pool, c.ID)
			if err != nil {
				return err
			}
			out := struct {
				store.Campaign
				Progress store.Progress   `json:"progress"`
				Plan     map[string]int64 `json:"plan,omitempty"`
			}{Campaign: c, Progress: prog}
			if c.Status == store.CampaignDraft {
				svc, err := a.campaignPlanner(cmd.Context())
				if err != nil {
					return err
				}
				if out.Plan, err = svc.Plan(cmd.Context(), st, c); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(a.env.Stdout, out)
			}
			fmt.Fprintf(a.env.Stdout, "campaign %d %q (%s) for %s\ntemplate %s, strategy %s, %d products\nsegment: %s\n",
				c.ID, c.Name, c.Status, st.Name, c.Template, c.Strategy, c.K, c.Segment)
			if out.Plan != nil {
				printPlan(a.env.Stdout, out.Plan)
			}
			printProgress(a.env.Stdout, prog)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printPlan(w io.Writer, plan map[string]int64) {
	fmt.Fprintf(w, "audience now: %d would get it", plan[""])
	var reasons []string
	for r := range plan {
		if r != "" {
			reasons = append(reasons, r)
		}
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, ", %d skipped (%s)", plan[r], r)
	}
	fmt.Fprintln(w)
}

func printProgress(w io.Writer, p store.Progress) {
	if p.Total() == 0 {
		return
	}
	fmt.Fprintf(w, "queued %d, sending %d, sent %d, failed %d, skipped %d\n", p.Queued, p.Sending, p.Sent, p.Failed, p.Skipped)
}

func (a *app) campaignPreviewCmd() *cobra.Command {
	var customer, format, out string
	var sample int
	cmd := &cobra.Command{
		Use:   "preview ID",
		Short: "Show exactly what a customer would get, or why they would be skipped",
		Args:  exactArgs(1, "one campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "html" && format != "eml" {
				return usagef("--format %q: use text, html or eml", format)
			}
			switch {
			case customer != "" && sample != 0:
				return usagef("give --customer EMAIL or --sample N, not both")
			case customer == "" && sample == 0:
				return usagef("give --customer EMAIL or --sample N")
			case sample < 0:
				return usagef("--sample %d: give a number of customers, 1 or more", sample)
			}
			c, st, err := a.campaignArg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			svc, err := a.campaigns(cmd.Context())
			if err != nil {
				return err
			}
			w := a.env.Stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if customer != "" {
				cu, err := svc.Customer(cmd.Context(), st.ID, customer)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no customer %q in store %s", customer, st.Name)
				}
				if err != nil {
					return err
				}
				if err := a.previewNotes(cmd.Context(), svc, st, c, cu); err != nil {
					return err
				}
				return a.previewOne(cmd.Context(), w, svc, st, c, cu, format)
			}
			return a.previewSample(cmd.Context(), w, svc, st, c, format, sample)
		},
	}
	cmd.Flags().StringVar(&customer, "customer", "", "customer email or id")
	cmd.Flags().IntVar(&sample, "sample", 0, "preview N customers of the audience, those who would get it first")
	cmd.Flags().StringVar(&format, "format", "text", "text, html or eml")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of the terminal")
	return cmd
}

// previewNotes says on stderr why a customer named by the operator would
// not get the campaign now: skipped, or outside the segment. A sample of
// the audience knows both already.
func (a *app) previewNotes(ctx context.Context, svc *campaign.Service, st store.Store, c store.Campaign, cu store.Customer) error {
	aud, err := svc.Audience(st, c)
	if err != nil {
		return err
	}
	in, reason, err := store.AudienceCheck(ctx, a.pool, aud, cu.ID)
	if err != nil {
		return err
	}
	if reason != "" {
		fmt.Fprintf(a.env.Stderr, "note: customer %d would be skipped now: %s\n", cu.ID, reason)
	}
	if !in {
		fmt.Fprintf(a.env.Stderr, "note: customer %d is not in the campaign's segment (%s): they would not get it\n", cu.ID, c.Segment)
	}
	return nil
}

// previewOne writes what the customer would get, and says so when a send
// would skip them for having nothing to recommend.
func (a *app) previewOne(ctx context.Context, w io.Writer, svc *campaign.Service, st store.Store, c store.Campaign, cu store.Customer, format string) error {
	comp, err := svc.Composer.Compose(ctx, st, c, cu, 0)
	if err != nil {
		return err
	}
	if len(comp.Products) == 0 && campaign.NeedsProducts(c.Template) {
		fmt.Fprintf(a.env.Stderr, "note: customer %d would be skipped: %s\n", cu.ID, store.SkipNothingToRecommend)
	}
	switch format {
	case "eml":
		return mailer.WriteEML(w, comp.Message)
	case "html":
		_, err = io.WriteString(w, comp.Message.HTML)
		return err
	}
	fmt.Fprintf(w, "To: %s\nSubject: %s\n\n%s\n", comp.Message.To, comp.Message.Subject, comp.Message.Text)
	return nil
}

func (a *app) previewSample(ctx context.Context, w io.Writer, svc *campaign.Service, st store.Store, c store.Campaign, format string, n int) error {
	aud, err := svc.Audience(st, c)
	if err != nil {
		return err
	}
	ids, reasons, err := store.AudienceSample(ctx, a.pool, aud, n)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		fmt.Fprintln(a.env.Stderr, "the segment holds no customers")
	}
	for i, id := range ids {
		cu, err := store.CustomerGet(ctx, a.pool, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "===== customer %d <%s>", id, deref(cu.Email))
		if reasons[i] != "" {
			fmt.Fprintf(w, " (would be skipped: %s)", reasons[i])
		}
		fmt.Fprintln(w, " =====")
		if err := a.previewOne(ctx, w, svc, st, c, cu, format); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) campaignTestCmd() *cobra.Command {
	var to, customer string
	cmd := &cobra.Command{
		Use:   "test ID",
		Short: "Send one real message to a test address, outside the ledger",
		Args:  exactArgs(1, "one campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usagef("--to ADDRESS is required")
			}
			if _, err := mail.ParseAddress(to); err != nil {
				return usagef("--to %q is not an email address", to)
			}
			c, st, err := a.campaignArg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			svc, err := a.campaigns(cmd.Context())
			if err != nil {
				return err
			}
			if svc.Sender == nil {
				return campaign.ErrNoSender
			}
			cu, skip, err := a.testCustomer(cmd.Context(), svc, st, c, customer)
			if err != nil {
				return err
			}
			if skip != "" {
				fmt.Fprintf(a.env.Stderr, "note: customer %d would be skipped in a real send (%s)\n", cu.ID, skip)
			}
			comp, err := svc.Composer.Compose(cmd.Context(), st, c, cu, 0)
			if err != nil {
				return err
			}
			comp.Message.To = to
			comp.Message.Subject = "[test] " + comp.Message.Subject
			res, err := svc.Sender.Send(cmd.Context(), comp.Message)
			if err != nil {
				return fmt.Errorf("test send to %s: %w", to, err)
			}
			fmt.Fprintf(a.env.Stdout, "sent %s to %s as customer %d would get it\n", res.MessageID, to, cu.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "where to send the test")
	cmd.Flags().StringVar(&customer, "customer", "", "render for this customer (default: the audience's first)")
	return cmd
}

// testCustomer is the customer a test send is rendered for, and why a real
// send would skip them ("" if it would not, or if the operator named them:
// then previewNotes says what applies): the one given, or else the
// audience's first who would get the email.
func (a *app) testCustomer(ctx context.Context, svc *campaign.Service, st store.Store, c store.Campaign, ref string) (store.Customer, string, error) {
	if ref != "" {
		cu, err := svc.Customer(ctx, st.ID, ref)
		if err != nil {
			return cu, "", err
		}
		return cu, "", a.previewNotes(ctx, svc, st, c, cu)
	}
	aud, err := svc.Audience(st, c)
	if err != nil {
		return store.Customer{}, "", err
	}
	ids, reasons, err := store.AudienceSample(ctx, a.pool, aud, 1)
	if err != nil {
		return store.Customer{}, "", err
	}
	if len(ids) == 0 {
		return store.Customer{}, "", fmt.Errorf("the segment holds no customers: give --customer")
	}
	cu, err := store.CustomerGet(ctx, a.pool, ids[0])
	return cu, reasons[0], err
}

func (a *app) campaignSendCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "send ID",
		Short: "Send the campaign: shows the audience, asks to confirm, then queues it for the workers",
		Args:  exactArgs(1, "one campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, st, err := a.campaignArg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if c.Status != store.CampaignDraft {
				return fmt.Errorf("campaign %d is %s: only a draft can be sent", c.ID, c.Status)
			}
			svc, err := a.campaignPlanner(cmd.Context())
			if err != nil {
				return err
			}
			plan, err := svc.Plan(cmd.Context(), st, c)
			if err != nil {
				return err
			}
			printPlan(a.env.Stdout, plan)
			if plan[""] == 0 {
				return fmt.Errorf("nobody to send campaign %d to now; it stays a draft", c.ID)
			}
			if !yes {
				if err := a.confirm(fmt.Sprintf("send campaign %d to %d customers?", c.ID, plan[""])); err != nil {
					return err
				}
			}
			if svc.Sender == nil {
				fmt.Fprintln(a.env.Stderr, "note: REMARKET_SMTP_URL is not set here; the serve workers send with their own")
			}
			res, err := svc.Start(cmd.Context(), st, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "queued %s in %s (%d skipped); follow with: remarket campaign status %d --watch\n",
				plural(res.Queued, "email"), plural(int64(res.Jobs), "job"), res.Skipped, c.ID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

// confirm asks on the terminal; without one it refuses, saying to use --yes.
func (a *app) confirm(question string) error {
	f, ok := a.env.Stdin.(*os.File)
	if !ok || !tty.IsTerminal(f) {
		return usagef("not asking without a terminal: add --yes to send")
	}
	fmt.Fprintf(a.env.Stdout, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(f, &answer)
	if strings.ToLower(strings.TrimSpace(answer)) != "y" && strings.ToLower(answer) != "yes" {
		return fmt.Errorf("not sent")
	}
	return nil
}

func (a *app) campaignStatusCmd() *cobra.Command {
	var watch, asJSON bool
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Queued, sent, failed and skipped counts; --watch follows with a progress bar",
		Args:  exactArgs(1, "one campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.campaignArg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if watch {
				return a.watchCampaign(cmd.Context(), c.ID)
			}
			p, err := store.CampaignProgress(cmd.Context(), a.pool, c.ID)
			if err != nil {
				return err
			}
			waiting, err := store.CampaignJobsWaitingForSMTP(cmd.Context(), a.pool, campaign.SendBatchArgs{}.Kind(), c.ID)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, struct {
					ID     int64  `json:"id"`
					Status string `json:"status"`
					store.Progress
					JobsWaitingForSMTP int64 `json:"jobs_waiting_for_smtp"`
				}{c.ID, c.Status, p, waiting})
			}
			fmt.Fprintf(a.env.Stdout, "campaign %d: %s\n", c.ID, c.Status)
			printProgress(a.env.Stdout, p)
			for _, r := range slices.Sorted(maps.Keys(p.Reasons)) {
				fmt.Fprintf(a.env.Stdout, "  skipped, %s: %d\n", r, p.Reasons[r])
			}
			if c.Status == store.CampaignSending {
				smtpNote(a.env.Stderr, waiting)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow until the campaign is done")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) watchCampaign(ctx context.Context, id int64) error {
	var bar *progress.Bar
	var settling time.Time // when the campaign was first seen stopped
	started, noted := time.Now(), false
	for {
		c, err := store.CampaignGet(ctx, a.pool, id)
		if err != nil {
			return err
		}
		p, err := store.CampaignProgress(ctx, a.pool, id)
		if err != nil {
			return err
		}
		if bar == nil {
			// Recipients, not emails: the skipped ones count as done too.
			bar = progress.New(a.env.Stderr, fmt.Sprintf("campaign %d", id), p.Total(), progress.WithUnit("recipients"))
		}
		bar.Set(p.Sent + p.Failed + p.Skipped)
		if !noted && time.Since(started) > 5*time.Second && p.Sent+p.Failed == 0 {
			// Nothing has gone out for a while: say so if SMTP is missing.
			if waiting, err := store.CampaignJobsWaitingForSMTP(ctx, a.pool, campaign.SendBatchArgs{}.Kind(), id); err == nil && waiting > 0 {
				bar.Stop()
				smtpNote(a.env.Stderr, waiting)
				return fmt.Errorf("campaign %d is waiting for an SMTP server", id)
			}
			noted = true
		}
		if c.Status != store.CampaignSending && settling.IsZero() {
			settling = time.Now()
		}
		// A cancel stops the campaign at once, but messages already handed
		// to workers finish and are recorded moments later: wait for them
		// (a while at most), so the counts are final.
		if !settling.IsZero() && (p.Sending == 0 || time.Since(settling) > settleWait) {
			if c.Status == store.CampaignCancelled {
				bar.Stop() // not "done": what is left was skipped
			} else {
				bar.Done()
			}
			fmt.Fprintf(a.env.Stdout, "campaign %d: %s\n", id, c.Status)
			printProgress(a.env.Stdout, p)
			if p.Sending > 0 {
				fmt.Fprintf(a.env.Stdout, "%d still sending: a worker holds them (see campaign status later)\n", p.Sending)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			bar.Stop()
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// smtpNote says why a send stands still when workers put its jobs off for
// want of an SMTP server.
func smtpNote(w io.Writer, waiting int64) {
	if waiting > 0 {
		fmt.Fprintf(w, "note: %s waiting: the workers have no SMTP server (set REMARKET_SMTP_URL for remarket serve and restart it)\n",
			plural(waiting, "send job"))
	}
}

// settleWait bounds how long status --watch waits for messages in flight
// after a campaign stopped.
const settleWait = 30 * time.Second

func (a *app) campaignCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a campaign: no further sends within a second",
		Args:  exactArgs(1, "one campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.campaignArg(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			svc := &campaign.Service{DB: a.pool}
			if err := svc.Cancel(cmd.Context(), c.ID); err != nil {
				if errors.Is(err, store.ErrWrongState) {
					return fmt.Errorf("campaign %d is %s and cannot be cancelled", c.ID, c.Status)
				}
				return err
			}
			fmt.Fprintf(a.env.Stdout, "campaign %d cancelled\n", c.ID)
			return nil
		},
	}
}

// plural is "1 job", "2 jobs".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
