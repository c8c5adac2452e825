package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/store"
)

func (a *app) recsStatsCmd() *cobra.Command {
	var storeRef, product string
	var top int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show a product's statistics: buyers, repurchase interval, price position, products bought with it",
		Long: `The statistics change with every processed order, in the transaction that stores it
(refunded and cancelled lines leave them). After an import, run remarket recs rebuild.`,
		Args: exactArgs(0, "no arguments (use --product)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if product == "" {
				return usagef("--product is required (a SKU, the store's product id, or remarket's id)")
			}
			if top < 0 || top > 100 {
				return usagef("--top %d: use 0 to 100", top)
			}
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			p, err := store.ProductFind(cmd.Context(), a.pool, st.ID, product)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no product %q in %s", product, st.Name)
			}
			if err != nil {
				return err
			}
			s, err := store.ProductStatsGet(cmd.Context(), a.pool, st.ID, p.ID, top)
			if errors.Is(err, store.ErrNoStats) {
				return fmt.Errorf("%s: %w (after an import, run remarket recs rebuild --store %q)", p.Title, err, storeRef)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, struct {
					Title string `json:"title"`
					store.ProductStats
				}{p.Title, s})
			}
			printStats(a, p, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	cmd.Flags().StringVar(&product, "product", "", "SKU, the store's product id, or remarket's id")
	cmd.Flags().IntVar(&top, "top", 5, "how many bought-together products to list, in the same orders and by the same customers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStats(a *app, p store.Product, s store.ProductStats) {
	w := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "product\t%s (%s)\n", p.Title, orDash(p.SKU))
	fmt.Fprintf(w, "orders\t%d (%d units)\n", s.Orders, s.Units)
	fmt.Fprintf(w, "buyers\t%d (%d bought it again)\n", s.Buyers, s.RepeatBuyers)
	if s.RepurchaseDays != nil {
		fmt.Fprintf(w, "repurchase\tevery %.0f days\n", *s.RepurchaseDays)
	}
	if s.PricePosition != nil {
		fmt.Fprintf(w, "price position\t%.0f%% in %s (0%% is the cheapest of the category, 100%% the dearest)\n", *s.PricePosition*100, s.Category)
	}
	for i, b := range s.BoughtWith {
		label := ""
		if i == 0 {
			label = "bought with"
		}
		fmt.Fprintf(w, "%s\t%s (%s)\n", label, b.Title, plural(b.Orders, "order"))
	}
	for i, b := range s.SameCustomers {
		label := ""
		if i == 0 {
			label = "same customers"
		}
		fmt.Fprintf(w, "%s\t%s (%s)\n", label, b.Title, plural(b.Customers, "customer"))
	}
	_ = w.Flush()
}
