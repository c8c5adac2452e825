package render

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vanng822/go-premailer/premailer"
	"golang.org/x/net/html"
)

// Inlining CSS into a template, not into a rendered message.
//
// Giving premailer the template source as it is breaks it: premailer parses
// HTML the way a browser does, and the HTML parser moves text that stands
// where a table allows no text ("foster parenting"), so a {{range}} between
// <table> and <tr> ends up before the table, and the parser rewrites the
// rest of the markup too (adds <tbody>, drops stray tags). So premailer only
// computes the styles here and never writes the template:
//
//  1. Every action {{...}} is swapped for a placeholder that the HTML
//     tokenizer reads as plain text, and each start tag gets a data-rmk="N"
//     attribute with its position among the file's start tags.
//  2. premailer inlines the stylesheet into that marked copy.
//  3. The result is parsed, and for each tag N the style, width and height
//     premailer gave it are written into tag N of the original source, which
//     is otherwise left byte for byte as it was: actions, text, whitespace and
//     line breaks stay where the author put them, so html/template sees the
//     author's structure and its errors give the author's line numbers.
//
// A start tag the parser drops (a <tr> outside any table, say) is reported as
// an error, since no style could be computed for it.

// markAttr carries a start tag's position through premailer.
const markAttr = "data-rmk"

// Placeholders are private-use runes around the action's index: plain text to
// the tokenizer and unchanged by its lower-casing of names.
const (
	phOpen  = '\ue000'
	phClose = '\ue001'
)

// inlineError is a problem inlining one file, at a line of it.
type inlineError struct {
	Line int
	Msg  string
}

func (e *inlineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// inlineCSS returns src, a template file, with the rules of css written into
// style attributes. A file with an <html> tag is a document: it must have a
// <head>, where the rules that cannot be inlined (:hover, @media) go in a
// <style> element. Any other file is a fragment of a body and gets only
// inline styles. Errors are *inlineError.
func inlineCSS(src, css string) (string, error) {
	if strings.ContainsRune(src, phOpen) || strings.ContainsRune(src, phClose) {
		return "", &inlineError{1, "the file contains U+E000 or U+E001, which the inliner reserves"}
	}
	if strings.Contains(css, "{{") || strings.Contains(strings.ToLower(css), "</style") {
		return "", &inlineError{1, "style.css contains {{ or </style"}
	}
	protected, actions, err := protectActions(src)
	if err != nil {
		return "", err
	}
	lineAt := func(offset int) int {
		return 1 + strings.Count(restoreActions(protected[:offset], actions), "\n")
	}
	toks, stop, err := tokenize(protected)
	if err != nil {
		return "", err
	}
	if stop != len(protected) {
		return "", &inlineError{lineAt(stop), "a tag or a quoted attribute is not closed"}
	}
	lineOf := func(t token) int { return lineAt(t.offset) }

	// 1. The marked copy, with the stylesheet in its head.
	document := false
	for _, t := range toks {
		if t.start() && t.name == "html" {
			document = true
			break
		}
	}
	var marked strings.Builder
	if !document {
		marked.WriteString("<!DOCTYPE html><html><head><style>" + css + "</style></head><body>")
	}
	styled := false
	for _, t := range toks {
		if !t.start() {
			marked.WriteString(t.raw)
			continue
		}
		marked.WriteString(insertAttr(t.raw, markAttr+`="`+strconv.Itoa(t.index)+`"`))
		if document && t.name == "head" && !styled {
			marked.WriteString("<style>" + css + "</style>")
			styled = true
		}
	}
	if document && !styled {
		return "", &inlineError{1, "the document has no <head> tag, where the stylesheet goes"}
	}
	if !document {
		marked.WriteString("</body></html>")
	}

	// 2. premailer inlines.
	pm, err := premailer.NewPremailerFromString(marked.String(), premailer.NewOptions())
	if err != nil {
		return "", &inlineError{1, "inline CSS: " + err.Error()}
	}
	out, err := pm.Transform()
	if err != nil {
		return "", &inlineError{1, "inline CSS: " + err.Error()}
	}

	// 3. Read back what each tag got.
	root, err := html.Parse(strings.NewReader(out))
	if err != nil {
		return "", &inlineError{1, "parse inlined HTML: " + err.Error()}
	}
	got := map[int]*html.Node{}
	var leftover string
	var walk func(n *html.Node, inHead bool)
	walk = func(n *html.Node, inHead bool) {
		if n.Type == html.ElementNode {
			if v, ok := attr(n, markAttr); ok {
				if i, err := strconv.Atoi(v); err == nil && got[i] == nil {
					got[i] = n
				}
			} else if inHead && n.Data == "style" && n.FirstChild != nil {
				leftover = n.FirstChild.Data // premailer's rules that could not be inlined
			}
			inHead = inHead || n.Data == "head"
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inHead)
		}
	}
	walk(root, false)

	var b strings.Builder
	b.Grow(len(protected) + len(protected)/2)
	skipStyle := false // inside a <style> premailer consumed
	for _, t := range toks {
		if skipStyle {
			// Keep the line count so later lines keep their numbers.
			b.WriteString(strings.Repeat("\n", strings.Count(t.raw, "\n")))
			if t.typ == html.EndTagToken && t.name == "style" {
				skipStyle = false
			}
			continue
		}
		switch {
		case t.start():
			n := got[t.index]
			if n == nil {
				if t.name == "style" {
					// premailer took the rules of this <style> into the stylesheet.
					b.WriteString(strings.Repeat("\n", strings.Count(t.raw, "\n")))
					skipStyle = t.typ == html.StartTagToken
					continue
				}
				return "", &inlineError{lineOf(t), fmt.Sprintf("<%s> cannot stand here, so the HTML parser drops it and no style can be inlined "+
					"(each HTML file must be whole: a table row belongs in a table of the same file)", t.name)}
			}
			var set [][2]string
			for _, k := range []string{"style", "width", "height"} {
				if v, ok := attr(n, k); ok {
					if old, had := t.attrs[k]; !had || old != v {
						set = append(set, [2]string{k, v})
					}
				}
			}
			b.WriteString(setAttrs(t.raw, set))
		case t.typ == html.EndTagToken && t.name == "head" && document && leftover != "":
			b.WriteString(`<style type="text/css">` + strings.Join(strings.Fields(leftover), " ") + "</style>")
			leftover = ""
			b.WriteString(t.raw)
		default:
			b.WriteString(t.raw)
		}
	}
	if leftover != "" {
		return "", &inlineError{1, "the document has no </head> tag, where the rules that cannot be inlined go"}
	}
	result := b.String()
	// Each action must come out once, in its place: not lost or repeated
	// inside an attribute premailer rewrote.
	next := 0
	for i := 0; i < len(result); {
		r, size := utf8.DecodeRuneInString(result[i:])
		if r == phOpen {
			j := strings.IndexRune(result[i:], phClose)
			n, _ := strconv.Atoi(result[i+size : i+j])
			if n != next {
				return "", &inlineError{1 + strings.Count(actions[next].before, "\n"), "an action inside a style attribute was lost while inlining; " +
					"put dynamic styles on an element that style.css does not style"}
			}
			next++
			i += j + size
			continue
		}
		i += size
	}
	if next != len(actions) {
		return "", &inlineError{1, "an action was lost while inlining CSS"}
	}
	return restoreActions(result, actions), nil
}

// token is one token of the protected source.
type token struct {
	typ    html.TokenType
	raw    string
	offset int    // in the protected source
	name   string // tags: lower-case name
	index  int    // start tags: position among the start tags
	attrs  map[string]string
}

func (t token) start() bool { return t.typ == html.StartTagToken || t.typ == html.SelfClosingTagToken }

// tokenize splits s into tokens whose raw texts add up to s, and returns
// where it stopped: len(s), or the start of a tag that does not end.
func tokenize(s string) ([]token, int, error) {
	z := html.NewTokenizer(strings.NewReader(s))
	var toks []token
	offset, starts := 0, 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if errors.Is(z.Err(), io.EOF) {
				break
			}
			return nil, 0, &inlineError{1, "read HTML: " + z.Err().Error()}
		}
		t := token{typ: tt, raw: string(z.Raw()), offset: offset} // Raw before TagName, which lower-cases in place
		offset += len(t.raw)
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken || tt == html.EndTagToken {
			name, more := z.TagName()
			t.name = string(name)
			if tt != html.EndTagToken {
				t.index = starts
				starts++
				t.attrs = map[string]string{}
				for more {
					var k, v []byte
					k, v, more = z.TagAttr()
					if _, dup := t.attrs[string(k)]; !dup {
						t.attrs[string(k)] = string(v)
					}
				}
			}
		}
		toks = append(toks, t)
	}
	return toks, offset, nil
}

// action is a template action cut out of the source.
type action struct {
	text   string // "{{...}}"
	before string // the source before it, for line numbers
}

// protectActions replaces each {{...}} in src with a placeholder.
func protectActions(src string) (string, []action, error) {
	var b strings.Builder
	var actions []action
	rest, done := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), actions, nil
		}
		n, err := actionLen(rest[i:])
		if err != nil {
			return "", nil, &inlineError{1 + strings.Count(src[:done+i], "\n"), err.Error()}
		}
		b.WriteString(rest[:i])
		b.WriteRune(phOpen)
		b.WriteString(strconv.Itoa(len(actions)))
		b.WriteRune(phClose)
		actions = append(actions, action{text: rest[i : i+n], before: src[:done+i]})
		rest = rest[i+n:]
		done += i + n
	}
}

// actionLen returns the length of the action at the start of s, which begins
// with "{{", skipping "}}" inside quoted strings, raw strings, runes and
// comments.
func actionLen(s string) (int, error) {
	i := 2
	body := strings.TrimPrefix(s[2:], "- ")
	if strings.HasPrefix(body, "/*") {
		end := strings.Index(body, "*/")
		if end < 0 {
			return 0, errors.New("unclosed comment")
		}
		i = len(s) - len(body) + end + 2
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return 0, errors.New("unclosed comment")
		}
		return i + j + 2, nil
	}
	for i < len(s) {
		switch c := s[i]; c {
		case '"', '\'':
			i++
			for i < len(s) && s[i] != c && s[i] != '\n' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) || s[i] != c {
				return 0, errors.New("unterminated quoted string in action")
			}
			i++
		case '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return 0, errors.New("unterminated raw string in action")
			}
			i += j + 2
		case '}':
			if strings.HasPrefix(s[i:], "}}") {
				return i + 2, nil
			}
			i++
		default:
			i++
		}
	}
	return 0, errors.New("unclosed action: no }}")
}

// restoreActions puts the actions back in place of their placeholders.
func restoreActions(s string, actions []action) string {
	if !strings.ContainsRune(s, phOpen) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16*len(actions))
	for {
		i := strings.IndexRune(s, phOpen)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexRune(s[i:], phClose)
		if j < 0 { // a cut-off placeholder at the end of a prefix
			b.WriteString(s[:i])
			return b.String()
		}
		n, _ := strconv.Atoi(s[i+len(string(phOpen)) : i+j])
		b.WriteString(s[:i])
		if n < len(actions) {
			b.WriteString(actions[n].text)
		}
		s = s[i+j+len(string(phClose)):]
	}
}

// attrSpan is where one attribute stands in a raw start tag.
type attrSpan struct {
	name       string // lower-case
	start, end int
}

// scanAttrs finds the attributes of a raw start tag, as the HTML tokenizer
// reads them, and the end of the tag's name.
func scanAttrs(raw string) (nameEnd int, spans []attrSpan) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	i := 1
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	nameEnd = i
	for i < len(raw) {
		for i < len(raw) && (isSpace(raw[i]) || raw[i] == '/') {
			i++
		}
		if i >= len(raw) || raw[i] == '>' {
			break
		}
		start := i
		i++ // the first character may be '='
		for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' && raw[i] != '=' {
			i++
		}
		name := strings.ToLower(raw[start:i])
		j := i
		for j < len(raw) && isSpace(raw[j]) {
			j++
		}
		if j < len(raw) && raw[j] == '=' {
			j++
			for j < len(raw) && isSpace(raw[j]) {
				j++
			}
			if j < len(raw) && (raw[j] == '"' || raw[j] == '\'') {
				q := raw[j]
				k := strings.IndexByte(raw[j+1:], q)
				if k < 0 {
					j = len(raw)
				} else {
					j += k + 2
				}
			} else {
				for j < len(raw) && !isSpace(raw[j]) && raw[j] != '>' {
					j++
				}
			}
			i = j
		}
		spans = append(spans, attrSpan{name, start, i})
	}
	return nameEnd, spans
}

// insertAttr adds attr (`k="v"`) to a raw start tag, after its name.
func insertAttr(raw, attr string) string {
	nameEnd, _ := scanAttrs(raw)
	return raw[:nameEnd] + " " + attr + raw[nameEnd:]
}

// setAttrs sets attributes of a raw start tag: it replaces the first
// attribute of each name in place and adds the missing ones after the tag's
// name. Line breaks inside a replaced attribute are kept after it.
func setAttrs(raw string, set [][2]string) string {
	if len(set) == 0 {
		return raw
	}
	nameEnd, spans := scanAttrs(raw)
	var add strings.Builder
	type edit struct {
		span attrSpan
		text string
	}
	var edits []edit
	for _, kv := range set {
		text := kv[0] + `="` + html.EscapeString(kv[1]) + `"`
		found := false
		for _, s := range spans {
			if s.name == kv[0] {
				edits = append(edits, edit{s, text + strings.Repeat("\n", strings.Count(raw[s.start:s.end], "\n"))})
				found = true
				break
			}
		}
		if !found {
			add.WriteString(" " + text)
		}
	}
	var b strings.Builder
	b.WriteString(raw[:nameEnd])
	b.WriteString(add.String())
	pos := nameEnd
	for _, s := range spans { // in source order
		for _, e := range edits {
			if e.span == s {
				b.WriteString(raw[pos:s.start])
				b.WriteString(e.text)
				pos = s.end
			}
		}
	}
	b.WriteString(raw[pos:])
	return b.String()
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}
