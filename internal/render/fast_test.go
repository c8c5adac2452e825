package render

import (
	"reflect"
	"strings"
	"testing"
	texttemplate "text/template"
)

// slowRender renders the email name as html/template and text/template
// alone would, without the programs of fast.go.
func slowRender(t testing.TB, r *Renderer, name string, d Data) Message {
	t.Helper()
	e, err := r.compiled(name, d.Store.Locale)
	if err != nil {
		t.Fatal(err)
	}
	var data any = normalize(d)
	subject, err := run(e.subject, nil, data, 0)
	if err != nil {
		t.Fatalf("%s subject: %v", name, err)
	}
	html, err := run(e.html, nil, data, 0)
	if err != nil {
		t.Fatalf("%s HTML: %v", name, err)
	}
	text, err := run(e.text, nil, data, 0)
	if err != nil {
		t.Fatalf("%s text: %v", name, err)
	}
	return Message{Subject: oneLine(subject), HTML: html, Text: tidyText(text)}
}

// checkFast renders d both ways and fails on any difference, and when a
// built-in template was not compiled: the programs must cover them all.
func checkFast(t *testing.T, r *Renderer, name string, d Data, mustCompile bool) {
	t.Helper()
	got, err := r.Render(name, d)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want := slowRender(t, r, name, d)
	e, _ := r.compiled(name, d.Store.Locale)
	if mustCompile {
		for part, p := range map[string]*program{"subject": e.fastSubject.Load(), "HTML": e.fastHTML.Load(), "text": e.fastText.Load()} {
			if p == nil {
				t.Errorf("%s: the %s template was not compiled", name, part)
			}
		}
		var b strings.Builder
		if !e.fastHTML.Load().execute(&b, normalize(d)) {
			t.Errorf("%s: the compiled HTML template handed this data back to html/template", name)
		}
	}
	if got.Subject != want.Subject {
		t.Errorf("%s subject: compiled %q, html/template %q", name, got.Subject, want.Subject)
	}
	if got.HTML != want.HTML {
		t.Errorf("%s HTML differs: %s", name, firstDiff(want.HTML, got.HTML))
	}
	if got.Text != want.Text {
		t.Errorf("%s text differs: %s", name, firstDiff(want.Text, got.Text))
	}
}

// hostile puts markup, quotes, URL schemes, control characters and invalid
// UTF-8 into every string an email shows.
func hostile(d Data, s string) Data {
	d.Customer.FirstName = s
	d.Store.Name = s + " Shop"
	d.Store.Address = s + "\n" + s
	d.Links.Unsubscribe = "https://u.example/" + s
	d.Links.Preferences = s
	d.Preheader = s
	ps := make([]Product, 0, len(d.Products)+1)
	for i, p := range d.Products {
		p.Title = s + p.Title
		if i%2 == 0 {
			p.URL, p.ImageURL, p.Reason = s, "https://img.example/"+s, s
		}
		ps = append(ps, p)
	}
	d.Products = append(ps, Product{Title: s, URL: s, ImageURL: s, Reason: s, Price: Money{Minor: -1, Currency: s}})
	if d.Order != nil {
		o := *d.Order
		o.Number = s
		o.Lines = append([]Line{{Title: s, URL: s, ImageURL: s, Quantity: 3, Price: Money{Minor: 250, Currency: "GBP"}}}, o.Lines...)
		d.Order = &o
	}
	if d.Checkout != nil {
		c := *d.Checkout
		c.URL = s
		c.Lines = append([]Line{{Title: s, URL: s, Quantity: 1}}, c.Lines...)
		d.Checkout = &c
	}
	return d
}

var hostileStrings = []string{
	"", " ", "Amelia", `<script>alert(1)</script>`, `"><img src=x onerror=alert(3)>`, "javascript:alert(1)",
	" JaVaScRiPt:alert(4)", "data:text/html,x", "mailto:a@b.example", "HTTPS://x.example/a b?c=d&e=f#g",
	"/relative/path?q=1+2", "%zz%41%4a", "it's & \"quoted\" + more", "\x00nul\x01\x7f", "Bcc: x\r\nTo: y",
	"\xff\xfe broken utf-8", "日本語 ünïcödé 😀", "{{.Store.Name}}", "a\u2028b\u0085c", "&amp;&#34;",
}

// TestFastMatchesTemplate: the compiled templates write exactly what
// html/template and text/template write, for every built-in email, with
// the sample data and with hostile data in every field.
func TestFastMatchesTemplate(t *testing.T) {
	r := loadEmbedded(t)
	for _, name := range r.Names() {
		checkFast(t, r, name, SampleData(name), true)
		for _, s := range hostileStrings {
			checkFast(t, r, name, hostile(SampleData(name), s), true)
		}
		d := SampleData(name)
		d.Products, d.Order, d.Checkout, d.Links.Preferences, d.Customer.FirstName = nil, nil, nil, "", ""
		checkFast(t, r, name, d, true)
	}
}

// TestFastFallsBack: a template using what the compiler does not cover
// (variables, printf, a method, a map) still renders, by html/template,
// and the same as without the compiler; so does one whose function fails.
func TestFastFallsBack(t *testing.T) {
	body := `{{$n := len .Products}}<p>{{printf "%d picks" $n}} {{index .Products 0 | printf "%v"}}</p>` +
		`{{range $i, $p := .Products}}<a href="{{$p.URL}}">{{$i}}</a>{{end}}{{template "products" .}}`
	r := writeOverride(t, map[string]string{"win-back/body.html": body})
	checkFast(t, r, "win-back", SampleData("win-back"), false)
	e, _ := r.compiled("win-back", "en-GB")
	if e.fastHTML.Load() != nil {
		t.Error("a body with variables and printf compiled")
	}
	if e.fastText.Load() == nil {
		t.Error("the text body, which the folder did not change, was not compiled")
	}
	// A nil order in an email that shows one: text/template's error, not
	// the program's.
	d := SampleData("thank-you")
	d.Order = nil
	_, fastErr := r.Render("thank-you", d)
	e, _ = r.compiled("thank-you", "en-GB")
	_, slowErr := run(e.html, nil, any(normalize(d)), 0)
	if (fastErr == nil) != (slowErr == nil) || (slowErr != nil && !strings.Contains(fastErr.Error(), slowErr.Error())) {
		t.Errorf("nil order: got %v, html/template says %v", fastErr, slowErr)
	}
}

// writeOverride writes files into a new override folder and loads it.
func writeOverride(t *testing.T, files map[string]string) *Renderer {
	t.Helper()
	r, err := Load(writeFiles(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFastRefusesRecursion: text/template stops a template that calls
// itself at a depth limit, with an error; compiled closures would overflow
// the stack and kill the process, so the compiler refuses such a template
// (Load refuses it too: TestLoadRefusesRecursion).
func TestFastRefusesRecursion(t *testing.T) {
	set, err := texttemplate.New("body").Parse(`{{define "r"}}{{if .Customer.FirstName}}{{template "r" .}}{{end}}{{end}}{{template "r" .}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p := compileProgram(set.Tree, reflect.TypeFor[Data](), textLookup(set), nil, false); p != nil {
		t.Fatal("a template that calls itself was compiled")
	}
	ok, err := texttemplate.New("body").Parse(`{{define "r"}}{{.Customer.FirstName}}{{end}}{{template "r" .}}{{template "r" .}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p := compileProgram(ok.Tree, reflect.TypeFor[Data](), textLookup(ok), nil, false); p == nil {
		t.Fatal("a template called twice, not recursively, was not compiled")
	}
}

// TestFastAndOrPiped: a piped value is evaluated before and/or
// short-circuits, so its error is reported as text/template reports it.
func TestFastAndOrPiped(t *testing.T) {
	r := writeOverride(t, map[string]string{
		"thank-you/body.html": `<p>[{{.Order.Number | or "none"}}] [{{.Customer.FirstName | and .Store.Name}}]</p>`,
		"thank-you/body.txt":  `[{{.Order.Number | and .Customer.FirstName}}] [{{.Customer.FirstName | or .Store.Name}}]`,
	})
	checkFast(t, r, "thank-you", SampleData("thank-you"), true)
	d := SampleData("thank-you")
	d.Customer.FirstName = ""
	checkFast(t, r, "thank-you", d, true)
	d.Order = nil
	if _, err := r.Render("thank-you", d); err == nil || !strings.Contains(err.Error(), "nil pointer") {
		t.Errorf("nil order: got %v, want text/template's nil pointer error", err)
	}
}

// TestFastCoversTypes checks the program refuses data of another type
// rather than misreading it.
func TestFastCoversTypes(t *testing.T) {
	r := loadEmbedded(t)
	if _, err := r.Render("cross-sell", SampleData("cross-sell")); err != nil {
		t.Fatal(err)
	}
	e, _ := r.compiled("cross-sell", "en-GB")
	var b strings.Builder
	if e.fastHTML.Load().execute(&b, struct{ Store Store }{}) {
		t.Error("a program ran on data of another type")
	}
	if got := reflect.TypeOf(Data{}); e.fastHTML.Load().data != got {
		t.Errorf("compiled for %v, want %v", e.fastHTML.Load().data, got)
	}
}

// FuzzFastMatchesTemplate feeds any string into every field of every
// email: go test ./internal/render -run XXX -fuzz FuzzFastMatchesTemplate
func FuzzFastMatchesTemplate(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, int64(1250))
	}
	r := loadEmbedded(f)
	names := r.Names()
	f.Fuzz(func(t *testing.T, s string, minor int64) {
		for _, name := range names {
			d := hostile(SampleData(name), s)
			if len(d.Products) > 0 {
				d.Products[0].Price.Minor = minor
			}
			checkFast(t, r, name, d, false)
		}
	})
}
