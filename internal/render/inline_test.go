package render

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/vanng822/go-premailer/premailer"
)

// TestProductGridCells renders the grid, whose {{range}} stands between
// <table> and <tr> in the template, and counts the cells a mail client gets.
func TestProductGridCells(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	cell := regexp.MustCompile(`<td style="[^"]*" class="product" width="50%" valign="top">`)
	for _, n := range []int{1, 3, 6} {
		d := SampleData("win-back")
		d.Products = nil
		for i := range n {
			p := sampleProducts()[i%4]
			p.Title += " #" + string(rune('A'+i))
			d.Products = append(d.Products, p)
		}
		m, err := r.Render("win-back", d)
		if err != nil {
			t.Fatal(err)
		}
		grid := between(t, m.HTML, `class="grid"`, "</table>")
		if got := len(cell.FindAllString(grid, -1)); got != n {
			t.Errorf("%d products: %d product cells in the grid\n%s", n, got, grid)
		}
		if got, want := strings.Count(grid, "<tr>"), (n+1)/2; got != want {
			t.Errorf("%d products: %d rows, want %d", n, got, want)
		}
		if got, want := strings.Count(grid, `class="product-empty"`), n%2; got != want {
			t.Errorf("%d products: %d filler cells, want %d", n, got, want)
		}
		for _, p := range d.Products {
			if strings.Count(grid, ">"+p.Title+"</a>") != 1 {
				t.Errorf("%d products: %q is not in the grid once", n, p.Title)
			}
		}
		if strings.Index(m.HTML, `class="grid"`) > strings.Index(m.HTML, d.Products[0].Title) {
			t.Errorf("%d products: a product comes before the grid's table", n)
		}
	}
}

// between returns s from the first from to the next to after it.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("no %q in\n%s", from, s)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("no %q after %q", to, from)
	}
	return s[i : i+j]
}

const gridSource = `<table class="grid">
{{range .Products}}
<tr>
<td class="product">{{.Title}}</td>
</tr>
{{end}}
</table>
`

// TestNaiveInliningHoistsActions shows why the template source is not given
// to premailer as it is: the HTML parser moves the {{range}} out of the table.
func TestNaiveInliningHoistsActions(t *testing.T) {
	t.Parallel()
	pm, err := premailer.NewPremailerFromString(`<html><head><style>.product{padding:8px}</style></head><body>`+gridSource+`</body></html>`, premailer.NewOptions())
	if err != nil {
		t.Fatal(err)
	}
	naive, err := pm.Transform()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Index(naive, "{{range .Products}}") > strings.Index(naive, "<table") {
		t.Fatalf("premailer no longer hoists actions out of tables; inlining could be simpler:\n%s", naive)
	}
	ours, err := inlineCSS(gridSource, ".product{padding:8px}")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(gridSource, `<td class="product">`, `<td style="padding:8px" class="product">`, 1)
	if ours != want {
		t.Fatalf("inlineCSS changed more than the style:\n%s\nwant\n%s", ours, want)
	}
}

func TestInlineCSS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src, css, want string
	}{
		{"keeps own style last",
			`<p class="a" style="color: red">x</p>`, `.a{color:blue;margin:0}`,
			`<p class="a" style="margin:0;color:red">x</p>`},
		{"width to attribute",
			`<img class="i" src="{{.URL}}" alt="">`, `.i{width:120px}`,
			`<img style="width:120px" width="120" class="i" src="{{.URL}}" alt="">`},
		{"actions in attributes and quotes",
			`<a class="b" title='{{printf "%s>" .X}}' href="{{.URL}}">{{.Y}}</a>`, `.b{color:#000}`,
			`<a style="color:#000" class="b" title='{{printf "%s>" .X}}' href="{{.URL}}">{{.Y}}</a>`},
		{"conditional attributes",
			`<table><tr><td class="c" {{if .X}}align="right"{{end}}>{{.Y}}</td></tr></table>`, `td{padding:0}`,
			`<table><tr><td style="padding:0" class="c" {{if .X}}align="right"{{end}}>{{.Y}}</td></tr></table>`},
		{"a multi-line tag keeps its lines",
			"<table><tr><td\n  class=\"c\"\n  style=\"margin:0\"\n>{{.Y}}</td></tr></table>", `td{padding:0}`,
			"<table><tr><td\n  class=\"c\"\n  style=\"padding:0;margin:0\"\n>{{.Y}}</td></tr></table>"},
		{"comments and strings with braces",
			`{{/* a }} comment */}}<p class="a">{{"}}"}}</p>`, `.a{color:red}`,
			`{{/* a }} comment */}}<p style="color:red" class="a">{{"}}"}}</p>`},
		{"a style element is taken in",
			"<style>\n.z{color:red}\n</style>\n<p class=\"z\">{{.X}}</p>", ``,
			"\n\n\n<p style=\"color:red\" class=\"z\">{{.X}}</p>"},
	}
	for _, c := range cases {
		got, err := inlineCSS(c.src, c.css)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestInlineDocumentLeftovers(t *testing.T) {
	t.Parallel()
	src := "<!DOCTYPE html>\n<html lang=\"{{.L}}\">\n<head>\n<title>{{.T}}</title>\n</head>\n<body class=\"b\">{{.X}}</body>\n</html>\n"
	got, err := inlineCSS(src, ".b{margin:0} a:hover{color:red} @media (max-width:600px){.b{padding:0}}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "\n") != strings.Count(src, "\n") {
		t.Errorf("lines changed:\n%s", got)
	}
	for _, want := range []string{`<body style="margin:0" class="b">{{.X}}</body>`, "<style type=\"text/css\">", "a:hover", "@media", "</style></head>", `<html lang="{{.L}}">`, "<title>{{.T}}</title>"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}

func TestInlineErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src      string
		line     int
		contains string
	}{
		{"<p>ok</p>\n<tr><td>{{.X}}</td></tr>\n", 2, "<tr> cannot stand here"},
		{"<p>\n{{.X</p>\n", 2, "unclosed action"},
		{"<html><body>{{.X}}</body></html>", 1, "no <head>"},
	}
	for _, c := range cases {
		_, err := inlineCSS(c.src, "p{margin:0}")
		var ie *inlineError
		if !errors.As(err, &ie) || ie.Line != c.line || !strings.Contains(ie.Msg, c.contains) {
			t.Errorf("%q: err = %v, want line %d: ...%s...", c.src, err, c.line, c.contains)
		}
	}
}

// TestInlineKeepsLines checks every embedded HTML file: after inlining, each
// line holds the same actions as in the source, so errors point at the
// author's lines.
func TestInlineKeepsLines(t *testing.T) {
	t.Parallel()
	files, err := readFiles("")
	if err != nil {
		t.Fatal(err)
	}
	action := regexp.MustCompile(`{{.*?}}`)
	for rel, f := range files {
		if !strings.HasSuffix(rel, ".html") {
			continue
		}
		got, err := inlineCSS(f.src, files[styleFile].src)
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		src, out := strings.Split(f.src, "\n"), strings.Split(got, "\n")
		if len(src) != len(out) {
			t.Fatalf("%s: %d lines became %d", f.path, len(src), len(out))
		}
		for i := range src {
			if a, b := action.FindAllString(src[i], -1), action.FindAllString(out[i], -1); strings.Join(a, "") != strings.Join(b, "") {
				t.Errorf("%s:%d: actions %v became %v", f.path, i+1, a, b)
			}
		}
	}
}
