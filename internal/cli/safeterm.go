package cli

import (
	"io"
	"strings"
	"unicode/utf8"
)

// safeTerminal writes to a terminal with the control characters a line of
// data should not carry replaced by U+FFFD: a customer name or product title
// from a webhook could otherwise hold an escape sequence that rewrites the
// operator's screen, or a carriage return that hides what came before it.
// Line feeds and tabs pass, so tables keep their layout. Output that goes to
// a file or a pipe is left exactly as it is (an .eml keeps its CRLF).
type safeTerminal struct{ w io.Writer }

func (s safeTerminal) Write(p []byte) (int, error) {
	clean := true
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		if unsafeAt(p, i, r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s.w.Write(p)
	}
	out := make([]byte, 0, len(p)+8)
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		if unsafeAt(p, i, r) {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, p[i:i+n]...)
		}
		i += n
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// unsafeAt is unsafeRune for r at p[i], except that a carriage return
// right before a line feed passes: a CRLF line end (an .eml preview) moves
// to the next line and hides nothing; a lone one could overwrite the line.
func unsafeAt(p []byte, i int, r rune) bool {
	if r == '\r' && i+1 < len(p) && p[i+1] == '\n' {
		return false
	}
	return unsafeRune(r)
}

// unsafeRune: C0 controls but line feed and tab, DEL, and C1 controls
// (U+0080–U+009F, which some terminals obey like ESC sequences).
func unsafeRune(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f)
}

// oneLineSafe replaces the control characters in s, line breaks included,
// with U+FFFD: for a message printed as one line.
func oneLineSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) || r == '\n' {
			return utf8.RuneError
		}
		return r
	}, s)
}
