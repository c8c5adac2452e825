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
	return OneLine(b.String()), nil
}

// CheckSubject renders text with the sample data of email name, so that a
// subject naming a field that does not exist fails when the campaign is
// created, not while it sends.
func (r *Renderer) CheckSubject(name, text string) error {
	_, err := r.Subject(text, SampleData(name))
	return err
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxSubjects {
		s.m = map[subjectKey]*texttemplate.Template{}
	}
	s.m[k] = t
	return t, nil
}
