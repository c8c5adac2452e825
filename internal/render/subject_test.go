package render

import (
	"strings"
	"testing"
)

func TestOperatorSubject(t *testing.T) {
	t.Parallel()
	r := loadEmbedded(t)
	d := SampleData("cross-sell")
	got, err := r.Subject("{{.Customer.FirstName}}, new from {{.Store.Name}}\n  today", d)
	if err != nil || got != "Amelia, new from Fellside Outfitters today" {
		t.Errorf("Subject = %q, %v", got, err)
	}
	d.Customer.FirstName = ""
	if got, _ := r.Subject("{{with .Customer.FirstName}}{{.}}, {{end}}hello", d); got != "hello" {
		t.Errorf("Subject without a first name = %q", got)
	}
	if got, _ := r.Subject("Plain text & <b>", d); got != "Plain text & <b>" {
		t.Errorf("a plain subject changed: %q", got)
	}
	for text, want := range map[string]string{
		"{{.Customer.Nickname}}":                                    "Nickname",
		"{{.Customer.FirstName":                                     "unclosed action",
		"Your order {{.Order.Number}}":                              "a customer may have no order",
		`{{define "o"}}{{template "o" .}}{{end}}{{template "o" .}}`: "calls itself",
	} {
		if err := r.CheckSubject("cross-sell", text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSubject(%q) = %v, want an error naming %q", text, err, want)
		}
	}
	// Whichever email it is, what {{with}} guards is checked too.
	for _, text := range []string{"{{with .Order}}{{.Numbr}}{{end}}", "{{with .Checkout}}{{.Nope}}{{end}}"} {
		if err := r.CheckSubject("win-back", text); err == nil {
			t.Errorf("CheckSubject(win-back, %q) passed", text)
		}
	}
	if err := r.CheckSubject("thank-you", "{{with .Order}}Order {{.Number}}: {{end}}thanks"); err != nil {
		t.Errorf("a subject reading the order inside with: %v", err)
	}
	for text, want := range map[string][2]bool{
		"{{with .Order}}{{.Number}}{{end}}": {true, false}, "{{$.Checkout}}": {false, true}, "hello": {false, false},
	} {
		if o, c := r.Needs("cross-sell", text); o != want[0] || c != want[1] {
			t.Errorf("Needs(cross-sell, %q) = %v, %v; want %v", text, o, c, want)
		}
	}
}
