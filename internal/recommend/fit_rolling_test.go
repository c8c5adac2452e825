package recommend

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// rollingSpecs are the splits inside the validation history (purchases
// before the test cutoff) that TestFitRolling fits and scores on: cutoffs a
// month apart with about two months of labels, then the validation split B
// (Evaluate's own on that history) and the last month.
var rollingSpecs = []struct {
	name     string
	cut, end time.Time
}{
	{"S1", date(2011, 4, 1), date(2011, 6, 1)},
	{"S2", date(2011, 5, 1), date(2011, 7, 1)},
	{"S3", date(2011, 6, 1), date(2011, 7, 28)},
	{"B", time.Date(2011, 7, 28, 0, 10, 0, 0, time.UTC), time.Time{}},
	{"S5", date(2011, 8, 26), time.Time{}},
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// fitProc fits both weight vectors on the pooled splits: new-product
// weights by logistic regression, repeat weights from logistic regression
// refitted listwise on the merged lists (keep best new candidates each).
func fitProc(splits []*fitSplit, rows map[string][2][]fitRow, mask [nFeat]bool, keep int) weights {
	var pooled [2][]fitRow
	for _, s := range splits {
		for k := range 2 {
			pooled[k] = append(pooled[k], rows[s.name][k]...)
		}
	}
	var w weights
	for k := range 2 {
		w[k] = fitLogistic(pooled[k], mask, 1)
	}
	var ls []custList
	for _, s := range splits {
		ls = append(ls, s.lists(w, keep)...)
	}
	w[wRepeat] = fitListwise(ls, w, wRepeat, mask, 0.01, 300)
	return w
}

func scoreSplit(s *fitSplit, w weights) (float64, float64) {
	n, a := listHits(s.lists(w, 300), w)
	return n / float64(s.nNew()), a / float64(len(s.custs))
}

// TestFitRolling compares fitting procedures on rolling splits inside the
// validation history, scoring each on splits it was not fitted on, and
// prints the weights fitted on every split (BAKE0, BAKE1). Runs only with
// REMARKET_FIT=rolling.
func TestFitRolling(t *testing.T) {
	if os.Getenv("REMARKET_FIT") != "rolling" {
		t.Skip("set REMARKET_FIT=rolling")
	}
	hb := validationHistory(t)
	var splits []*fitSplit
	rows := map[string][2][]fitRow{}
	start := time.Now()
	for _, sp := range rollingSpecs {
		s := newFitSplitAt(sp.name, hb, sp.cut, sp.end)
		splits = append(splits, s)
		rows[s.name] = s.rows(10)
		t.Logf("%s: cutoff %s, %d customers (%d new), %d+%d rows (%s)", s.name, s.cutoff.Format(time.DateOnly), len(s.custs), s.nNew(),
			len(rows[s.name][0]), len(rows[s.name][1]), time.Since(start).Round(time.Second))
	}
	byName := func(names ...string) []*fitSplit {
		var out []*fitSplit
		for _, s := range splits {
			if slices.Contains(names, s.name) {
				out = append(out, s)
			}
		}
		return out
	}
	report := func(label string, w weights) {
		var b strings.Builder
		for _, s := range splits {
			n, a := scoreSplit(s, w)
			fmt.Fprintf(&b, " %s %.3f/%.3f", s.name, n, a)
		}
		t.Logf("%-40s%s (%s)", label, b.String(), time.Since(start).Round(time.Second))
	}
	report("baked", blendWeights)
	full := [nFeat]bool{}
	for i := range full {
		full[i] = true
	}
	old := full
	old[fPTrend], old[fPTrend28], old[fCDue] = false, false, false
	masks := map[string][nFeat]bool{"old": old, "full": full}
	sets := os.Getenv("REMARKET_FIT_SETS")
	if sets == "" {
		sets = "B;S1,S2,S3;S1,S2,S3,B,S5"
	}
	for _, mname := range []string{"old", "full"} {
		for _, set := range strings.Split(sets, ";") {
			w := fitProc(byName(strings.Split(set, ",")...), rows, masks[mname], 300)
			report(fmt.Sprintf("%s fit on %s", mname, set), w)
			t.Logf("BAKE0 %s\nBAKE1 %s", goWeights(w[0]), goWeights(w[1]))
		}
	}
}
