package render

import (
	"fmt"
	"strings"
	"sync"
	texttemplate "text/template"
)

// An operator's subject line (campaign create --subject) is a template like
// an email's subject.txt: "{{.Customer.FirstName}}, new teas for you". It
// is parsed once per text and locale and kept.

// maxSubjects bounds the kept subject templates; past it they start again.
const maxSubjects = 256

type subjectKey struct{ text, locale string }

type subjects struct {
	mu sync.RWMutex
	m  map[subjectKey]*texttemplate.Template
}

// Subject renders text, an operator's subject line, with d as the email's
// subject.txt would be: the same fields and functions, one line.
func (r *Renderer) Subject(text string, d Data) (string, error) {
	t, err := r.subjects.get(text, d.Store.Locale)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, normalize(d)); err != nil {
		return "", fmt.Errorf("subject %q: %w", text, err)
	}
	return oneLine(b.String()), nil
}

// CheckSubject renders text with the sample data of email name, once with
// an order and a checkout (so that what {{with .Order}} guards runs too,
// whichever email it is) and once with neither, as for a customer who has
// none: a subject naming a field that does not exist, or reading .Order
// outside {{with .Order}}, fails when the campaign is created, not while it
// sends.
func (r *Renderer) CheckSubject(name, text string) error {
	d := SampleData(name)
	if d.Order == nil {
		d.Order = SampleData("thank-you").Order
	}
	if d.Checkout == nil {
		d.Checkout = SampleData("abandoned-checkout").Checkout
	}
	if _, err := r.Subject(text, d); err != nil {
		return err
	}
	d.Order, d.Checkout = nil, nil
	if _, err := r.Subject(text, d); err != nil {
		return fmt.Errorf("%w (a customer may have no order or checkout: write {{with .Order}}…{{end}})", err)
	}
	return nil
}

func (s *subjects) get(text, locale string) (*texttemplate.Template, error) {
	k := subjectKey{text, locale}
	s.mu.RLock()
	t := s.m[k]
	s.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	t, err := texttemplate.New("subject").Funcs(funcs(newMoneyFormatter(parseLocale(locale)))).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("subject %q: %w", text, err)
	}
	// A subject that calls itself would run into text/template's depth
	// limit on every message, slowly, before failing.
	if p := subjectRecursion(t); p != nil {
		return nil, fmt.Errorf("subject %q: %w", text, p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxSubjects {
		s.m = map[subjectKey]*texttemplate.Template{}
	}
	s.m[k] = t
	return t, nil
}
