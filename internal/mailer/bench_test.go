package mailer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/remarket/remarket/internal/smtpsink"
)

// benchMessage is a pre-rendered abandoned-cart email: about 16 KB of HTML
// and 4 KB of text, with some non-ASCII for quoted-printable to encode.
func benchMessage() Message {
	var h, t strings.Builder
	h.WriteString(`<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;padding:0;background:#f4f4f4">`)
	h.WriteString(`<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="font-family:Helvetica,Arial,sans-serif">`)
	t.WriteString("Hallo Zoë,\n\nIhr Warenkorb wartet noch auf Sie. Diese Artikel könnten Ihnen auch gefallen:\n\n")
	for i := 0; h.Len() < 16_000; i++ {
		fmt.Fprintf(&h, `<tr><td style="padding:12px 24px;border-bottom:1px solid #e5e5e5"><a href="https://t.gifts.example/c/%d?t=eyJjIjo0MiwiciI6N30.abcdef" style="color:#1a1a1a;text-decoration:none"><img src="https://cdn.gifts.example/p/%d.jpg" width="96" height="96" alt="Geschenkbox Nr. %d" style="display:block;border:0"></a></td><td style="padding:12px 24px">Geschenkbox „Grüße“ Nr. %d — handgemacht in Köln<br><strong>€ %d,99</strong></td></tr>`+"\n", i, i, i, i, 10+i)
		fmt.Fprintf(&t, "* Geschenkbox „Grüße“ Nr. %d — € %d,99\n  https://t.gifts.example/c/%d?t=eyJjIjo0MiwiciI6N30.abcdef\n", i, 10+i, i)
	}
	h.WriteString(`</table><p style="font-size:12px;color:#777">Abmelden: <a href="https://t.gifts.example/u/abc?t=x.y-z">hier</a></p></body></html>`)
	for t.Len() < 4_000 {
		t.WriteString("Sie erhalten diese E-Mail, weil Sie bei Gift Shop eingekauft haben.\n")
	}
	msg := sample("Zoë Ünal <zoe@example.com>")
	msg.Subject = "Ihr Warenkorb wartet — 3 Artikel für Sie reserviert"
	msg.HTML, msg.Text = h.String(), t.String()
	return msg
}

// plainMsg builds the same message with go-mail directly, as a program
// without this package would.
func plainMsg(msg Message) (*mail.Msg, error) {
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := m.From(msg.From); err != nil {
		return nil, err
	}
	if err := m.To(msg.To); err != nil {
		return nil, err
	}
	m.Subject(msg.Subject)
	m.SetMessageIDWithValue(strings.Trim(msg.MessageID, "<>"))
	m.SetDate()
	if err := m.SetListUnsubscribeOneClick(msg.ListUnsubscribeURL, msg.ListUnsubscribeMailto); err != nil {
		return nil, err
	}
	m.SetGenHeaderPreformatted("List-Id", msg.ListID)
	for k, v := range msg.Headers {
		m.SetGenHeader(mail.Header(k), v)
	}
	m.SetBodyString(mail.TypeTextPlain, msg.Text)
	m.AddAlternativeString(mail.TypeTextHTML, msg.HTML)
	return m, nil
}

// BenchmarkSend measures Mailer.Send to a Discard sink on loopback, with
// as many goroutines as connections. Compare with BenchmarkPlainGoMail:
//
//	go test -run XXX -bench 'Send|PlainGoMail' -benchtime 3s -count 3 ./internal/mailer/
func BenchmarkSend(b *testing.B) {
	msg := benchMessage()
	size := emlSize(b, msg)
	for _, conns := range []int{1, 16} {
		for _, noNoopRset := range []bool{false, true} {
			b.Run(benchName(conns, noNoopRset), func(b *testing.B) {
				sink := startSink(b, smtpsink.Options{Discard: true})
				m := newMailer(b, Config{URL: sink.URL(), Connections: conns, NoNoopRset: noNoopRset,
					Logger: slog.New(slog.DiscardHandler)})
				ctx := context.Background()
				send := func(int) error {
					_, err := m.Send(ctx, msg)
					return err
				}
				runWorkers(b, conns, conns, send) // warm up: dial before timing
				measure(b, size, conns, send)
				// The pool opens a connection only when every open one is busy.
				b.ReportMetric(float64(sink.Connections()), "conns")
				if sink.Connections() > conns {
					b.Errorf("used %d connections, want at most %d", sink.Connections(), conns)
				}
			})
		}
	}
}

// BenchmarkSendRTT is BenchmarkSend with every server reply held back 1 ms,
// like a nearby relay: it shows what go-mail's NOOP and RSET cost per message
// when round trips, not CPU, are the limit.
func BenchmarkSendRTT(b *testing.B) {
	msg := benchMessage()
	size := emlSize(b, msg)
	for _, conns := range []int{1, 16} {
		for _, noNoopRset := range []bool{false, true} {
			b.Run(benchName(conns, noNoopRset), func(b *testing.B) {
				sink := startSink(b, smtpsink.Options{Discard: true, ReplyDelay: time.Millisecond})
				m := newMailer(b, Config{URL: sink.URL(), Connections: conns, NoNoopRset: noNoopRset,
					Logger: slog.New(slog.DiscardHandler)})
				send := func(int) error {
					_, err := m.Send(context.Background(), msg)
					return err
				}
				runWorkers(b, conns, conns, send)
				measure(b, size, conns, send)
			})
		}
	}
}

// BenchmarkPlainGoMail is the baseline: one go-mail client per goroutine,
// DialWithContext once, then Send in a loop, with the options the Mailer
// uses, building each message with go-mail directly.
func BenchmarkPlainGoMail(b *testing.B) {
	msg := benchMessage()
	size := emlSize(b, msg)
	for _, conns := range []int{1, 16} {
		for _, noNoopRset := range []bool{false, true} {
			b.Run(benchName(conns, noNoopRset), func(b *testing.B) {
				sink := startSink(b, smtpsink.Options{Discard: true})
				cfg := Config{URL: sink.URL(), Timeout: 5 * time.Second, HeloName: "bench.remarket.example", NoNoopRset: noNoopRset}
				ep, err := parseURL(cfg.URL)
				if err != nil {
					b.Fatal(err)
				}
				clients := make([]*mail.Client, conns)
				for i := range clients {
					c, err := mail.NewClient(ep.host, clientOptions(ep, cfg)...)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.DialWithContext(context.Background()); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = c.Close() })
					clients[i] = c
				}
				measure(b, size, conns, func(w int) error {
					pm, err := plainMsg(msg)
					if err != nil {
						return err
					}
					return clients[w].Send(pm)
				})
			})
		}
	}
}

func benchName(conns int, noNoopRset bool) string {
	mode := "noop_rset"
	if noNoopRset {
		mode = "no_noop_rset"
	}
	return fmt.Sprintf("conns=%d/%s", conns, mode)
}

func emlSize(b *testing.B, msg Message) int {
	var sb strings.Builder
	if err := WriteEML(&sb, msg); err != nil {
		b.Fatal(err)
	}
	return sb.Len()
}

// measure runs b.N sends on `workers` goroutines and reports messages per
// second and the process CPU time per message (user+system, the in-process
// sink included: it is the same sink for both benchmarks).
func measure(b *testing.B, size, workers int, send func(worker int) error) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	before := cpuTime()
	b.ResetTimer()
	runWorkers(b, workers, b.N, send)
	b.StopTimer()
	cpu := cpuTime() - before
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
}

func runWorkers(b *testing.B, workers, n int, send func(worker int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := send(w); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
