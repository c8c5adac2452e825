package render

import "testing"

// TestNeeds: senders load the order or checkout only for emails that show
// them, however the template reaches them: in the subject, in a with block,
// through $ inside a range or a variable bound to the data, or in an email
// a designer added.
func TestNeeds(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"gift/subject.txt":  "For you",
		"gift/body.html":    `{{range .Products}}{{$.Checkout.URL}}{{end}}`,
		"gift/body.txt":     `{{template "greeting" .}}`,
		"note/subject.txt":  "Your order",
		"note/body.html":    `{{$d := .}}{{$d.Order.Number}}`,
		"note/body.txt":     `{{template "greeting" .}}`,
		"subj/subject.txt":  "{{with .Order}}Order {{.Number}}{{end}}",
		"subj/body.html":    "<p>Hello</p>",
		"subj/body.txt":     "Hello",
		"paren/subject.txt": "Yours",
		"paren/body.html":   `{{with ($).Order}}{{.Number}}{{end}}`,
		"paren/body.txt":    `{{(.).Checkout.URL}}`,
	})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name            string
		order, checkout bool
	}{
		{"thank-you", true, false}, {"replenish", true, false}, {"abandoned-checkout", false, true},
		{"cross-sell", false, false}, {"win-back", false, false}, {"gift", false, true}, {"note", true, false}, {"paren", true, true}, {"no-such-email", false, false},
	} {
		order, checkout := r.Needs(c.name, "")
		if order != c.order || checkout != c.checkout {
			t.Errorf("Needs(%q) = order %v, checkout %v; want %v, %v", c.name, order, checkout, c.order, c.checkout)
		}
	}
	// An operator's subject replaces subject.txt, and what it alone read.
	if o, c := r.Needs("subj", ""); !o || c {
		t.Errorf(`Needs("subj", "") = %v, %v; want the order its subject.txt reads`, o, c)
	}
	if o, c := r.Needs("subj", "Hello"); o || c {
		t.Errorf(`Needs("subj", "Hello") = %v, %v; want nothing`, o, c)
	}
	// It reads what the templates it defines read, too.
	defined := `{{define "o"}}{{with .Order}}{{.Number}}{{end}}{{end}}Yours {{template "o" .}}`
	if o, c := r.Needs("subj", defined); !o || c {
		t.Errorf("Needs(%q, %q) = %v, %v; want the order", "subj", defined, o, c)
	}
}
