// Package tty says whether a file is a terminal. A character device is not
// enough: /dev/null is one too, and a command run from cron, systemd or
// "ssh -n" has it as standard input.
package tty

import (
	"os"

	"github.com/mattn/go-isatty"
)

// IsTerminal reports whether f is a terminal: it answers the terminal
// attributes request (isatty(3), through go-isatty, which the binary links
// already).
func IsTerminal(f *os.File) bool {
	return f != nil && isatty.IsTerminal(f.Fd())
}
