package cli

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/remarket/remarket/internal/store"
)

func (a *app) storeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "Add, list, show and update stores"}
	cmd.AddCommand(a.storeAddCmd(), a.storeListCmd(), a.storeShowCmd(), a.storeUpdateCmd())
	return cmd
}

// storeFlags binds the flags add and update share.
func storeFlags(f *pflag.FlagSet, s *store.Store) {
	f.StringVar(&s.Name, "name", "", "store name (unique)")
	f.StringVar(&s.Platform, "platform", "", "shopify, woocommerce or generic")
	f.StringVar(&s.Domain, "domain", "", "shop domain, e.g. shop.myshopify.com (unique)")
	f.StringVar(&s.WebhookSecret, "webhook-secret", "", "secret the shop signs webhooks with")
	f.StringVar(&s.From, "from", "", `sender, e.g. "Shop <news@shop.example>"`)
	f.StringVar(&s.Address, "address", "", "postal address shown in every email")
	f.StringVar(&s.Timezone, "timezone", "UTC", "IANA time zone, e.g. Europe/London")
	f.StringVar(&s.Currency, "currency", "USD", "ISO 4217 currency, e.g. GBP")
}

func validateStore(s store.Store) error {
	switch {
	case s.Name == "":
		return usagef("--name is required")
	case s.Platform != "shopify" && s.Platform != "woocommerce" && s.Platform != "generic":
		return usagef("--platform %q: must be shopify, woocommerce or generic", s.Platform)
	case s.Domain == "" || strings.ContainsAny(s.Domain, " /"):
		return usagef("--domain %q: give the shop's host name, e.g. shop.example.com", s.Domain)
	case len(s.WebhookSecret) < 8:
		return usagef("--webhook-secret is required (at least 8 characters)")
	case len(s.Currency) != 3 || strings.ToUpper(s.Currency) != s.Currency:
		return usagef("--currency %q: use an ISO 4217 code such as GBP", s.Currency)
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil {
		return usagef("--timezone %q: not an IANA time zone (e.g. Europe/London)", s.Timezone)
	}
	if s.From != "" {
		if _, err := mail.ParseAddress(s.From); err != nil {
			return usagef("--from %q: not an address like \"Shop <news@shop.example>\"", s.From)
		}
	}
	return nil
}

func (a *app) storeAddCmd() *cobra.Command {
	var s store.Store
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a store and print its id",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateStore(s); err != nil {
				return err
			}
			pool, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			out, err := store.StoreInsert(cmd.Context(), pool, s)
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("a store with this name or domain exists already: %w", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, out)
			}
			fmt.Fprintln(a.env.Stdout, out.ID)
			return nil
		},
	}
	storeFlags(cmd.Flags(), &s)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the store as JSON")
	return cmd
}

func (a *app) storeListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stores",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			stores, err := store.StoreList(cmd.Context(), pool)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, nonNil(stores))
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPLATFORM\tDOMAIN\tCURRENCY\tTIMEZONE")
			for _, s := range stores {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Platform, s.Domain, s.Currency, s.Timezone)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) storeShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show STORE",
		Short: "Show a store (by id, name or domain)",
		Args:  exactArgs(1, "one store id, name or domain"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.findStore(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, s)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			for _, kv := range [][2]string{{"id", fmt.Sprint(s.ID)}, {"name", s.Name}, {"platform", s.Platform},
				{"domain", s.Domain}, {"from", s.From}, {"address", s.Address}, {"timezone", s.Timezone},
				{"currency", s.Currency}, {"webhook url", webhookPath(s)}, {"created", s.CreatedAt.Format(time.RFC3339)}} {
				fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func webhookPath(s store.Store) string {
	if s.Platform == "shopify" {
		return "/webhooks/shopify"
	}
	return fmt.Sprintf("/webhooks/%s/%d", s.Platform, s.ID)
}

func (a *app) storeUpdateCmd() *cobra.Command {
	var s store.Store
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update STORE",
		Short: "Change a store's settings; flags not given keep their value",
		Args:  exactArgs(1, "one store id, name or domain"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cur, err := a.findStore(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			merged := mergeStore(cur, s, cmd.Flags())
			if err := validateStore(merged); err != nil {
				return err
			}
			out, err := store.StoreUpdate(cmd.Context(), a.pool, merged)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, out)
			}
			fmt.Fprintf(a.env.Stdout, "updated store %d\n", out.ID)
			return nil
		},
	}
	storeFlags(cmd.Flags(), &s)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the store as JSON")
	return cmd
}

// mergeStore takes the flags that were given over the stored values.
func mergeStore(cur, given store.Store, f *pflag.FlagSet) store.Store {
	pick := func(name string, dst *string, v string) {
		if f.Changed(name) {
			*dst = v
		}
	}
	pick("name", &cur.Name, given.Name)
	pick("platform", &cur.Platform, given.Platform)
	pick("domain", &cur.Domain, given.Domain)
	pick("webhook-secret", &cur.WebhookSecret, given.WebhookSecret)
	pick("from", &cur.From, given.From)
	pick("address", &cur.Address, given.Address)
	pick("timezone", &cur.Timezone, given.Timezone)
	pick("currency", &cur.Currency, given.Currency)
	return cur
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
