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
