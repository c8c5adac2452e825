package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/importer"
)

func (a *app) importCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Backfill history from files"}
	var storeRef, format string
	var asJSON, quiet bool
	orders := &cobra.Command{
		Use:   "orders PATH...",
		Short: "Import order history from CSV files or folders of them (idempotent)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("give at least one file or folder to import")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "generic-csv" && format != "online-retail" {
				return usagef("--format %q: must be generic-csv or online-retail", format)
			}
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			// The importer reads the store's time zone and currency itself.
			p := importer.Params{StoreID: st.ID, Format: format, Paths: args}
			if !quiet {
				p.Progress = a.env.Stderr
			}
			sum, err := importer.Run(cmd.Context(), a.pool, p)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, sum)
			}
			printImportSummary(a, sum)
			return nil
		},
	}
	orders.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	orders.Flags().StringVar(&format, "format", "", "generic-csv or online-retail")
	orders.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	orders.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	cmd.AddCommand(orders)
	return cmd
}

func printImportSummary(a *app, s importer.Summary) {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "rows read:\t%d\t(%d imported, %d skipped, %d rejected)\n", s.RowsRead, s.RowsImported, s.RowsSkipped, s.RowsRejected)
	for reason, n := range s.SkippedByReason {
		fmt.Fprintf(tw, "  skipped, %s:\t%d\n", strings.ReplaceAll(reason, "_", " "), n)
	}
	fmt.Fprintf(tw, "orders:\t%d new\t%d updated\n", s.Orders, s.OrdersUpdated)
	fmt.Fprintf(tw, "order lines:\t%d new\t%d updated\n", s.Lines, s.LinesUpdated)
	fmt.Fprintf(tw, "customers:\t%d new\t%d updated\n", s.Customers, s.CustomersUpdated)
	fmt.Fprintf(tw, "products:\t%d new\t%d updated\n", s.Products, s.ProductsUpdated)
	fmt.Fprintf(tw, "cancellations:\t%d refund lines\t%d orders marked refunded, %d unmatched\n", s.Refunds, s.OrdersRefunded, s.CancellationsUnmatched)
	fmt.Fprintf(tw, "took:\t%s\n", s.Duration.Round(time.Millisecond))
	tw.Flush()
	for i, r := range s.Rejected {
		if i == 20 {
			fmt.Fprintf(a.env.Stdout, "  … %d more (see --json)\n", s.RowsRejected-20)
			break
		}
		fmt.Fprintf(a.env.Stdout, "  rejected %s:%d: %s\n", r.File, r.Line, r.Reason)
	}
	if s.Orders+s.OrdersUpdated+s.OrdersRefunded > 0 {
		// An import writes orders in bulk, past the per-order statistics updates.
		fmt.Fprintln(a.env.Stdout, "next: remarket recs rebuild --store STORE, to count these orders in the product statistics and the model")
	}
}
