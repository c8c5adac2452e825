package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes files (slash path -> content) under a new folder.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// problems returns the *Problem in err (a joined error) or in errs.
func problems(t *testing.T, err error, errs []error) []*Problem {
	t.Helper()
	if err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
	}
	var ps []*Problem
	for _, e := range errs {
		var p *Problem
		if !errors.As(e, &p) {
			t.Fatalf("%T is not a *Problem: %v", e, e)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestLoadOverridesSomeFiles(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"partials/footer.html":   `<table role="presentation"><tr><td class="footer">{{.Store.Address}} <a href="{{.Links.Unsubscribe}}">Leave</a></td></tr></table>`,
		"cross-sell/subject.txt": "New for you at {{.Store.Name}}\n",
		"style.css":              ".footer { color: #123456; }",
		"newsletter/subject.txt": "News from {{.Store.Name}}",
		"newsletter/body.html":   `<p class="text">{{template "greeting" .}}</p>`,
		"newsletter/body.txt":    "{{template \"greeting\" .}}",
		"README.md":              "notes for designers",
		".DS_Store":              "junk",
	})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source() != dir {
		t.Errorf("Source() = %q", r.Source())
	}
	if got := strings.Join(r.Names(), " "); !strings.Contains(got, "newsletter") || !strings.Contains(got, "cross-sell") {
		t.Errorf("Names() = %s", got)
	}
	m, err := r.Render("cross-sell", SampleData("cross-sell"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "New for you at Fellside Outfitters" {
		t.Errorf("subject %q: the override is not used", m.Subject)
	}
	if !strings.Contains(m.HTML, `<td style="color:#123456" class="footer">`) || !strings.Contains(m.HTML, ">Leave</a>") {
		t.Errorf("the footer override or its style is not used:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "Goes well with your order") {
		t.Errorf("the embedded body is not used for the files the folder lacks")
	}
	if _, err := r.Render("newsletter", SampleData("newsletter")); err != nil {
		t.Errorf("a new email in the folder: %v", err)
	}
}

func TestLoadReportsFileAndLine(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"cross-sell/body.html":  "<p>\n{{if .Products}}\n</p>\n",
		"upsell/body.txt":       "Hi\n{{.Customer.FirstName | nosuchfunc}}\n",
		"partials/rows.html":    "<p>ok</p>\n<tr><td>{{.X}}</td></tr>\n",
		"promo/subject.txt":     "Promo",
		"cross-sell/extra.html": "<p>?</p>",
	})
	_, err := Load(dir)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	got := map[string]*Problem{}
	for _, p := range problems(t, err, nil) {
		got[filepath.Base(filepath.Dir(p.File))+"/"+filepath.Base(p.File)] = p
	}
	check := func(key string, line int, field, msg string) {
		t.Helper()
		p := got[key]
		switch {
		case p == nil:
			t.Errorf("no problem for %s in %v", key, err)
		case !strings.HasPrefix(p.File, dir):
			t.Errorf("%s: file %q is not the folder's path", key, p.File)
		case p.Line != line || p.Field != field || !strings.Contains(p.Message, msg):
			t.Errorf("%s: got %+v, want line %d field %q message ~%q", key, *p, line, field, msg)
		}
	}
	check("cross-sell/body.html", 4, "", "unexpected EOF")
	check("upsell/body.txt", 2, "nosuchfunc", `function "nosuchfunc" not defined`)
	check("cross-sell/extra.html", 0, "", "unexpected template file")
	check(filepath.Base(dir)+"/promo", 0, "", "missing body.html")
	if t.Failed() {
		return
	}
	// With the syntax fixed, the inliner reports what HTML cannot hold.
	dir = writeFiles(t, map[string]string{
		"partials/rows.html":  "<p>ok</p>\n<tr><td>{{.X}}</td></tr>\n",
		"replenish/body.html": "<p>\n<p title=\"{{.Store.Name}}>hi</p>\n",
	})
	_, err = Load(dir)
	ps := problems(t, err, nil)
	if len(ps) != 2 {
		t.Fatalf("got %v", err)
	}
	for i, want := range []struct {
		file string
		line int
		msg  string
	}{
		{filepath.Join("partials", "rows.html"), 2, "<tr> cannot stand here"},
		{filepath.Join("replenish", "body.html"), 2, "not closed"},
	} {
		if p := ps[i]; p.Line != want.line || !strings.HasSuffix(p.File, want.file) || !strings.Contains(p.Message, want.msg) {
			t.Errorf("got %v, want %s:%d: ...%s...", p, want.file, want.line, want.msg)
		}
	}
}

func TestLoadMissingDir(t *testing.T) {
	t.Parallel()
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Load of a missing folder succeeded")
	}
}
