// Package progress reports how far a long operation (an import, a campaign
// send) has got. It has no dependencies so that any package can use it.
//
// On a terminal it redraws one line in place with a bar, percent, count, rate
// and ETA, at most about ten times a second. Anywhere else (a log file, a CI
// job, a test buffer) a carriage-return bar would turn into noise, so it
// prints a plain line at most every two seconds and one final line.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remarket/remarket/internal/tty"
)

const (
	terminalEvery = 100 * time.Millisecond // ~10 redraws per second
	plainEvery    = 2 * time.Second
	barWidth      = 24
)

// Bar reports the progress of one operation. Add and Set are safe to call from
// many goroutines. A nil *Bar, or one made with a nil writer, does nothing, so
// callers need no "if bar != nil".
type Bar struct {
	w        io.Writer
	label    string
	unit     string
	total    int64
	terminal bool
	every    time.Duration
	now      func() time.Time // a seam for tests

	n        atomic.Int64
	start    time.Time
	nextDraw atomic.Int64 // unix nanos before which Add does not redraw

	mu      sync.Mutex // serialises writes to w
	lastLen int        // width of the last terminal line, to blank leftovers
	done    bool
}

// Option changes how a Bar reports.
type Option func(*Bar)

// WithUnit names what is counted. "bytes" prints sizes as KB/MB/GB; any other
// unit (e.g. "rows") is printed after the number. The default is no unit.
func WithUnit(unit string) Option {
	return func(b *Bar) { b.unit = unit }
}

// New returns a Bar that writes to w about an operation of total units. A
// total <= 0 means unknown: the bar then shows the count and rate only. A nil
// w gives a Bar that writes nothing.
func New(w io.Writer, label string, total int64, opts ...Option) *Bar {
	b := &Bar{w: w, label: label, total: total, now: time.Now}
	for _, o := range opts {
		o(b)
	}
	b.terminal = b.terminal || isTerminal(w)
	b.every = plainEvery
	if b.terminal {
		b.every = terminalEvery
	}
	b.start = b.now()
	b.nextDraw.Store(b.start.Add(b.every).UnixNano())
	return b
}

// isTerminal reports whether w is a terminal. Only there can "\r" redraw a
// line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && tty.IsTerminal(f)
}

// Add counts n more units done.
func (b *Bar) Add(n int64) {
	if b == nil || b.w == nil {
		return
	}
	b.n.Add(n)
	b.maybeDraw()
}

// Set says that n units are done in all.
func (b *Bar) Set(n int64) {
	if b == nil || b.w == nil {
		return
	}
	b.n.Store(n)
	b.maybeDraw()
}

// Tick redraws at the current count when a redraw is due, so that an
// operation waiting for one long step still shows it is alive: a line
// without an estimate shows the time elapsed (redrawn on a terminal, a line
// every 2 s otherwise).
func (b *Bar) Tick() {
	if b == nil || b.w == nil {
		return
	}
	b.maybeDraw()
}

// TickEvery calls Tick every d while one long step runs, from a goroutine
// of its own; the returned func stops it.
func (b *Bar) TickEvery(d time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				b.Tick()
			}
		}
	}()
	return func() { close(done) }
}

// SetLabel names what is being done now, e.g. the step under way; the next
// redraw shows it.
func (b *Bar) SetLabel(label string) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.label = label
}

// Done draws the final state and ends the line. Calls after the first do
// nothing.
func (b *Bar) Done() {
	b.end(func(n int64, elapsed time.Duration) (string, string) {
		line := fmt.Sprintf("%s: done, %s in %s", b.label, b.count(n), roundDuration(elapsed))
		if elapsed >= minRateWindow { // a rate over a few milliseconds says nothing
			line += " (" + b.rate(n, elapsed) + ")"
		}
		return b.terminalLine(n, elapsed), line
	})
}

// Stop ends the line where the operation stopped short (an error, an
// interrupt), without calling it done: "import: stopped at 42% 20.1 MB/47.9
// MB after 2s". Calls after the first, or after Done, do nothing.
func (b *Bar) Stop() {
	b.end(func(n int64, elapsed time.Duration) (string, string) {
		at := b.count(n)
		if b.total > 0 {
			at = fmt.Sprintf("%d%% %s/%s", percent(n, b.total), at, b.count(b.total))
		}
		line := fmt.Sprintf("%s: stopped at %s after %s", b.label, at, roundDuration(elapsed))
		return line, line
	})
}

// end writes the last line, on a terminal or in plain output, once.
func (b *Bar) end(last func(n int64, elapsed time.Duration) (terminal, plain string)) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	term, plain := last(b.n.Load(), b.now().Sub(b.start))
	if b.terminal {
		b.writeTerminal(term + "\n")
		return
	}
	fmt.Fprintln(b.w, plain)
}

// maybeDraw redraws when the throttle interval has passed. The compare-and-swap
// elects one goroutine per interval, so concurrent Adds never queue up on the
// mutex just to draw the same frame.
func (b *Bar) maybeDraw() {
	now := b.now()
	next := b.nextDraw.Load()
	if now.UnixNano() < next || !b.nextDraw.CompareAndSwap(next, now.Add(b.every).UnixNano()) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	n, elapsed := b.n.Load(), now.Sub(b.start)
	if b.terminal {
		b.writeTerminal(b.terminalLine(n, elapsed))
		return
	}
	fmt.Fprintln(b.w, b.plainLine(n, elapsed))
}

// writeTerminal rewrites the current line, padding with spaces when the new
// text is shorter than the old so that no stale characters remain.
func (b *Bar) writeTerminal(line string) {
	text := strings.TrimSuffix(line, "\n")
	pad := ""
	if len(text) < b.lastLen {
		pad = strings.Repeat(" ", b.lastLen-len(text))
	}
	b.lastLen = len(text)
	fmt.Fprint(b.w, "\r"+text+pad+line[len(text):])
}

// terminalLine is e.g. "import [=========>      ]  42%  20.1 MB/47.9 MB  12.3 MB/s  ETA 2s".
func (b *Bar) terminalLine(n int64, elapsed time.Duration) string {
	var s strings.Builder
	s.WriteString(b.label)
	if b.total > 0 {
		s.WriteString(" [" + bar(n, b.total) + "] ")
		fmt.Fprintf(&s, "%3d%%  %s/%s", percent(n, b.total), b.count(n), b.count(b.total))
	} else {
		s.WriteString("  " + b.count(n))
	}
	s.WriteString("  " + b.rate(n, elapsed))
	if eta, ok := b.eta(n, elapsed); ok {
		s.WriteString("  ETA " + eta)
	} else {
		s.WriteString("  " + roundDuration(elapsed)) // no estimate yet: show it is alive
	}
	return s.String()
}

// plainLine is e.g. "import: 42% 20.1 MB/47.9 MB, 12.3 MB/s, ETA 2s".
func (b *Bar) plainLine(n int64, elapsed time.Duration) string {
	var s strings.Builder
	s.WriteString(b.label + ": ")
	if b.total > 0 {
		fmt.Fprintf(&s, "%d%% %s/%s", percent(n, b.total), b.count(n), b.count(b.total))
	} else {
		s.WriteString(b.count(n))
	}
	s.WriteString(", " + b.rate(n, elapsed))
	if eta, ok := b.eta(n, elapsed); ok {
		s.WriteString(", ETA " + eta)
	} else {
		s.WriteString(", " + roundDuration(elapsed))
	}
	return s.String()
}

func bar(n, total int64) string {
	filled := int(min(max(n, 0), total) * barWidth / total)
	if filled >= barWidth {
		return strings.Repeat("=", barWidth)
	}
	return strings.Repeat("=", filled) + ">" + strings.Repeat(" ", barWidth-filled-1)
}

func percent(n, total int64) int64 {
	return min(max(n, 0), total) * 100 / total
}

// count formats n in the bar's unit.
func (b *Bar) count(n int64) string {
	switch b.unit {
	case "bytes":
		return formatBytes(n)
	case "":
		return groupThousands(n)
	default:
		return groupThousands(n) + " " + b.unit
	}
}

// rate is units per second over the whole run; a whole-run average is steadier
// to read than an instantaneous rate and good enough for an ETA.
func (b *Bar) rate(n int64, elapsed time.Duration) string {
	r := perSecond(n, elapsed)
	switch {
	case b.unit == "bytes":
		return formatBytes(int64(r)) + "/s"
	case r < 10: // slow, coarse units such as steps
		return fmt.Sprintf("%.1f/s", r)
	default:
		return groupThousands(int64(r)) + "/s"
	}
}

func (b *Bar) eta(n int64, elapsed time.Duration) (string, bool) {
	r := perSecond(n, elapsed)
	if b.total <= 0 || r <= 0 || n >= b.total {
		return "", false
	}
	left := time.Duration(float64(b.total-n) / r * float64(time.Second))
	return roundDuration(left), true
}

// minRateWindow is the least time over which a rate means anything.
const minRateWindow = 50 * time.Millisecond

func perSecond(n int64, elapsed time.Duration) float64 {
	if elapsed < minRateWindow { // too short to say anything but noise
		return 0
	}
	return float64(n) / elapsed.Seconds()
}

// roundDuration keeps durations short: 1.2s, 3m4s.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, suffix := float64(n), []string{"kB", "MB", "GB", "TB", "PB"}
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, suffix[i])
}

// groupThousands writes 1234567 as 1,234,567.
func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(c)
	}
	if neg {
		return "-" + out.String()
	}
	return out.String()
}
