package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/ingest"
	"github.com/remarket/remarket/internal/store"
)

func (a *app) inboxCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "inbox", Short: "See stored webhook deliveries and replay failed ones"}
	cmd.AddCommand(a.inboxListCmd(), a.inboxShowCmd(), a.inboxReplayCmd())
	return cmd
}

func (a *app) inboxListCmd() *cobra.Command {
	var failed, asJSON bool
	var limit int
	var storeRef string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the newest deliveries",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := store.InboxListParams{FailedOnly: failed, Limit: limit}
			if storeRef != "" {
				st, err := a.findStore(cmd.Context(), storeRef)
				if err != nil {
					return err
				}
				p.StoreID = st.ID
			}
			pool, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			ds, err := store.InboxList(cmd.Context(), pool, p)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, nonNil(ds))
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTORE\tPLATFORM\tTOPIC\tSTATUS\tRECEIVED\tBYTES\tERROR")
			for _, d := range ds {
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.StoreID, d.Platform, d.Topic, d.Status,
					d.ReceivedAt.Format(time.DateTime), d.BodyBytes, truncate(d.Error, 60))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&failed, "failed", false, "only deliveries that failed")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many")
	cmd.Flags().StringVar(&storeRef, "store", "", "only this store")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) inboxShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a delivery with its headers and body",
		Args:  exactArgs(1, "one delivery id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("delivery id %q is not a number", args[0])
			}
			pool, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			d, err := store.InboxGet(cmd.Context(), pool, id)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no delivery %d", id)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, struct {
					store.Delivery
					Body string `json:"body"`
				}{d, string(d.Body)})
			}
			fmt.Fprintf(a.env.Stdout, "id: %d\nstore: %d\nplatform: %s\ntopic: %s\nstatus: %s\nerror: %s\nreceived: %s\nattempts: %d\nheaders:\n",
				d.ID, d.StoreID, d.Platform, d.Topic, d.Status, d.Error, d.ReceivedAt.Format(time.RFC3339), d.Attempts)
			for k, v := range d.Headers {
				fmt.Fprintf(a.env.Stdout, "  %s: %s\n", k, v)
			}
			fmt.Fprintf(a.env.Stdout, "body (%d bytes):\n%s\n", len(d.Body), d.Body)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) inboxReplayCmd() *cobra.Command {
	var failed bool
	cmd := &cobra.Command{
		Use:   "replay ID|--failed",
		Short: "Process a delivery again (after a fix), or every failed one",
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int64
			switch {
			case failed && len(args) == 0:
			case !failed && len(args) == 1:
				var err error
				if id, err = strconv.ParseInt(args[0], 10, 64); err != nil || id <= 0 {
					return usagef("delivery id %q is not a number", args[0])
				}
			default:
				return usagef("give one delivery id or --failed")
			}
			ids, err := a.replay(cmd.Context(), id)
			if err != nil {
				return err
			}
			if id != 0 && len(ids) == 0 {
				return fmt.Errorf("no delivery %d", id)
			}
			fmt.Fprintf(a.env.Stdout, "queued %d delivery(ies) for processing\n", len(ids))
			return nil
		},
	}
	cmd.Flags().BoolVar(&failed, "failed", false, "replay every failed delivery")
	return cmd
}

// replay requeues deliveries and their jobs in one transaction.
func (a *app) replay(ctx context.Context, id int64) ([]int64, error) {
	pool, err := a.db(ctx)
	if err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: a.log})
	if err != nil {
		return nil, err
	}
	var ids []int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if ids, err = store.InboxRequeue(ctx, tx, id); err != nil || len(ids) == 0 {
			return err
		}
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: ingest.DeliveryArgs{InboxID: id}}
		}
		_, err := client.InsertManyFastTx(ctx, tx, params)
		return err
	})
	return ids, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
