package recommend

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestDumpPicks writes every customer's picks (every strategy; blend with
// and without repeats, and with a recently-sent set) from a model of the
// history before the test cutoff, then after adding the rest order by
// order, to the file named by REMARKET_DUMP: comparing two dumps shows
// whether a change altered any result. With REMARKET_DUMP_PARALLEL=8 the
// customers are asked from 8 goroutines at once (the dump is the same).
func TestDumpPicks(t *testing.T) {
	w := dumpFile(t, "REMARKET_DUMP")
	h, n, m := trainAtCutoff(t)
	custs := customerIDs(h)
	dumpAll(t, w, "cut", m, custs, retailCutoff)
	for _, o := range splitOrders(h.Purchases[n:]) {
		m.AddOrder(o)
	}
	dumpAll(t, w, "end", m, custs, time.Time{})
}

// dumpAll dumps every customer in turn, from as many goroutines at once as
// REMARKET_DUMP_PARALLEL says (one when unset).
func dumpAll(t *testing.T, w io.Writer, stage string, m *Model, custs []int64, now time.Time) {
	par, _ := strconv.Atoi(os.Getenv("REMARKET_DUMP_PARALLEL"))
	par = max(par, 1)
	out := make([]bytes.Buffer, len(custs))
	var wg sync.WaitGroup
	for g := range par {
		wg.Go(func() {
			for i := g; i < len(custs); i += par {
				dumpCustomer(t, &out[i], stage, m, custs[i], now)
			}
		})
	}
	wg.Wait()
	for i := range out {
		if _, err := out[i].WriteTo(w); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDumpPicksLive writes, to the file named by REMARKET_DUMP_LIVE, the
// picks of a model kept current order by order and asked between orders,
// as a served model is: every order after the test cutoff is added, then
// its customer and another are asked. Neighbour lists are refreshed when
// asked for, so this dump also shows whether a change moved when they are
// recomputed. A synthetic store follows, asked the same way.
func TestDumpPicksLive(t *testing.T) {
	w := dumpFile(t, "REMARKET_DUMP_LIVE")
	h, n, m := trainAtCutoff(t)
	custs := customerIDs(h)
	for k, o := range splitOrders(h.Purchases[n:]) {
		m.AddOrder(o)
		stage := fmt.Sprint("live", k)
		dumpCustomer(t, w, stage, m, o[0].Customer, time.Time{})
		dumpCustomer(t, w, stage, m, custs[k*7%len(custs)], time.Time{})
	}
	dumpSynthetic(t, w)
}

// dumpSynthetic dumps the synthetic store's picks: trained on its first
// half, then asked after each order of the second half is added, then
// every customer at the end.
func dumpSynthetic(t *testing.T, w io.Writer) {
	h := syntheticStore(1).history()
	half := len(h.Purchases) / 2
	m := Train(History{Products: h.Products, Purchases: h.Purchases[:half]}, Options{})
	custs := customerIDs(h)
	for k, o := range splitOrders(h.Purchases[half:]) {
		m.AddOrder(o)
		dumpCustomer(t, w, fmt.Sprint("synth", k), m, o[0].Customer, time.Time{})
	}
	for _, c := range custs {
		dumpCustomer(t, w, "synth-end", m, c, time.Time{})
	}
}

// dumpFile returns a writer to the file named by the environment variable,
// flushed and closed when the test ends; it skips the test when unset.
func dumpFile(t *testing.T, env string) io.Writer {
	path := os.Getenv(env)
	if path == "" {
		t.Skipf("set %s=file to dump picks", env)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t.Cleanup(func() {
		if err := w.Flush(); err != nil {
			t.Error(err)
		}
		f.Close()
	})
	return w
}

// dumpCustomer writes one customer's picks by every strategy (blend also
// with repeats, and with a recently-sent set), one line per pick.
func dumpCustomer(t *testing.T, w io.Writer, stage string, m *Model, c int64, now time.Time) {
	t.Helper()
	for _, s := range Strategies {
		for k, r := range dumpRequests(c, s, now) {
			ps, err := m.Recommend(r)
			if err != nil {
				t.Error(err)
				return
			}
			for _, p := range ps {
				fmt.Fprintf(w, "%s %d %s %d %d %.12g %s | %s\n", stage, c, s, k, p.Product, p.Score, p.Strategy, p.Reason)
			}
		}
	}
}

// dumpRequests are the requests dumped for one customer and strategy.
func dumpRequests(c int64, s string, now time.Time) []Request {
	reqs := []Request{{Customer: c, Strategy: s, K: 10, Now: now}}
	if s == Blend {
		reqs = append(reqs,
			Request{Customer: c, Strategy: s, K: 10, Now: now, AllowRepeats: true},
			Request{Customer: c, Strategy: s, K: 7, Now: now, RecentlySent: map[int64]bool{c % 50: true, c%300 + 1: true}})
	}
	return reqs
}

// syntheticStore is a deterministic store of 120 products in 8 categories
// and 300 customers placing 1,500 orders over 300 days; customers favour
// a category each, so co-purchases and taste have structure.
func syntheticStore(seed uint64) *store {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"HEART", "VINTAGE", "CHRISTMAS", "GARDEN", "PAPER", "GLASS", "RED", "BLUE"}
	var ps []Product
	for id := int64(1); id <= 120; id++ {
		cat := fmt.Sprint("CAT", id%8)
		title := fmt.Sprintf("%s %s %s", words[rng.IntN(len(words))], words[id%8], cat)
		ps = append(ps, Product{ID: id, Title: title, Category: cat, PriceMinor: 100 + rng.Int64N(2000)})
	}
	s := newStore(ps...)
	for range 1500 {
		c := int64(1 + rng.IntN(300))
		var prods []int64
		for range 1 + rng.IntN(5) {
			p := c%8 + 8*rng.Int64N(15) // the customer's category
			if rng.IntN(3) == 0 {
				p = rng.Int64N(120)
			}
			prods = append(prods, p+1)
		}
		s.buy(c, rng.IntN(300), prods...)
	}
	return s
}

// trainAtCutoff trains a model on the Online Retail orders before the test
// cutoff and returns the history, how many of its purchases came before the
// cutoff, and the model.
func trainAtCutoff(t *testing.T) (History, int, *Model) {
	t.Helper()
	h := loadRetail(t)
	n := 0
	for n < len(h.Purchases) && h.Purchases[n].At.Before(retailCutoff) {
		n++
	}
	return h, n, Train(History{Products: h.Products, Purchases: h.Purchases[:n]}, Options{})
}
