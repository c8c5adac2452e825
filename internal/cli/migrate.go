package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/store"
)

func (a *app) migrateCmd() *cobra.Command {
	var status, asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply River's and remarket's database migrations (idempotent)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := a.dbAnySchema(cmd.Context())
			if err != nil {
				return err
			}
			if status {
				st, err := store.MigrationStatus(cmd.Context(), pool)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(a.env.Stdout, st)
				}
				tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "COMPONENT\tVERSION\tNAME\tAPPLIED")
				for _, m := range st {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%v\n", m.Component, m.Version, m.Name, m.Applied)
				}
				return tw.Flush()
			}
			applied, err := store.Migrate(cmd.Context(), pool)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.env.Stdout, map[string]any{"applied": applied})
			}
			for _, m := range applied {
				fmt.Fprintf(a.env.Stdout, "applied %s %d %s\n", m.Component, m.Version, m.Name)
			}
			fmt.Fprintf(a.env.Stdout, "database is up to date (%d migration(s) applied now)\n", len(applied))
			return nil
		},
	}
	cmd.Flags().BoolVar(&status, "status", false, "list migrations and whether each is applied")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
