package cli

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

func (a *app) customerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "customer", Short: "Look at customers"}
	var storeRef string
	var asJSON bool
	show := &cobra.Command{
		Use:   "show EMAIL|ID",
		Short: "Show a customer's profile: consent, orders, open checkouts, recent views",
		Args:  exactArgs(1, "one email or customer id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			p, err := store.CustomerProfile(cmd.Context(), a.pool, st.ID, args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no customer %q in store %s", args[0], st.Name)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, p)
			}
			printProfile(a.env.Stdout, p)
			return nil
		},
	}
	show.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(show)
	return cmd
}

func printProfile(w io.Writer, p store.Profile) {
	c := p.Customer
	fmt.Fprintf(w, "customer %d  %s %s  <%s>  external id %s  country %s\n", c.ID, c.FirstName, c.LastName,
		deref(c.Email), deref(c.ExternalID), c.Country)
	consentAt := ""
	if c.ConsentAt != nil {
		consentAt = " at " + c.ConsentAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "consent: %s (source %s%s)\n", c.Consent, orDash(c.ConsentSource), consentAt)
	if c.RedactedAt != nil {
		fmt.Fprintf(w, "personal data erased at %s\n", c.RedactedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\norders (%d):\n", len(p.Orders))
	printOrders(w, p.Orders)
	fmt.Fprintf(w, "\nopen checkouts (%d):\n", len(p.Checkouts))
	for _, k := range p.Checkouts {
		fmt.Fprintf(w, "  %s  %s  %d line(s)  %s  %s\n", k.ExternalID, k.Status, k.Lines, shop.FormatMinor(k.TotalMinor, k.Currency), k.UpdatedAt.Format(time.DateTime))
	}
	fmt.Fprintf(w, "\nrecent views (%d):\n", len(p.Views))
	for _, v := range p.Views {
		fmt.Fprintf(w, "  %s  %s\n", v.ViewedAt.Format(time.DateTime), v.Title)
	}
}

func printOrders(w io.Writer, orders []store.Order) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, o := range orders {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d line(s)\n", o.PlacedAt.Format(time.DateTime), o.ExternalID, o.Status,
			shop.FormatMinor(o.TotalMinor, o.Currency), deref(o.Email), len(o.Lines))
		for _, l := range o.Lines {
			refunded := ""
			if l.RefundedQuantity > 0 {
				refunded = fmt.Sprintf(" (%d refunded)", l.RefundedQuantity)
			}
			fmt.Fprintf(tw, "  \t  %d × %s\t%s%s\t\t\t\n", l.Quantity, l.Title, shop.FormatMinor(l.UnitPriceMinor, o.Currency), refunded)
		}
	}
	tw.Flush()
}

func (a *app) orderCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "order", Short: "Look at orders"}
	var storeRef, customer, since string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List orders, newest first",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := store.OrderListParams{Limit: limit}
			if since != "" {
				t, err := parseDate(since)
				if err != nil {
					return err
				}
				p.Since = t
			}
			st, err := a.findStore(cmd.Context(), storeRef)
			if err != nil {
				return err
			}
			p.StoreID = st.ID
			if customer != "" {
				c, err := store.CustomerFind(cmd.Context(), a.pool, st.ID, customer)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no customer %q in store %s", customer, st.Name)
				}
				if err != nil {
					return err
				}
				p.CustomerID = c.ID
			}
			orders, err := store.OrderList(cmd.Context(), a.pool, p)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, orders)
			}
			printOrders(a.env.Stdout, orders)
			return nil
		},
	}
	list.Flags().StringVar(&storeRef, "store", "", "store id, name or domain")
	list.Flags().StringVar(&customer, "customer", "", "only this customer (email or id)")
	list.Flags().StringVar(&since, "since", "", "only orders placed on or after this date (YYYY-MM-DD or RFC 3339)")
	list.Flags().IntVar(&limit, "limit", 100, "how many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list)
	return cmd
}

func parseDate(s string) (time.Time, error) { return parseDateIn(s, time.UTC) }

// parseDateIn reads a date or time; one without an offset is in loc.
func parseDateIn(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, time.DateTime, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("date %q: use YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339", s)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
