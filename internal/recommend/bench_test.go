package recommend

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTrain builds a model from the whole Online Retail history.
func BenchmarkTrain(b *testing.B) {
	h := loadRetail(b)
	b.ResetTimer()
	for b.Loop() {
		Train(h, Options{})
	}
	b.ReportMetric(float64(len(h.Purchases)), "lines")
}

// BenchmarkAddOrder adds the last 1,000 orders of the history one by one to
// a model of the rest: the cost of keeping a live model current.
func BenchmarkAddOrder(b *testing.B) {
	h := loadRetail(b)
	orders := splitOrders(h.Purchases)
	head, tail := orders[:len(orders)-1000], orders[len(orders)-1000:]
	var lines []Purchase
	for _, o := range head {
		lines = append(lines, o...)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		m := Train(History{Products: h.Products, Purchases: lines}, Options{})
		b.StartTimer()
		for _, o := range tail {
			m.AddOrder(o)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tail))/1e3, "µs/order")
}

func splitOrders(ps []Purchase) [][]Purchase {
	var out [][]Purchase
	for i := 0; i < len(ps); {
		j := i + 1
		for j < len(ps) && ps[j].Order == ps[i].Order {
			j++
		}
		out = append(out, ps[i:j])
		i = j
	}
	return out
}

// BenchmarkRecommendAll asks top-10 blend picks for every customer of the
// store (4,334) from a model of the whole history.
func BenchmarkRecommendAll(b *testing.B) {
	h := loadRetail(b)
	m := Train(h, Options{})
	custs := customerIDs(h)
	b.ResetTimer()
	for b.Loop() {
		for _, c := range custs {
			if _, err := m.Recommend(Request{Customer: c, K: 10}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(custs)), "customers")
}

// BenchmarkRecommendOne asks one customer's top-10 (cycling through the
// customers), per strategy.
func BenchmarkRecommendOne(b *testing.B) {
	h := loadRetail(b)
	m := Train(h, Options{})
	custs := customerIDs(h)
	for _, s := range Strategies {
		b.Run(s, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := m.Recommend(Request{Customer: custs[i%len(custs)], Strategy: s, K: 10}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkRecommendParallel asks top-10 blend picks of one model from
// GOMAXPROCS goroutines at once (set with -cpu), cycling through the
// customers, as a campaign's concurrent sends do: calls/s is the store's
// throughput; with -cpu 1 it is one goroutine's.
func BenchmarkRecommendParallel(b *testing.B) {
	h := loadRetail(b)
	m := Train(h, Options{})
	custs := customerIDs(h)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := custs[int(next.Add(1))%len(custs)]
			if _, err := m.Recommend(Request{Customer: c, K: 10}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkEvaluate runs the whole offline evaluation (train before the
// cutoff, every strategy and baseline on both targets). Peak RSS: run the
// test binary under /usr/bin/time -v (docs/recommendations.md).
func BenchmarkEvaluate(b *testing.B) {
	h := loadRetail(b)
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		start := time.Now()
		Evaluate(h, EvalParams{Cutoff: retailCutoff, K: 10})
		b.ReportMetric(time.Since(start).Seconds(), "s/eval")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapSys)
	}
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap-sys")
}
