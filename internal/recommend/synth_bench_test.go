package recommend

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// synthetic is the campaign benchmark's store: n customers, each with one
// order of two of 200 products.
func synthetic(n int) History {
	h := History{Products: map[int64]Product{}}
	for p := range 200 {
		h.Products[int64(p)] = Product{ID: int64(p), Title: "Product " + strconv.Itoa(p), Category: fmt.Sprint("cat", p%10), PriceMinor: int64(500 + p*10), InStock: true}
	}
	now := time.Now()
	for i := range n {
		at := now.Add(-time.Duration(i%300) * 24 * time.Hour)
		h.Purchases = append(h.Purchases,
			Purchase{Customer: int64(i), Order: int64(i), Product: int64(i % 200), At: at, Quantity: 1, UnitPriceMinor: int64(500 + i%200*10)},
			Purchase{Customer: int64(i), Order: int64(i), Product: int64((i * 7) % 200), At: at, Quantity: 1, UnitPriceMinor: 900})
	}
	slices.SortStableFunc(h.Purchases, func(a, b Purchase) int { return a.At.Compare(b.At) })
	return h
}

// BenchmarkRecommendSynthetic asks blend picks on the campaign benchmark's
// store (internal/campaign), at 10,000 and 200,000 customers: what each of
// its emails costs in recommending.
func BenchmarkRecommendSynthetic(b *testing.B) {
	for _, n := range []int{10000, 200000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			m := Train(synthetic(n), Options{})
			i := 0
			for b.Loop() {
				if _, err := m.Recommend(Request{Customer: int64(i % n), K: 4}); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}

// TestPeerBoundChangesNothing: the bound that skips customers in peers
// gives the same picks as scoring every customer, on a store of small
// baskets (where it skips most) and one of varied baskets.
func TestPeerBoundChangesNothing(t *testing.T) {
	varied := synthetic(3000)
	for i := range 3000 {
		for j := range i % 5 {
			varied.Purchases = append(varied.Purchases, Purchase{Customer: int64(i), Order: int64(10000 + i), Product: int64((i*13 + j*31) % 200),
				At: varied.Purchases[len(varied.Purchases)-1].At, Quantity: 1, UnitPriceMinor: 700})
		}
	}
	for name, h := range map[string]History{"small baskets": synthetic(5000), "varied baskets": varied} {
		for _, k := range []int{1, 3, 20} {
			checkPeerBound(t, fmt.Sprintf("%s, %d peers", name, k), h, k)
		}
	}
}

// checkPeerBound compares every customer's picks with and without the
// bound, for a model keeping the given number of peers.
func checkPeerBound(t *testing.T, name string, h History, peers int) {
	m := Train(h, Options{Peers: peers})
	picks := func() []string {
		var out []string
		for _, c := range customerIDs(h) {
			ps, err := m.Recommend(Request{Customer: c, K: 6})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(ps))
		}
		return out
	}
	with := picks()
	peerBound = false
	without := picks()
	peerBound = true
	if !slices.Equal(with, without) {
		t.Errorf("%s: the bound changed picks", name)
	}
}
