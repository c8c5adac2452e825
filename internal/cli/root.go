// Package cli is the remarket command line: one cobra command per file, each
// with its options, writing to injected streams so tests can run it in-process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/tty"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the command failed
	ExitUsage = 2 // a bad flag, argument or setting
)

// UsageError is a mistake in how remarket was called; it exits 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Env is what a command sees of its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// app is shared by every command: settings and a lazily opened database.
type app struct {
	env  Env
	cfg  config.Config
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Execute runs the command line args and returns the exit code. A bug that
// panics is reported as one line and exit code 1, never as a stack trace.
func Execute(ctx context.Context, args []string, env Env) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(env.Stderr, "remarket: internal error: %v (please report it)\n", r)
			code = ExitError
		}
	}()
	if f, ok := env.Stdout.(*os.File); ok && tty.IsTerminal(f) {
		env.Stdout = safeTerminal{f}
	}
	a := &app{env: env, cfg: config.FromEnv(env.Getenv)}
	a.log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if a.pool != nil {
		a.pool.Close()
	}
	if err == nil {
		return ExitOK
	}
	// Errors quote data (a product title from a webhook): no control
	// characters reach the operator's terminal or log. An error of several
	// lines (errors.Join, a list of template problems) keeps them, indented.
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		prefix := "remarket: "
		if i > 0 {
			prefix = "  "
		}
		fmt.Fprintln(env.Stderr, prefix+oneLineSafe(l))
	}
	var ue UsageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		return ExitUsage
	}
	return ExitError
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "remarket",
		Short:         "Email remarketing for online stores",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.applyFlags(cmd.Flags())
			if err := a.cfg.Validate(); err != nil {
				return UsageError{err}
			}
			if a.cfg.SMTPURL != "" {
				if err := mailer.ValidateURL(a.cfg.SMTPURL); err != nil {
					return usagef("REMARKET_SMTP_URL: %v", err)
				}
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	f.String("database-url", "", "PostgreSQL URL (env REMARKET_DATABASE_URL, default "+config.DefaultDatabaseURL+")")
	f.String("http-addr", "", "HTTP listen address (env REMARKET_HTTP_ADDR, default "+config.DefaultHTTPAddr+")")
	f.String("public-url", "", "public base URL for links (env REMARKET_PUBLIC_URL)")
	f.String("secret", "", "signing secret (env REMARKET_SECRET)")
	f.String("smtp-url", "", "SMTP server URL (env REMARKET_SMTP_URL)")
	f.String("admin-token", "", "admin API token (env REMARKET_ADMIN_TOKEN)")
	f.String("templates", "", "folder of email templates overriding the built-in ones (env REMARKET_TEMPLATES)")
	f.String("smtp-rate", "", "messages per second to the SMTP server, 0 for no limit (env REMARKET_SMTP_RATE)")
	f.String("smtp-connections", "", "SMTP connections serve keeps open and sends over at once, 1–64 (env REMARKET_SMTP_CONNECTIONS, default "+strconv.Itoa(config.DefaultSMTPConnections)+")")
	f.String("inbound-addr", "", "inbound SMTP listen address for unsubscribe mail (env REMARKET_INBOUND_ADDR)")
	f.String("unsubscribe-domain", "", "domain of the mailto: unsubscribe address (env REMARKET_UNSUBSCRIBE_DOMAIN)")
	f.String("inbound-tls-cert", "", "PEM certificate for STARTTLS on the inbound SMTP server (env REMARKET_INBOUND_TLS_CERT)")
	f.String("inbound-tls-key", "", "PEM private key for STARTTLS on the inbound SMTP server (env REMARKET_INBOUND_TLS_KEY)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{err} })
	root.AddCommand(a.migrateCmd(), a.serveCmd(), a.storeCmd(), a.inboxCmd(), a.customerCmd(), a.orderCmd(),
		a.importCmd(), a.demoCmd(), a.templatesCmd(), a.recsCmd(), a.evalCmd(), a.campaignCmd())
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes a group command ("campaign", "store") given
// a word that is none of its commands fail with a usage error, as the root
// does: cobra would print the group's help and exit 0, so a typo in a
// script would pass for success. Alone, a group still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c.Parent() == nil || !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.SuggestionsMinimumDistance = 2 // cobra's own default, which it applies only at the root
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
		}
		return usagef("%s", msg)
	}
}

// applyFlags lets flags that were given override the environment.
func (a *app) applyFlags(f *pflag.FlagSet) {
	set := func(name string, dst *string) {
		if fl := f.Lookup(name); fl != nil && fl.Changed {
			*dst = fl.Value.String()
		}
	}
	set("database-url", &a.cfg.DatabaseURL)
	set("http-addr", &a.cfg.HTTPAddr)
	set("public-url", &a.cfg.PublicURL)
	set("secret", &a.cfg.Secret)
	set("smtp-url", &a.cfg.SMTPURL)
	set("admin-token", &a.cfg.AdminToken)
	set("templates", &a.cfg.Templates)
	set("smtp-rate", &a.cfg.SMTPRate)
	set("smtp-connections", &a.cfg.SMTPConnections)
	set("inbound-addr", &a.cfg.InboundAddr)
	set("unsubscribe-domain", &a.cfg.UnsubscribeDomain)
	set("inbound-tls-cert", &a.cfg.InboundTLSCert)
	set("inbound-tls-key", &a.cfg.InboundTLSKey)
}

// db opens the pool once per command, and refuses a database whose schema
// is behind this binary.
func (a *app) db(ctx context.Context) (*pgxpool.Pool, error) {
	if a.pool != nil {
		return a.pool, nil
	}
	pool, err := a.dbAnySchema(ctx)
	if err != nil {
		return nil, err
	}
	behind, err := store.SchemaBehind(ctx, pool)
	if err == nil && behind != "" {
		err = fmt.Errorf("the database is not up to date (%s): run remarket migrate first", behind)
	}
	if err != nil {
		pool.Close()
		a.pool = nil
		return nil, err
	}
	return pool, nil
}

// dbAnySchema opens the pool whatever the schema's version: for migrate,
// and for demo, which migrates.
func (a *app) dbAnySchema(ctx context.Context) (*pgxpool.Pool, error) {
	if a.pool != nil {
		return a.pool, nil
	}
	pool, err := store.Open(ctx, a.cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a.pool = pool
	return pool, nil
}

// findStore resolves --store (id, name or domain).
func (a *app) findStore(ctx context.Context, ref string) (store.Store, error) {
	if ref == "" {
		return store.Store{}, usagef("--store is required (a store's id, name or domain)")
	}
	pool, err := a.db(ctx)
	if err != nil {
		return store.Store{}, err
	}
	st, err := store.StoreFind(ctx, pool, ref)
	if errors.Is(err, store.ErrNotFound) {
		return store.Store{}, fmt.Errorf("no store %q (see remarket store list)", ref)
	}
	return st, err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<" and ">" as themselves: this is not HTML
	return enc.Encode(v)
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

// Main runs remarket with the process's own streams.
func Main(ctx context.Context) int {
	return Execute(ctx, os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
}

// quietLogger logs only warnings and errors, for commands whose own output
// tells the story.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
