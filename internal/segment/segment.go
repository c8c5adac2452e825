// Package segment parses remarket's audience language (docs/segments.md) and
// compiles it to a SQL condition on customers. A syntax error says at which
// column it is.
//
//	bought:SKU  bought-category:NAME  viewed:SKU  abandoned-checkout
//	last-order-before:30d  orders>=2  spent>=100  country:GB
//	combined with and, or, not and parentheses
package segment

import (
	"fmt"
	"strings"
	"unicode"
)

// Expr is a parsed segment expression.
type Expr interface{ String() string }

// And, Or and Not combine expressions.
type (
	And  struct{ L, R Expr }
	Or   struct{ L, R Expr }
	Not  struct{ X Expr }
	Term struct {
		Key   string // bought, bought-category, viewed, abandoned-checkout, last-order-before, orders, spent, country
		Op    string // ":" or a comparison for orders and spent
		Value string
		Col   int // 1-based column, for errors found later
	}
)

func (e And) String() string { return "(" + e.L.String() + " and " + e.R.String() + ")" }
func (e Or) String() string  { return "(" + e.L.String() + " or " + e.R.String() + ")" }
func (e Not) String() string { return "not " + e.X.String() }
func (t Term) String() string {
	if strings.ContainsAny(t.Value, " \t()") {
		return t.Key + t.Op + `"` + t.Value + `"`
	}
	return t.Key + t.Op + t.Value
}

// SyntaxError points at the column where parsing failed.
type SyntaxError struct {
	Input string
	Col   int // 1-based
	Msg   string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("segment: column %d: %s\n  %s\n  %s^", e.Col, e.Msg, e.Input, strings.Repeat(" ", e.Col-1))
}

type token struct {
	text string
	col  int
}

// Parse reads a segment expression.
func Parse(input string) (Expr, error) {
	toks, err := lex(input)
	if err != nil {
		return nil, err
	}
	p := &parser{in: input, toks: toks}
	if len(toks) == 0 {
		return nil, p.errAt(1, "empty segment: give at least one condition, e.g. orders>=1")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		return nil, p.errAt(t.col, fmt.Sprintf("unexpected %q: expected and, or or the end", t.text))
	}
	return e, nil
}

func lex(in string) ([]token, error) {
	var toks []token
	rs := []rune(in)
	for i := 0; i < len(rs); {
		switch r := rs[i]; {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')':
			toks = append(toks, token{string(r), i + 1})
			i++
		case r == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				j++
			}
			if j == len(rs) {
				return nil, &SyntaxError{in, i + 1, "unterminated quote"}
			}
			toks = append(toks, token{string(rs[i : j+1]), i + 1})
			i = j + 1
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '(' && rs[j] != ')' {
				if rs[j] == '"' { // a quoted value after the colon: bought-category:"Home decor"
					k := j + 1
					for k < len(rs) && rs[k] != '"' {
						k++
					}
					if k == len(rs) {
						return nil, &SyntaxError{in, j + 1, "unterminated quote"}
					}
					j = k
				}
				j++
			}
			toks = append(toks, token{string(rs[i:j]), i + 1})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	in   string
	toks []token
	pos  int
}

func (p *parser) errAt(col int, msg string) error { return &SyntaxError{p.in, col, msg} }

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) endCol() int { return len([]rune(p.in)) + 1 }

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || strings.ToLower(t.text) != "or" {
			return l, nil
		}
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = Or{l, r}
	}
}

func (p *parser) and() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || strings.ToLower(t.text) != "and" {
			return l, nil
		}
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = And{l, r}
	}
}

func (p *parser) unary() (Expr, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errAt(p.endCol(), "expected a condition after this")
	}
	switch strings.ToLower(t.text) {
	case "not":
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return Not{x}, nil
	case "(":
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		c, ok := p.peek()
		if !ok || c.text != ")" {
			col := p.endCol()
			if ok {
				col = c.col
			}
			return nil, p.errAt(col, fmt.Sprintf("expected ) to close the ( at column %d", t.col))
		}
		p.pos++
		return e, nil
	case ")", "and", "or":
		return nil, p.errAt(t.col, fmt.Sprintf("unexpected %q: expected a condition", t.text))
	}
	p.pos++
	return parseTerm(p, t)
}

var termKeys = map[string]bool{"bought": true, "bought-category": true, "viewed": true, "country": true, "last-order-before": true}

func parseTerm(p *parser, t token) (Expr, error) {
	text := t.text
	if strings.EqualFold(text, "abandoned-checkout") {
		return Term{Key: "abandoned-checkout", Col: t.col}, nil
	}
	for _, key := range []string{"orders", "spent"} {
		if rest, ok := strings.CutPrefix(strings.ToLower(text), key); ok {
			for _, op := range []string{">=", "<=", "!=", ">", "<", "="} {
				if v, ok := strings.CutPrefix(rest, op); ok {
					if !isNumber(v) {
						return nil, p.errAt(t.col+len(key)+len(op), fmt.Sprintf("%s%s needs a number, got %q", key, op, v))
					}
					return Term{Key: key, Op: op, Value: v, Col: t.col}, nil
				}
			}
			if rest == "" || rest[0] == ':' {
				return nil, p.errAt(t.col+len(key), fmt.Sprintf("%s needs a comparison, e.g. %s>=2", key, key))
			}
		}
	}
	key, value, ok := strings.Cut(text, ":")
	if !ok {
		return nil, p.errAt(t.col, fmt.Sprintf("unknown condition %q (see docs/segments.md)", text))
	}
	key = strings.ToLower(key)
	if !termKeys[key] {
		return nil, p.errAt(t.col, fmt.Sprintf("unknown condition %q: use bought, bought-category, viewed, country, last-order-before, orders, spent or abandoned-checkout", key))
	}
	if q := strings.Count(value, `"`); q > 0 {
		if q != 2 || !strings.HasPrefix(value, `"`) || !strings.HasSuffix(value, `"`) {
			return nil, p.errAt(t.col+len(key)+1, fmt.Sprintf("%s: quote the whole value, e.g. %s:\"Home decor\"", key, key))
		}
		value = value[1 : len(value)-1]
	}
	if value == "" {
		return nil, p.errAt(t.col+len(key)+1, fmt.Sprintf("%s: needs a value", key))
	}
	if key == "last-order-before" {
		if _, err := parseDays(value); err != nil {
			return nil, p.errAt(t.col+len(key)+1, err.Error())
		}
	}
	return Term{Key: key, Op: ":", Value: value, Col: t.col}, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for _, r := range s {
		switch {
		case r == '.' && !dot:
			dot = true
		case r < '0' || r > '9':
			return false
		}
	}
	return true
}

// parseDays reads "30d", "12w" or "6m" (30-day months) as a number of days.
func parseDays(s string) (int, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("last-order-before: %q is not a duration like 30d, 8w or 6m", s)
	}
	n := 0
	for _, r := range s[:len(s)-1] {
		if r < '0' || r > '9' || n > 100000 {
			return 0, fmt.Errorf("last-order-before: %q is not a duration like 30d, 8w or 6m", s)
		}
		n = n*10 + int(r-'0')
	}
	switch s[len(s)-1] {
	case 'd':
		return n, nil
	case 'w':
		return n * 7, nil
	case 'm':
		return n * 30, nil
	}
	return 0, fmt.Errorf("last-order-before: %q is not a duration like 30d, 8w or 6m", s)
}
