package render

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Problem is one thing wrong with a template, found by Load or Check.
type Problem struct {
	Template string `json:"template,omitempty"` // the email, e.g. "cross-sell"; empty for shared files
	Case     string `json:"case,omitempty"`     // the data Check rendered with, e.g. "no first name"
	File     string `json:"file,omitempty"`     // e.g. templates/cross-sell/body.html
	Line     int    `json:"line,omitempty"`
	Field    string `json:"field,omitempty"` // the field or action at fault, e.g. ".Customer.FirstNam"
	Message  string `json:"message"`
}

// Error returns "file:line: field: message (email, case)", leaving out what
// is unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	switch {
	case p.Template != "" && p.Case != "":
		fmt.Fprintf(&b, " (%s, %s)", p.Template, p.Case)
	case p.Template != "":
		fmt.Fprintf(&b, " (%s)", p.Template)
	}
	return b.String()
}

// templateErr matches the location text/template and html/template put in
// their errors: "template: FILE:LINE[:COL]: ..." or "html/template:FILE:LINE[:COL]: ...".
var (
	templateErr = regexp.MustCompile(`(?s)(?:html/)?template: ?(.+?):(\d+):(?:\d+:)? (.*)$`)
	executingAt = regexp.MustCompile(`(?s)^executing "[^"]*" at <(.*?)>: (.*)$`)
	quotedName  = regexp.MustCompile(`(?:function|template|field) "?([^" ]+)"? (?:not defined|no such)`)
)

// problemFrom turns an error of Load or Render into a Problem with the
// file, line and field it names. f is the file being loaded, if known.
func problemFrom(err error, f *file) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	p = &Problem{Message: err.Error()}
	if f != nil {
		p.File = f.path
	}
	var ie *inlineError
	if errors.As(err, &ie) {
		p.Line, p.Message = ie.Line, "inline CSS: "+ie.Msg
		return p
	}
	msg := err.Error()
	var ee texttemplate.ExecError
	if errors.As(err, &ee) {
		msg = ee.Err.Error()
	}
	var he *htmltemplate.Error
	if errors.As(err, &he) {
		msg = he.Error()
		if he.Node != nil {
			p.Field = he.Node.String()
		}
	}
	m := innermost(msg)
	if m == nil {
		return p
	}
	p.File, p.Message = m[1], m[3]
	p.Line, _ = strconv.Atoi(m[2])
	if at := executingAt.FindStringSubmatch(p.Message); at != nil {
		p.Field, p.Message = at[1], at[2]
	} else if q := quotedName.FindStringSubmatch(p.Message); q != nil && p.Field == "" {
		p.Field = q[1]
	}
	return p
}

// innermost matches templateErr at its last place in msg: a part rendered
// through a function (storePart, card) fails inside the call, and the
// innermost template error is where the author's mistake is.
func innermost(msg string) []string {
	for j := strings.LastIndex(msg, "template:"); j >= 0; j = strings.LastIndex(msg[:j], "template:") {
		if m := templateErr.FindStringSubmatch(msg[j:]); m != nil {
			return m
		}
	}
	return nil
}

// Check renders every email with its SampleData and with edge cases (no
// first name, no products, no logo or preferences link, no order or
// checkout, lines left out or without image or link, six products, long
// titles, hostile strings) and
// returns every problem found, as *Problem: errors with their file, line and
// field; HTML with a <script>, an event handler or a javascript: link (an
// escape that failed); images without alt text or width; no unsubscribe link
// or postal address in the HTML or the text; a subject that is empty, too
// long or not one line; "<no value>" in the output. It returns nil when all
// is well. Each problem is reported once, for the first case that shows it.
func (r *Renderer) Check() []error {
	var problems []error
	seen := map[string]bool{}
	report := func(p *Problem) {
		key := p.Template + "\x00" + p.File + "\x00" + strconv.Itoa(p.Line) + "\x00" + p.Field + "\x00" + p.Message
		if !seen[key] {
			seen[key] = true
			problems = append(problems, p)
		}
	}
	for _, name := range r.names {
		for _, c := range checkCases {
			d := SampleData(name)
			c.edit(&d)
			m, err := r.Render(name, d)
			if err != nil {
				p := problemFrom(err, nil)
				p.Template, p.Case = name, c.name
				report(p)
				continue
			}
			for _, p := range inspect(m, d) {
				p.Template, p.Case = name, c.name
				report(p)
			}
		}
	}
	return problems
}

// checkCases are the data Check renders each email with.
var checkCases = []struct {
	name string
	edit func(*Data)
}{
	{"sample", func(*Data) {}},
	{"no first name", func(d *Data) { d.Customer.FirstName = "" }},
	{"no products", func(d *Data) { d.Products = nil }},
	// The branches sample data never takes: a campaign's customer may have
	// no paid order or open checkout, a store no logo.
	{"no logo or preferences link", func(d *Data) { d.Store.LogoURL, d.Links.Preferences = "", "" }},
	{"no order or checkout", func(d *Data) { d.Order, d.Checkout = nil, nil }},
	{"lines left out, without image or link", func(d *Data) {
		for _, b := range []*int{orderMore(d), checkoutMore(d)} {
			if b != nil {
				*b = 3
			}
		}
		for _, lines := range []*[]Line{orderLines(d), checkoutLines(d)} {
			if lines != nil {
				for i := range *lines {
					(*lines)[i].ImageURL, (*lines)[i].URL = "", ""
				}
			}
		}
	}},
	{"six products", func(d *Data) {
		all := sampleProducts()
		d.Products = append(all, all...)[:6]
	}},
	{"long titles", func(d *Data) {
		long := strings.Repeat("Extra-long waterproof breathable three-layer mountain jacket ", 4)
		for i := range d.Products {
			d.Products[i].Title = long
			d.Products[i].Reason = long
		}
		for _, lines := range []*[]Line{orderLines(d), checkoutLines(d)} {
			if lines != nil {
				for i := range *lines {
					(*lines)[i].Title = long
				}
			}
		}
		d.Store.Name = "The Extraordinarily Well-Stocked Outdoor Equipment and Clothing Company of the Lake District"
	}},
	{"hostile input", func(d *Data) {
		d.Customer.FirstName = "Eve\r\nBcc: victim@example.com"
		d.Preheader = `</div><script>alert("preheader")</script>`
		hostile := []Product{
			{Title: `<script>alert(1)</script>`, URL: "javascript:alert(1)", ImageURL: "javascript:alert(2)",
				Price: Money{1250, "GBP"}, Reason: `"><img src=x onerror=alert(3)>`},
			{Title: `"><img src=x onerror=alert(4)>`, URL: `https://shop.example/p?q="><script>alert(5)</script>`,
				ImageURL: `https://shop.example/i.png" onerror="alert(6)`, Price: Money{999, "GBP"}, Reason: "Because\r\nBcc: x@example.com"},
		}
		d.Products = append(hostile, d.Products...)
		for _, lines := range []*[]Line{orderLines(d), checkoutLines(d)} {
			if lines != nil && len(*lines) > 0 {
				(*lines)[0].Title = `<script>alert(7)</script>`
				(*lines)[0].URL = "javascript:alert(8)"
			}
		}
		if d.Checkout != nil {
			d.Checkout.URL = "javascript:alert(9)"
		}
	}},
}

func orderLines(d *Data) *[]Line {
	if d.Order == nil {
		return nil
	}
	return &d.Order.Lines
}

func checkoutLines(d *Data) *[]Line {
	if d.Checkout == nil {
		return nil
	}
	return &d.Checkout.Lines
}

// maxSubject is the longest subject Check accepts; clients cut far sooner.
const maxSubject = 150

// inspect returns what is wrong with m, rendered from d.
func inspect(m Message, d Data) []*Problem {
	var ps []*Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, &Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case m.Subject == "":
		add("subject", "the subject is empty")
	case strings.ContainsAny(m.Subject, "\r\n"):
		add("subject", "the subject has a line break")
	case utf8.RuneCountInString(m.Subject) > maxSubject:
		add("subject", "the subject has %d characters; keep it under %d (see truncate)", utf8.RuneCountInString(m.Subject), maxSubject)
	}
	if strings.Contains(m.Subject, "<no value>") || strings.Contains(m.Text, "<no value>") || strings.Contains(m.HTML, "&lt;no value&gt;") {
		add("", `the output has "<no value>": a missing value`)
	}

	// The HTML, as a mail client reads it.
	var text strings.Builder
	hrefs := map[string]bool{}
	hasLang := false
	z := html.NewTokenizer(strings.NewReader(m.HTML))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt == html.TextToken {
			text.Write(z.Text())
			text.WriteByte(' ')
			continue
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		t := z.Token()
		attrs := map[string]string{}
		for _, a := range t.Attr {
			attrs[a.Key] = a.Val
			if strings.HasPrefix(a.Key, "on") {
				add(a.Key, "the HTML has an event handler attribute on <%s>: a value was not escaped", t.Data)
			}
			if a.Key == "href" || a.Key == "src" {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				for _, scheme := range []string{"javascript:", "vbscript:", "data:text"} {
					if strings.HasPrefix(v, scheme) {
						add(a.Key, "the HTML links to a %s URL", strings.TrimSuffix(scheme, ":"))
					}
				}
			}
		}
		switch t.Data {
		case "script", "iframe", "object", "embed":
			add("", "the HTML has a <%s> element: a value was not escaped", t.Data)
		case "html":
			hasLang = attrs["lang"] != ""
		case "a":
			hrefs[attrs["href"]] = true
		case "img":
			if _, ok := attrs["alt"]; !ok {
				add(attrs["src"], "an image has no alt text")
			}
			if attrs["width"] == "" {
				add(attrs["src"], "an image has no width attribute (Outlook shows it at its full size)")
			}
		}
	}
	if !hasLang {
		add("", "the <html> element has no lang attribute")
	}
	if d.Links.Unsubscribe != "" {
		if !hrefs[d.Links.Unsubscribe] {
			add(".Links.Unsubscribe", "the HTML has no unsubscribe link")
		}
		if !strings.Contains(m.Text, d.Links.Unsubscribe) {
			add(".Links.Unsubscribe", "the text has no unsubscribe link")
		}
	}
	htmlText := strings.Join(strings.Fields(text.String()), " ")
	for _, line := range splitLines(d.Store.Address) {
		line = strings.Join(strings.Fields(line), " ")
		if !strings.Contains(htmlText, line) {
			add(".Store.Address", "the HTML does not show the postal address (%q)", line)
		}
		if !strings.Contains(m.Text, line) {
			add(".Store.Address", "the text does not show the postal address (%q)", line)
		}
	}
	return ps
}

func orderMore(d *Data) *int {
	if d.Order == nil {
		return nil
	}
	return &d.Order.More
}

func checkoutMore(d *Data) *int {
	if d.Checkout == nil {
		return nil
	}
	return &d.Checkout.More
}
