package render

// The escapers html/template inserts into every action of an HTML template,
// for the compiled programs of fast.go: html/template keeps its own
// unexported, so these are copies of Go's (src/html/template/content.go,
// html.go and url.go, BSD licence), limited to the contexts an email's HTML
// uses. TestFastMatchesTemplate and FuzzFastMatchesTemplate compare every
// program's output with html/template's byte for byte.

import (
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"strings"
	"unicode/utf8"
)

// escaper is an html/template escaper over the values of a call; ok is
// false where the copy does not cover the case (then the message is
// rendered by html/template instead).
type escaper func(args []reflect.Value) (s string, ok bool)

// escapers are the html/template escapers fast.go can call, by the names
// html/template gives them in escaped templates.
var escapers = map[string]escaper{
	"_html_template_htmlescaper": func(a []reflect.Value) (string, bool) {
		s, t := stringify(a)
		if t == contentHTML {
			return s, true
		}
		return htmlReplacer(s, htmlReplacementTable), true
	},
	"_html_template_attrescaper": func(a []reflect.Value) (string, bool) {
		s, t := stringify(a)
		if t == contentHTML {
			return "", false // html/template strips the tags first
		}
		return htmlReplacer(s, htmlReplacementTable), true
	},
	"_html_template_rcdataescaper": func(a []reflect.Value) (string, bool) {
		s, t := stringify(a)
		if t == contentHTML {
			return htmlReplacer(s, htmlNormReplacementTable), true
		}
		return htmlReplacer(s, htmlReplacementTable), true
	},
	"_html_template_commentescaper": func([]reflect.Value) (string, bool) { return "", true },
	"_html_template_urlfilter": func(a []reflect.Value) (string, bool) {
		s, t := stringify(a)
		if t != contentURL && !isSafeURL(s) {
			return "#ZgotmplZ", true
		}
		return s, true
	},
	"_html_template_urlnormalizer": func(a []reflect.Value) (string, bool) { return urlProcessor(true, a), true },
	"_html_template_urlescaper":    func(a []reflect.Value) (string, bool) { return urlProcessor(false, a), true },
}

// contentType is what stringify found: a plain value or one of
// html/template's typed strings.
type contentType int

const (
	contentPlain contentType = iota
	contentHTML
	contentURL
	contentOther // CSS, HTMLAttr, JS, JSStr, Srcset: none of the escapers above treat them specially
)

var (
	stringType = reflect.TypeFor[string]()
	htmlType   = reflect.TypeFor[htmltemplate.HTML]()
	urlType    = reflect.TypeFor[htmltemplate.URL]()
	otherTypes = map[reflect.Type]bool{
		reflect.TypeFor[htmltemplate.CSS](): true, reflect.TypeFor[htmltemplate.HTMLAttr](): true,
		reflect.TypeFor[htmltemplate.JS](): true, reflect.TypeFor[htmltemplate.JSStr](): true,
		reflect.TypeFor[htmltemplate.Srcset](): true,
	}
	stringerType = reflect.TypeFor[fmt.Stringer]()
	errorType    = reflect.TypeFor[error]()
)

// stringify is html/template's: one string (or typed string) as it is,
// anything else printed with fmt.Sprint after following pointers.
func stringify(args []reflect.Value) (string, contentType) {
	if len(args) == 1 && args[0].IsValid() {
		v := args[0]
		for v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		switch t := v.Type(); {
		case t == stringType:
			return v.String(), contentPlain
		case t == htmlType:
			return v.String(), contentHTML
		case t == urlType:
			return v.String(), contentURL
		case otherTypes[t]:
			return v.String(), contentOther
		}
	}
	var vals []any
	for _, a := range args {
		if !a.IsValid() || (a.Kind() == reflect.Interface && a.IsNil()) {
			continue // html/template skips untyped nils
		}
		for !a.Type().Implements(stringerType) && !a.Type().Implements(errorType) && a.Kind() == reflect.Pointer && !a.IsNil() {
			a = a.Elem()
		}
		vals = append(vals, a.Interface())
	}
	return fmt.Sprint(vals...), contentPlain
}

var htmlReplacementTable = []string{
	0:    "\uFFFD",
	'"':  "&#34;",
	'&':  "&amp;",
	'\'': "&#39;",
	'+':  "&#43;",
	'<':  "&lt;",
	'>':  "&gt;",
}

var htmlNormReplacementTable = []string{
	0:    "\uFFFD",
	'"':  "&#34;",
	'\'': "&#39;",
	'+':  "&#43;",
	'<':  "&lt;",
	'>':  "&gt;",
}

// htmlReplacer is html/template's with its badRunes flag always true (the
// only way the escapers copied here call it), for the tables above.
func htmlReplacer(s string, table []string) string {
	written, b := 0, new(strings.Builder)
	for i, w := 0, 0; i < len(s); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(s[i:])
		if int(r) < len(table) {
			if repl := table[r]; repl != "" {
				if written == 0 {
					b.Grow(len(s))
				}
				b.WriteString(s[written:i])
				b.WriteString(repl)
				written = i + w
			}
		}
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

// isSafeURL is true for a relative URL or one of http, https or mailto.
func isSafeURL(s string) bool {
	if protocol, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(protocol, "/") {
		if !strings.EqualFold(protocol, "http") && !strings.EqualFold(protocol, "https") && !strings.EqualFold(protocol, "mailto") {
			return false
		}
	}
	return true
}

// urlProcessor normalizes (norm) or escapes a URL or a part of one.
func urlProcessor(norm bool, args []reflect.Value) string {
	s, t := stringify(args)
	if t == contentURL {
		norm = true
	}
	var b strings.Builder
	if processURLOnto(s, norm, &b) {
		return b.String()
	}
	return s
}

func processURLOnto(s string, norm bool, b *strings.Builder) bool {
	b.Grow(len(s) + 16)
	written := 0
	for i, n := 0, len(s); i < n; i++ {
		c := s[i]
		switch c {
		case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']':
			if norm {
				continue
			}
		case '-', '.', '_', '~':
			continue
		case '%':
			if norm && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				continue
			}
		default:
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				continue
			}
		}
		b.WriteString(s[written:i])
		fmt.Fprintf(b, "%%%02x", c)
		written = i + 1
	}
	b.WriteString(s[written:])
	return written != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
