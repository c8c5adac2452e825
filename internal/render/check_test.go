package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckEmbedded(t *testing.T) {
	t.Parallel()
	for _, p := range loadEmbedded(t).Check() {
		t.Error(p)
	}
}

// TestCheckFindsProblems overrides templates with mistakes and expects
// Check to name each one's file, line and field.
func TestCheckFindsProblems(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"cross-sell/body.html":  "{{template \"greeting\" .}}\n<p class=\"text\">{{.Customer.FirstNam}}</p>\n",
		"win-back/body.html":    "<p class=\"text\">Your last order:</p>\n\n<p>{{.Order.Number}}</p>\n",
		"upsell/body.html":      "<p><img src=\"{{.Store.LogoURL}}\"></p>\n",
		"replenish/body.html":   "<p>\n<a href=\"{{if .Order}}/a/{{else}}/search?q={{end}}{{.Store.Name}}\">x</a></p>\n",
		"thank-you/subject.txt": "{{range .Products}}{{.Title}} {{end}}",
		"partials/footer.txt":   "--\n{{.Store.Name}}\n",
	})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(t, nil, r.Check())
	find := func(template, contains string) *Problem {
		t.Helper()
		for _, p := range ps {
			if p.Template == template && strings.Contains(p.Message, contains) {
				return p
			}
		}
		t.Errorf("%s: no problem like %q in\n%v", template, contains, ps)
		return nil
	}
	if p := find("cross-sell", "can't evaluate field FirstNam"); p != nil {
		if p.File != filepath.Join(dir, "cross-sell", "body.html") || p.Line != 2 || p.Field != ".Customer.FirstNam" || p.Case != "sample" {
			t.Errorf("cross-sell: %+v", *p)
		}
		if !strings.HasPrefix(p.Error(), filepath.Join(dir, "cross-sell", "body.html")+":2: .Customer.FirstNam: can't evaluate field FirstNam") {
			t.Errorf("Error() = %q", p.Error())
		}
	}
	if p := find("win-back", "nil pointer evaluating *render.Order.Number"); p != nil && (p.Line != 3 || p.Field != ".Order.Number") {
		t.Errorf("win-back: %+v", *p)
	}
	if p := find("upsell", "an image has no alt text"); p != nil && p.Field != "https://fellside.example/img/logo.png" {
		t.Errorf("upsell: %+v", *p)
	}
	find("upsell", "an image has no width")
	find("browse-abandonment", "the text has no unsubscribe link")
	find("browse-abandonment", "the text does not show the postal address")
	if p := find("replenish", "ambiguous context within a URL"); p != nil && (p.File != filepath.Join(dir, "replenish", "body.html") || p.Line != 2) {
		t.Errorf("replenish: %+v", *p)
	}
	if p := find("thank-you", "the subject has"); p != nil && p.Case != "long titles" {
		t.Errorf("thank-you: %+v", *p)
	}
	// Each problem once, not once per case.
	seen := map[string]bool{}
	for _, p := range ps {
		key := p.Template + p.File + p.Field + p.Message
		if seen[key] {
			t.Errorf("reported twice: %v", p)
		}
		seen[key] = true
	}
}

// TestCheckTakesEveryBranch: mistakes in branches the sample data does not
// take (a store without a logo, a customer without an order) are found,
// and a mistake in a part rendered through storePart is reported at its
// own file and line, not at the layout's call.
func TestCheckTakesEveryBranch(t *testing.T) {
	t.Parallel()
	header, err := os.ReadFile("../../templates/partials/header.html")
	if err != nil {
		t.Fatal(err)
	}
	typo := strings.Replace(string(header), "<strong>{{.Store.Name}}</strong>", "<strong>{{.Store.Nmae}}</strong>", 1)
	if typo == string(header) {
		t.Fatal("header.html has no <strong>{{.Store.Name}}</strong> in its no-logo branch any more")
	}
	r, err := Load(writeFiles(t, map[string]string{
		"partials/header.html": typo,
		"win-back/body.html":   `<p>{{.Order.Number}}</p>`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logo, order bool
	for _, e := range r.Check() {
		p := e.(*Problem)
		switch {
		case p.Field == ".Store.Nmae":
			logo = strings.HasSuffix(p.File, "partials/header.html") && p.Line == 4 && p.Case == "no logo or preferences link"
		case p.Template == "win-back" && p.Field == ".Order.Number":
			order = true
		}
	}
	if !logo || !order {
		t.Errorf("no-logo typo found at header.html:4: %v; unguarded .Order found: %v; problems: %v", logo, order, r.Check())
	}
}
