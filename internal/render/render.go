// Package render turns an email template and the data of one message into a
// subject, an HTML body and a plain-text body.
//
// The templates live in the repository's templates/ folder and are embedded
// in the binary (see package templates for the layout). Load reads them once:
// it copies the rules of style.css into style attributes of every HTML file
// (the inlining Gmail and Outlook need), then parses the result with
// html/template, so sending a message costs a template execution and no CSS
// work. HTML values are escaped by html/template; subjects and text bodies use
// text/template. Once html/template has escaped an email, its templates are
// compiled into Go closures that write the same bytes about four times faster
// (fast.go); whatever they do not cover runs as before.
//
// Load(dir) may take a folder that overrides the embedded files one by one:
// a file present in the folder replaces the embedded file with the same path
// and every other file comes from the binary, so a designer can change only
// footer.html or add a new email folder. Template errors name the file (the
// folder's path, or templates/... for an embedded file), the line and the
// field.
//
// render never imports the database layers: callers fill Data.
package render

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	texttemplate "text/template"
	"text/template/parse"
)

// Money is an amount in minor units of a currency (pence for GBP, yen for
// JPY), formatted in templates as {{money .Price}} with the store's locale.
type Money struct {
	Minor    int64
	Currency string // ISO 4217, e.g. "GBP"
}

// Product is a recommended product with the reason it was picked.
type Product struct {
	Title    string
	URL      string
	ImageURL string
	Price    Money
	Reason   string // e.g. "Goes with your Trail Runner 2"; may be empty
}

// Line is one line of an order or a checkout. Price is the unit price.
type Line struct {
	Title    string
	Quantity int
	Price    Money
	ImageURL string
	URL      string
}

// Total returns the line's price times its quantity.
func (l Line) Total() Money {
	return Money{Minor: l.Price.Minor * int64(l.Quantity), Currency: l.Price.Currency}
}

// Customer is the recipient.
type Customer struct {
	FirstName string // empty: the templates greet without a name
	Email     string
}

// Store is the shop the email comes from.
type Store struct {
	Name    string
	URL     string
	Address string // postal address, shown in the footer; lines separated by "\n"
	Locale  string // BCP 47, e.g. "en-GB"; decides how money is written
	LogoURL string // optional; the store's name is shown without it
}

// Order is the order that triggered the email (thank-you, replenish).
type Order struct {
	Number string
	Lines  []Line
	Total  Money
	More   int // lines not listed: a long order shows its first lines
}

// Checkout is an abandoned checkout.
type Checkout struct {
	URL   string // where the customer completes it
	Lines []Line
	Total Money
	More  int // lines not listed
}

// Links are the URLs every email may need.
type Links struct {
	Unsubscribe string // one-click unsubscribe; every email shows it
	Preferences string // optional
	Shop        string // defaults to Store.URL
}

// Data is everything one message shows.
type Data struct {
	Customer  Customer
	Store     Store
	Products  []Product // recommendations, with reasons
	Order     *Order    // the triggering order, if any
	Checkout  *Checkout // abandoned-checkout
	Links     Links
	Preheader string // preview text; empty uses the template's own
}

// Message is a rendered email.
type Message struct {
	Subject string // one line: never contains CR or LF
	HTML    string
	Text    string
}

// Renderer renders the templates Load read. It is safe for concurrent use.
type Renderer struct {
	source string            // "embedded" or the override folder
	names  []string          // sorted
	protos map[string]*email // never executed: cloned per locale

	mu     sync.RWMutex
	byLang map[langKey]*email

	subjects subjects // operators' subject lines, parsed
}

type langKey struct{ name, lang string }

// email is the three templates of one email: subject, HTML and text.
type email struct {
	subject *texttemplate.Template
	html    *htmltemplate.Template
	text    *texttemplate.Template

	bodyNeeds, subjectNeeds needs // see Needs; set by Load on the prototypes

	// The templates compiled into programs (fast.go), once html/template
	// has escaped them; nil until then, or where a template does not compile.
	funcs, htmlFuncs, textFuncs map[string]any
	htmlParts                   *partCache
	compileOnce                 sync.Once
	fastSubject, fastHTML       atomic.Pointer[program]
	fastText                    atomic.Pointer[program]

	htmlSize atomic.Int64 // of the last message: what to allocate for the next
	textSize atomic.Int64 // of the last text body before tidyText, likewise
}

// Names returns the names of the emails, sorted, e.g. "cross-sell".
func (r *Renderer) Names() []string { return append([]string(nil), r.names...) }

// Source returns "embedded" or the folder that overrides embedded files.
func (r *Renderer) Source() string { return r.source }

// ErrUnknownTemplate is returned by Render for a name Names does not list.
var ErrUnknownTemplate = errors.New("unknown template")

// Render renders the email name with d. Money is written for
// d.Store.Locale (English when it is empty or not a BCP 47 tag). The subject
// has any CR, LF or other line break replaced by a space; the text body has
// no trailing blanks and no runs of empty lines. It returns an error
// naming the template file, line and field when a template fails, and wraps
// ErrUnknownTemplate for an unknown name.
func (r *Renderer) Render(name string, d Data) (Message, error) {
	return r.RenderWithSubject(name, d, "")
}

// RenderWithSubject is Render with an operator's subject line (see Subject)
// in place of the email's subject.txt, which then does not run; "" keeps
// the email's own.
func (r *Renderer) RenderWithSubject(name string, d Data, subject string) (Message, error) {
	e, err := r.compiled(name, d.Store.Locale)
	if err != nil {
		return Message{}, err
	}
	st := e.subject
	if subject != "" {
		if st, err = r.subjects.get(subject, d.Store.Locale); err != nil {
			return Message{}, err
		}
	}
	d = normalize(d)
	var data any = d // boxed once for the three templates, not once each
	fastSubject := e.fastSubject.Load()
	if st != e.subject {
		fastSubject = nil // an operator's subject runs as it is
	}
	s, err := run(st, fastSubject, data, subjectSize)
	if err != nil {
		return Message{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	m := Message{Subject: oneLine(s)}
	// growing a builder step by step copies the message several times
	if m.HTML, err = run(e.html, e.fastHTML.Load(), data, int(e.htmlSize.Load())+512); err != nil {
		return Message{}, fmt.Errorf("render %s HTML: %w", name, err)
	}
	e.htmlSize.Store(int64(len(m.HTML)))
	// html/template escapes the templates when it first runs them: the
	// programs are compiled from what it escaped.
	e.compileOnce.Do(func() { e.compile(reflect.TypeOf(data)) })
	s, err = run(e.text, e.fastText.Load(), data, int(e.textSize.Load())+256)
	if err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", name, err)
	}
	e.textSize.Store(int64(len(s)))
	m.Text = tidyText(s)
	return m, nil
}

// run executes a template with data: its program when it has one that
// covers the data, else the template itself.
func run(t interface{ Execute(io.Writer, any) error }, p *program, data any, size int) (string, error) {
	var b strings.Builder
	b.Grow(size)
	if p.execute(&b, data) {
		return b.String(), nil
	}
	b = strings.Builder{}
	b.Grow(size)
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// compile compiles e's templates into programs for data of type t.
func (e *email) compile(t reflect.Type) {
	e.fastSubject.Store(compileProgram(e.subject.Tree, t, textLookup(e.subject), e.funcs, false))
	e.fastText.Store(compileProgram(e.text.Tree, t, textLookup(e.text), e.textFuncs, false))
	e.htmlParts.executing.Lock() // no template is escaped while the trees are read
	defer e.htmlParts.executing.Unlock()
	e.fastHTML.Store(compileProgram(e.html.Tree, t, htmlLookup(e.html), e.htmlFuncs, true))
}

// htmlLookup and textLookup find a template's parse tree in a set by name
// (nil when the set has none).
func htmlLookup(set *htmltemplate.Template) func(string) *parse.Tree {
	return func(name string) *parse.Tree {
		if x := set.Lookup(name); x != nil {
			return x.Tree
		}
		return nil
	}
}

func textLookup(set *texttemplate.Template) func(string) *parse.Tree {
	return func(name string) *parse.Tree {
		if x := set.Lookup(name); x != nil {
			return x.Tree
		}
		return nil
	}
}

// subjectSize is room for a subject before the template runs.
const subjectSize = 128

// tidyText trims blanks at the ends of lines and keeps at most one empty
// line in a row, so text templates can be laid out for reading.
func tidyText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	gap := false // an empty line is pending: written only before a line that follows it
	for l := range strings.Lines(s) {
		l = strings.TrimRight(l, " \t\r\n")
		if l == "" {
			gap = b.Len() > 0 // drops empty lines at the start
			continue
		}
		if gap {
			b.WriteByte('\n')
			gap = false
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "\n"
	}
	return b.String()
}

// compiled returns the templates of name with the money formatting of locale,
// cloning them from the prototypes the first time a locale is seen.
func (r *Renderer) compiled(name, locale string) (*email, error) {
	k := langKey{name, locale} // parsed only on a miss: this runs per message
	r.mu.RLock()
	e := r.byLang[k]
	r.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	p := r.protos[name]
	if p == nil {
		return nil, fmt.Errorf("render %q: %w (have %s)", name, ErrUnknownTemplate, strings.Join(r.names, ", "))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.byLang[k]; e != nil {
		return e, nil
	}
	fm := funcs(newMoneyFormatter(parseLocale(locale)))
	subject, err := p.subject.Clone()
	if err != nil {
		return nil, fmt.Errorf("render %s: clone subject: %w", name, err)
	}
	html, err := p.html.Clone()
	if err != nil {
		return nil, fmt.Errorf("render %s: clone HTML: %w", name, err)
	}
	text, err := p.text.Clone()
	if err != nil {
		return nil, fmt.Errorf("render %s: clone text: %w", name, err)
	}
	hfm, tfm := maps.Clone(fm), maps.Clone(fm)
	htmlParts := newPartCache(html)
	maps.Copy(hfm, htmlParts.htmlFuncs())
	maps.Copy(tfm, newPartCache(text).textFuncs())
	e = &email{subject: subject.Funcs(fm), html: html.Funcs(htmltemplate.FuncMap(hfm)), text: text.Funcs(tfm),
		funcs: fm, htmlFuncs: hfm, textFuncs: tfm, htmlParts: htmlParts}
	r.byLang[k] = e
	return e, nil
}

// normalize copies d with the defaults the templates rely on: a first name
// without line breaks or surrounding blanks, and Links.Shop.
func normalize(d Data) Data {
	if !isOneLine(d.Customer.FirstName) {
		d.Customer.FirstName = strings.Join(strings.Fields(d.Customer.FirstName), " ")
	}
	if d.Links.Shop == "" {
		d.Links.Shop = d.Store.URL
	}
	return d
}

// oneLine replaces line breaks and other control characters with spaces,
// collapses runs of blanks and trims, so a subject cannot inject headers.
func oneLine(s string) string {
	if t := strings.TrimFunc(s, isASCIIBreak); isOneLine(t) {
		return t // what FieldsFunc and Join would build, without the copies
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f' ||
			r == 0x85 || r == 0x2028 || r == 0x2029 || (r < 0x20) || r == 0x7f
	}), " ")
}

// isASCIIBreak reports whether r is one of the ASCII characters oneLine
// turns into a space.
func isASCIIBreak(r rune) bool { return r <= ' ' || r == 0x7f }

// isOneLine reports whether s is ASCII without control characters, blanks
// at its ends or runs of spaces: what both oneLine and the Fields-and-Join
// of normalize return unchanged, so the common case copies nothing.
func isOneLine(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f:
			return false
		case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			return false
		}
	}
	return true
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
