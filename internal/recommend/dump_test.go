package recommend

import (
	"bufio"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestDumpPicks writes every customer's picks (every strategy; blend with
// and without repeats, and with a recently-sent set) from a model of the
// history before the test cutoff, then after adding the rest order by
// order, to the file named by REMARKET_DUMP: comparing two dumps shows
// whether a change altered any result.
func TestDumpPicks(t *testing.T) {
	path := os.Getenv("REMARKET_DUMP")
	if path == "" {
		t.Skip("set REMARKET_DUMP=file to dump every customer's picks")
	}
	h := loadRetail(t)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()
	n := 0
	for n < len(h.Purchases) && h.Purchases[n].At.Before(retailCutoff) {
		n++
	}
	m := Train(History{Products: h.Products, Purchases: h.Purchases[:n]}, Options{})
	custs := customerIDs(h)
	dump := func(stage string, now time.Time) {
		for _, c := range custs {
			for _, s := range Strategies {
				reqs := []Request{{Customer: c, Strategy: s, K: 10, Now: now}}
				if s == Blend {
					reqs = append(reqs,
						Request{Customer: c, Strategy: s, K: 10, Now: now, AllowRepeats: true},
						Request{Customer: c, Strategy: s, K: 7, Now: now, RecentlySent: map[int64]bool{c % 50: true, c%300 + 1: true}})
				}
				for k, r := range reqs {
					ps, err := m.Recommend(r)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range ps {
						fmt.Fprintf(w, "%s %d %s %d %d %.12g %s | %s\n", stage, c, s, k, p.Product, p.Score, p.Strategy, p.Reason)
					}
				}
			}
		}
	}
	dump("cut", retailCutoff)
	for _, o := range splitOrders(h.Purchases[n:]) {
		m.AddOrder(o)
	}
	dump("end", time.Time{})
}
