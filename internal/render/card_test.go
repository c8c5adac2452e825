package render

import (
	"strings"
	"testing"
)

// TestCardsAreSharedButReasonsAreNot renders the same product for two
// customers with different reasons, then the product with a new price: the
// kept card never carries one customer's reason into another's email, and a
// changed product gets a new card.
func TestCardsAreSharedButReasonsAreNot(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	d := SampleData("cross-sell")
	p := Product{Title: "Trail Gaiters", URL: "https://fellside.example/p/g", ImageURL: "https://fellside.example/g.jpg", Price: Money{3250, "GBP"}}
	render := func(reason string, price int64) Message {
		t.Helper()
		p.Reason, p.Price.Minor = reason, price
		d.Products = []Product{p}
		m, err := r.Render("cross-sell", d)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := render("Goes with your boots", 3250), render("Popular this week", 3250)
	for _, c := range []struct {
		m         Message
		want, not string
	}{{a, "Goes with your boots", "Popular this week"}, {b, "Popular this week", "Goes with your boots"}} {
		for _, part := range []string{c.m.HTML, c.m.Text} {
			if !strings.Contains(part, c.want) || strings.Contains(part, c.not) {
				t.Errorf("want only %q in:\n%s", c.want, part)
			}
			if !strings.Contains(part, "£32.50") || strings.Count(part, "Trail Gaiters") < 1 {
				t.Errorf("card missing in:\n%s", part)
			}
		}
	}
	if a.HTML == b.HTML {
		t.Error("two reasons gave the same HTML")
	}
	c := render("Goes with your boots", 2999)
	if !strings.Contains(c.HTML, "£29.99") || strings.Contains(c.HTML, "£32.50") || !strings.Contains(c.Text, "£29.99") {
		t.Errorf("a new price kept the old card:\n%s\n%s", c.HTML, c.Text)
	}
}

// TestKeptPartsCannotCallParts: a product-card or store part that calls
// card or storePart, directly or through a template it includes, would
// render itself without end (a stack overflow ends the process), so Load
// refuses it and names the part and its file.
func TestKeptPartsCannotCallParts(t *testing.T) {
	t.Parallel()
	for name, files := range map[string]map[string]string{
		"card in product-card": {"partials/products.html": `{{define "product-card"}}{{card .}}{{end}}`},
		"card via a template": {"partials/products.txt": `{{define "product-card"}}{{template "inner" .}}{{end}}` +
			`{{define "inner"}}{{card .}}{{end}}`},
		"storePart in a store part": {"partials/footer.html": `{{storePart "footer-store" .}}` +
			`{{define "footer-store"}}{{storePart "footer-store" .}}{{end}}`},
	} {
		dir := writeFiles(t, files)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), "cannot call card or storePart") || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: Load returned %v", name, err)
		}
	}
}

// TestLoadRefusesRecursion: a template that calls itself, directly or
// through others, is refused at Load with its file and line: html/template
// would stop it only at a depth of 100,000, after seconds, every message.
func TestLoadRefusesRecursion(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		files map[string]string
		at    string
	}{
		"a partial": {map[string]string{"partials/greeting.html": `{{define "greeting"}}` + "\n" + `{{template "greeting" .}}{{end}}`},
			"partials/greeting.html:2: greeting: calls itself (greeting → greeting)"},
		"the product card, through another": {map[string]string{"partials/products.txt": `{{define "product-card"}}{{template "inner" .}}{{end}}` +
			`{{define "inner"}}{{template "product-card" .}}{{end}}`}, "calls itself (inner → product-card → inner)"},
		"a subject": {map[string]string{"cross-sell/subject.txt": `{{define "x"}}{{template "x" .}}{{end}}{{template "x" .}}`},
			"cross-sell/subject.txt:1: x: calls itself (x → x)"},
	} {
		_, err := Load(writeFiles(t, c.files))
		if err == nil || !strings.Contains(err.Error(), c.at) || !strings.Contains(err.Error(), "cannot call itself") {
			t.Errorf("%s: Load returned %v", name, err)
		}
	}
}
