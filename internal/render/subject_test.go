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
		"{{.Customer.Nickname}}": "Nickname",
		"{{.Customer.FirstName":  "unclosed action",
	} {
		if err := r.CheckSubject("cross-sell", text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSubject(%q) = %v, want an error naming %q", text, err, want)
		}
	}
}
