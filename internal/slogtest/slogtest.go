// Package slogtest gives tests a *slog.Logger that writes through t.Log, so
// a passing test stays quiet and a failing one shows its logs.
package slogtest

import (
	"log/slog"
	"strings"
	"testing"
)

// New returns a logger writing to t at debug level.
func New(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
