//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package tty

// isTerminal is false where the request is not known: the commands then
// behave as without a terminal (no prompts, plain progress lines).
func isTerminal(uintptr) bool { return false }
