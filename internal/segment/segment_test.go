package segment

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"orders>=2":                                    "orders>=2",
		"bought:85123A and not viewed:22423":           "(bought:85123A and not viewed:22423)",
		"country:GB or country:IE and spent>100":       "(country:GB or (country:IE and spent>100))",
		"(country:GB or country:IE) and spent>100":     "((country:GB or country:IE) and spent>100)",
		`bought-category:"Home decor" AND orders<3`:    `(bought-category:"Home decor" and orders<3)`,
		"abandoned-checkout and last-order-before:30d": "(abandoned-checkout and last-order-before:30d)",
		"not not orders=1":                             "not not orders=1",
	}
	for in, want := range cases {
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		col  int
		want string
	}{
		{"", 1, "empty segment"},
		{"orders>=", 9, "needs a number"},
		{"orders>=x", 9, "needs a number"},
		{"orders", 7, "needs a comparison"},
		{"bought:", 8, "needs a value"},
		{"boght:123", 1, `unknown condition "boght"`},
		{"country:GB and", 15, "expected a condition"},
		{"(country:GB or orders>1", 24, "expected ) to close the ( at column 1"},
		{"country:GB country:IE", 12, `unexpected "country:IE"`},
		{"and orders>1", 1, `unexpected "and"`},
		{"last-order-before:30x", 19, "not a duration"},
		{`bought-category:"Home`, 17, "unterminated quote"},
		{"orders>1 )", 10, `unexpected ")"`},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("Parse(%q) = %v, want a SyntaxError", c.in, err)
			continue
		}
		if se.Col != c.col || !strings.Contains(se.Msg, c.want) {
			t.Errorf("Parse(%q): column %d %q; want column %d containing %q", c.in, se.Col, se.Msg, c.col, c.want)
		}
		if !strings.Contains(se.Error(), "^") {
			t.Errorf("error for %q does not point at the column: %s", c.in, se.Error())
		}
	}
}

func TestCompileNumbersPlaceholders(t *testing.T) {
	t.Parallel()
	e, err := Parse("spent>=12.5 and (bought:A or country:gb)")
	if err != nil {
		t.Fatal(err)
	}
	sql, args := Compile(e, 3, 2)
	for _, ph := range []string{"$3", "$4", "$5", "$6"} {
		if !strings.Contains(sql, ph) {
			t.Errorf("compiled SQL lacks %s: %s", ph, sql)
		}
	}
	if strings.Contains(sql, "$7") || len(args) != 4 || args[0] != float64(1250) {
		t.Errorf("args %v (want 1250 minor units first, 4 in all); sql %s", args, sql)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"orders>=2", "(a:b", `bought-category:"x y" or not viewed:1`, "not ((country:GB))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err == nil {
			Compile(e, 1, 2)
			if again, err := Parse(e.String()); err != nil || again.String() != e.String() {
				t.Fatalf("re-parse of %q (%q): %v", s, e.String(), err)
			}
		}
	})
}
