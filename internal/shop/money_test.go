package shop

import "testing"

func TestParseMinor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, cur string
		want    int64
		err     bool
	}{
		{"199.00", "USD", 19900, false},
		{"3", "USD", 300, false},
		{"12.5", "GBP", 1250, false},
		{"-4.99", "EUR", -499, false},
		{"1000", "JPY", 1000, false},
		{"1.2345", "KWD", 1235, false},
		{"0.125", "USD", 13, false},
		{".5", "USD", 50, false},
		{"", "USD", 0, true},
		{"1e3", "USD", 0, true},
		{"12,50", "EUR", 0, true},
		{"99999999999999999999", "USD", 0, true},
		{"4611686018427387903.5", "USD", 0, true},
	}
	for _, c := range cases {
		got, err := ParseMinor(c.in, c.cur)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseMinor(%q, %q) = %d, %v; want %d, err %v", c.in, c.cur, got, err, c.want, c.err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Bob@Example.COM ": "bob@example.com",
		"nope":              "",
		"a@":                "",
		"a b@c.d":           "",
	} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMinor(f *testing.F) {
	for _, s := range []string{"199.00", "-3.5", "0", "1e9", "abc", "99999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseMinor(s, "USD")
		if err == nil && len(s) > 0 && s[0] != '-' && v < 0 {
			t.Fatalf("ParseMinor(%q) = %d: a positive amount came out negative", s, v)
		}
	})
}
