package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/render"
)

func (a *app) templatesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "templates", Short: "Check and preview the email templates"}
	cmd.AddCommand(a.templatesCheckCmd(), a.templatesRenderCmd())
	return cmd
}

// templatesCheckOpts are the options of templates check.
type templatesCheckOpts struct {
	Dir  string // "" for the embedded templates
	JSON bool
}

// Validate checks that Dir, when set, is a folder.
func (o templatesCheckOpts) Validate() error { return validateTemplatesDir(o.Dir) }

func (a *app) templatesCheckCmd() *cobra.Command {
	var o templatesCheckOpts
	cmd := &cobra.Command{
		Use:   "check [DIR]",
		Short: "Render every email with sample and edge-case data and list the problems",
		Long: `Check loads the templates (the embedded ones, overridden file by file by DIR,
or by $REMARKET_TEMPLATES when no DIR is given), renders every email with
sample data and with edge cases (no first name, no or six products, long
titles, hostile strings) and prints each problem as FILE:LINE: FIELD: MESSAGE.
It exits 1 when there is any.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("expected at most one folder, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			o.Dir = a.cfg.Templates
			if len(args) == 1 {
				o.Dir = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return runTemplatesCheck(a.env.Stdout, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the problems as a JSON list")
	return cmd
}

// runTemplatesCheck prints the problems of the templates in o.Dir to w and
// returns an error when there is any.
func runTemplatesCheck(w io.Writer, o templatesCheckOpts) error {
	var problems []error
	r, err := render.Load(o.Dir)
	switch {
	case err == nil:
		problems = r.Check()
	default:
		var joined interface{ Unwrap() []error }
		var p *render.Problem
		switch {
		case errors.As(err, &joined):
			problems = joined.Unwrap()
		case errors.As(err, &p):
			problems = []error{p}
		default:
			return err // not a template problem: cannot read the folder
		}
	}
	where := "embedded templates"
	if o.Dir != "" {
		where = "templates in " + o.Dir + " (over the embedded ones)"
	}
	if o.JSON {
		list := make([]*render.Problem, 0, len(problems))
		for _, e := range problems {
			var p *render.Problem
			if !errors.As(e, &p) {
				p = &render.Problem{Message: e.Error()}
			}
			list = append(list, p)
		}
		if err := printJSON(w, list); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
		if len(problems) == 0 {
			fmt.Fprintf(w, "%d emails, no problems (%s: %s)\n", len(r.Names()), where, strings.Join(r.Names(), ", "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) in the %s", len(problems), where)
	}
	return nil
}

// templatesRenderOpts are the options of templates render.
type templatesRenderOpts struct {
	Name   string
	Format string // html or text
	Dir    string // "" for the embedded templates
}

// Validate checks the format and the folder.
func (o templatesRenderOpts) Validate() error {
	if o.Format != "html" && o.Format != "text" {
		return usagef("--format %q: must be html or text", o.Format)
	}
	return validateTemplatesDir(o.Dir)
}

func (a *app) templatesRenderCmd() *cobra.Command {
	var o templatesRenderOpts
	cmd := &cobra.Command{
		Use:   "render NAME",
		Short: "Print an email rendered with sample data (for designers)",
		Long: `Render prints the email NAME (e.g. cross-sell) rendered with its sample data:
the HTML body, or the text body with --format text. The templates are the
embedded ones, overridden file by file by --dir or $REMARKET_TEMPLATES.
The subject goes to standard error.`,
		Args: exactArgs(1, "one template name, e.g. cross-sell"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if !cmd.Flags().Changed("dir") {
				o.Dir = a.cfg.Templates
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return runTemplatesRender(a.env.Stdout, a.env.Stderr, o)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "html", "html or text")
	cmd.Flags().StringVar(&o.Dir, "dir", "", "folder overriding the embedded templates (env REMARKET_TEMPLATES)")
	return cmd
}

// runTemplatesRender writes the body of o.Name rendered with its sample data
// to w and its subject to info.
func runTemplatesRender(w, info io.Writer, o templatesRenderOpts) error {
	r, err := render.Load(o.Dir)
	if err != nil {
		return err
	}
	m, err := r.Render(o.Name, render.SampleData(o.Name))
	if errors.Is(err, render.ErrUnknownTemplate) {
		return usagef("no template %q (have %s)", o.Name, strings.Join(r.Names(), ", "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(info, "Subject: %s\n", m.Subject)
	body := m.HTML
	if o.Format == "text" {
		body = m.Text
	}
	_, err = io.WriteString(w, body)
	return err
}

func validateTemplatesDir(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("templates folder %q: %w", dir, err)
	}
	if !st.IsDir() {
		return usagef("templates folder %q is not a folder", dir)
	}
	return nil
}
