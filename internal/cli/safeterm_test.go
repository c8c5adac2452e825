package cli

import (
	"bytes"
	"testing"
)

func TestSafeTerminal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ana\tLee\n":              "Ana\tLee\n",
		"Zoë Müller":              "Zoë Müller",
		"Ben\r\nBcc: x":           "Ben\r\nBcc: x", // a CRLF line end hides nothing
		"paid\rrefunded":          "paid\uFFFDrefunded",
		"\x1b[2J\x1b]0;pwned\x07": "\uFFFD[2J\uFFFD]0;pwned\uFFFD",
		"c1 \u009b31m":            "c1 \uFFFD31m",
	} {
		var b bytes.Buffer
		n, err := safeTerminal{&b}.Write([]byte(in))
		if err != nil || n != len(in) || b.String() != want {
			t.Errorf("Write(%q) = %d, %v, wrote %q; want %q", in, n, err, b.String(), want)
		}
	}
}

func TestOneLineSafe(t *testing.T) {
	t.Parallel()
	if got := oneLineSafe("no stats for \x1b[2JTEA\r\nBcc: x\tok"); got != "no stats for \uFFFD[2JTEA\uFFFD\uFFFDBcc: x\tok" {
		t.Errorf("oneLineSafe = %q", got)
	}
}
