package render

import (
	"strings"
	"testing"
)

// TestHostileData renders every email with markup in product titles, a
// header-injection attempt in the first name and javascript: URLs: the HTML
// shows them as text, the links go nowhere, and the subject is one line.
func TestHostileData(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	for _, name := range r.Names() {
		d := SampleData(name)
		d.Customer.FirstName = "Eve\r\nBcc: victim@example.com\r\n\r\n<b>hi</b>"
		d.Store.Name = "Shop\r\nX-Injected: 1"
		d.Products = []Product{
			{Title: `<script>alert(1)</script>`, URL: "javascript:alert(1)", ImageURL: "javascript:alert(2)", Price: Money{1250, "GBP"}},
			{Title: `"><img src=x onerror=alert(3)>`, URL: " JaVaScRiPt:alert(4)", ImageURL: `https://x.example/i.png" onerror="alert(5)`,
				Price: Money{1250, "GBP"}, Reason: `</span><script>alert(6)</script>`},
		}
		if d.Checkout != nil {
			d.Checkout.URL = "javascript:alert(7)"
		}
		m, err := r.Render(name, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Errorf("%s: subject %q has a line break", name, m.Subject)
		}
		if strings.HasPrefix(m.Subject, "Eve") && !strings.HasPrefix(m.Subject, "Eve Bcc: victim@example.com <b>hi</b>,") {
			t.Errorf("%s: subject %q", name, m.Subject)
		}
		for _, bad := range []string{"<script", "<img src=x", `onerror="alert`, "onerror=alert(3)>", `href="javascript:`, `href=" JaVaScRiPt:`, `src="javascript:`, "<b>hi</b>"} {
			if strings.Contains(m.HTML, bad) {
				t.Errorf("%s: HTML contains %q", name, bad)
			}
		}
		for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(3)&gt;", "#ZgotmplZ"} {
			if !strings.Contains(m.HTML, want) {
				t.Errorf("%s: HTML lacks %q (escaped text, neutralised URL)", name, want)
			}
		}
		if strings.Contains(m.Text, "\r") {
			t.Errorf("%s: text has a CR", name)
		}
		for _, p := range inspect(m, d) {
			t.Errorf("%s: %v", name, p)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Hello\r\nBcc: x@example.com": "Hello Bcc: x@example.com",
		"  a \t b\n":                  "a b",
		"a\u2028b\u0085c\x00d":        "a b c d",
		"":                            "",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
