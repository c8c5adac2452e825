package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is advanced by hand so that throttling is tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(c *fakeClock) Option { return func(b *Bar) { b.now = c.now } }

func asTerminal() Option { return func(b *Bar) { b.terminal = true } }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func TestPlainThrottlesToTwoSecondsAndEndsWithFinalLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := newClock()
	b := New(&buf, "import", 1000, WithUnit("rows"), withClock(clock))

	for i := 0; i < 10; i++ { // 1 s of work: too soon for a line
		clock.advance(100 * time.Millisecond)
		b.Add(10)
	}
	if buf.Len() != 0 {
		t.Fatalf("printed before 2 s had passed: %q", buf.String())
	}
	clock.advance(time.Second)
	b.Add(90) // 2 s, 190 rows
	b.Add(10) // same instant: throttled
	clock.advance(time.Second)
	b.Add(100) // 3 s: still within 2 s of the last line
	clock.advance(time.Second)
	b.Set(1000) // 4 s
	b.Done()
	b.Done() // second Done prints nothing

	want := "import: 19% 190 rows/1,000 rows, 95/s, ETA 8.5s\n" +
		"import: 100% 1,000 rows/1,000 rows, 250/s, 4s\n" +
		"import: done, 1,000 rows in 4s (250/s)\n"
	if got := buf.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Fatal("plain output must not contain carriage returns")
	}
}

func TestTerminalRedrawsInPlace(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := newClock()
	b := New(&buf, "import", 48_000_000, WithUnit("bytes"), withClock(clock), asTerminal())

	clock.advance(50 * time.Millisecond)
	b.Add(1_000_000) // within 100 ms of the start: no frame
	clock.advance(950 * time.Millisecond)
	b.Add(11_000_000) // 1 s, 12 MB
	clock.advance(time.Second)
	b.Set(48_000_000)
	b.Done()

	frames := strings.Split(buf.String(), "\r")[1:]
	if len(frames) != 3 {
		t.Fatalf("want 3 frames, got %d: %q", len(frames), buf.String())
	}
	first := "import [======>                 ]  25%  12.0 MB/48.0 MB  12.0 MB/s  ETA 3s"
	if frames[0] != first {
		t.Fatalf("frame 1 = %q\nwant      %q", frames[0], first)
	}
	if !strings.HasPrefix(frames[1], "import [========================] 100%  48.0 MB/48.0 MB  24.0 MB/s") {
		t.Fatalf("frame 2 = %q", frames[1])
	}
	if !strings.HasSuffix(frames[2], "\n") {
		t.Fatalf("Done must end the line: %q", frames[2])
	}
}

func TestTerminalBlanksLeftoversOfLongerLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := newClock()
	b := New(&buf, "send", 0, withClock(clock), asTerminal())
	clock.advance(time.Second)
	b.Add(1_000_000) // a long count
	clock.advance(time.Second)
	b.Set(1) // a much shorter one
	frames := strings.Split(buf.String(), "\r")[1:]
	if len(frames) != 2 || len(frames[1]) != len(frames[0]) {
		t.Fatalf("second frame must be padded to the first's width: %q", frames)
	}
}

func TestConcurrentAddCountsEverything(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	b := New(&buf, "send", 0, WithUnit("emails"))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10_000; i++ {
				b.Add(1)
			}
		}()
	}
	wg.Wait()
	b.Done()
	if !strings.Contains(buf.String(), "done, 80,000 emails in") {
		t.Fatalf("final line = %q", buf.String())
	}
}

func TestNilWriterAndNilBarDoNothing(t *testing.T) {
	t.Parallel()
	b := New(nil, "x", 10)
	b.Add(1)
	b.Set(5)
	b.Done()
	var nb *Bar
	nb.Add(1)
	nb.Set(1)
	nb.Done()
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := groupThousands(n); got != want {
			t.Errorf("groupThousands(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{12: "12 B", 1500: "1.5 kB", 48_064_654: "48.1 MB", 3_000_000_000: "3.0 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestStopSaysWhereItStopped(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := newClock()
	b := New(&buf, "rebuilding", 2, WithUnit("steps"), withClock(clock))
	b.Set(1)
	clock.advance(3 * time.Second)
	b.Stop()
	b.Done() // after Stop: nothing
	if got, want := buf.String(), "rebuilding: stopped at 50% 1 steps/2 steps after 3s\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
}

func TestTickAndLabelShowTheStepUnderWay(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := newClock()
	b := New(&buf, "rebuilding", 2, WithUnit("steps"), withClock(clock))
	b.SetLabel("rebuilding (statistics)")
	clock.advance(time.Second)
	b.Tick() // too soon
	clock.advance(1500 * time.Millisecond)
	b.Tick()
	b.Set(1)
	b.SetLabel("rebuilding (model)")
	clock.advance(2500 * time.Millisecond)
	b.Tick()
	want := "rebuilding (statistics): 0% 0 steps/2 steps, 0.0/s, 2.5s\n" +
		"rebuilding (model): 50% 1 steps/2 steps, 0.2/s, ETA 5s\n"
	if got := buf.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
}
