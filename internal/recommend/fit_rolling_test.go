package recommend

import (
	"cmp"
	"fmt"
	"math"
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
	// 75 days of labels, as the test period has.
	{"T1", date(2011, 5, 13), date(2011, 7, 27)},
	{"T2", date(2011, 6, 12), date(2011, 8, 26)},
	{"T3", date(2011, 7, 12), time.Time{}},
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
	shifts := []float64{-0.6, -0.3, 0, 0.3, 0.6}
	report := func(label string, w weights) {
		var b strings.Builder
		sh := make([]float64, len(shifts))
		for _, s := range splits {
			ls := s.lists(w, 300)
			n, a := listHits(ls, w)
			fmt.Fprintf(&b, " %s %.3f/%.3f", s.name, n/float64(s.nNew()), a/float64(len(s.custs)))
			for k, d := range shifts {
				ww := w
				ww[wRepeat][fBias] += d
				_, a := listHits(ls, ww)
				sh[k] += a / float64(len(s.custs)) / float64(len(splits))
			}
		}
		t.Logf("%-32s%s (%s)\n    repeat bias shifts %v: mean all %.4f", label, b.String(), time.Since(start).Round(time.Second), shifts, sh)
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
	mnames := []string{"old", "full"}
	if e := os.Getenv("REMARKET_FIT_MASKS"); e != "" {
		mnames = strings.Split(e, ",")
	}
	for _, mname := range mnames {
		for _, set := range strings.Split(sets, ";") {
			w := fitProc(byName(strings.Split(set, ",")...), rows, masks[mname], 300)
			report(fmt.Sprintf("%s fit on %s", mname, set), w)
			t.Logf("BAKE0 %s\nBAKE1 %s", goWeights(w[0]), goWeights(w[1]))
		}
	}
}

// TestFitDiagnose prints, per split, where the best-ranked bought product
// of each customer sits in their merged list under the baked weights.
func TestFitDiagnose(t *testing.T) {
	if os.Getenv("REMARKET_FIT") != "diagnose" {
		t.Skip("set REMARKET_FIT=diagnose")
	}
	hb := validationHistory(t)
	for _, sp := range rollingSpecs {
		if !slices.Contains([]string{"B", "S5", "T3"}, sp.name) {
			continue
		}
		s := newFitSplitAt(sp.name, hb, sp.cut, sp.end)
		buckets := []int{1, 3, 10, 20, 50, 100, 300, 1 << 30}
		cnt := make([]int, len(buckets)+1)
		repTop := 0
		nPos, posRep := 0, 0
		for _, c := range s.custs {
			cs, fs := s.cands(c)
			for i := range cs {
				w := &blendWeights[wNew]
				if cs[i].kind == Replenish {
					w = &blendWeights[wRepeat]
				}
				cs[i].score = logOdds(w, &fs[i])
			}
			rank(cs)
			at := -1
			for r, x := range cs {
				if s.after[c][s.m.prods[x.p].id] {
					if at < 0 {
						at = r
						if x.kind == Replenish {
							repTop++
						}
					}
				}
			}
			for id := range s.after[c] {
				nPos++
				if s.past[c][id] {
					posRep++
				}
			}
			if at < 0 {
				cnt[len(buckets)]++
				continue
			}
			for k, b := range buckets {
				if at < b {
					cnt[k]++
					break
				}
			}
		}
		t.Logf("%s: %d customers; best bought product at rank <1,<3,<10,<20,<50,<100,<300,more, none: %v; first hit a repeat: %d; bought products %d of which repeats %d",
			s.name, len(s.custs), cnt, repTop, nPos, posRep)
	}
}

// compactList is one customer's merged list reduced to what HitRate@10
// under other repeat weights needs: the 10 best new candidates' log-odds
// and labels, and every repeat candidate.
type compactList struct {
	newZ []float64
	newY []bool
	rep  []features
	repY []bool
}

func compact(s *fitSplit, w weights) []compactList {
	var out []compactList
	for _, l := range s.lists(w, 10) {
		var c compactList
		for i := range l.f {
			if l.rep[i] {
				c.rep = append(c.rep, l.f[i])
				c.repY = append(c.repY, l.y[i])
				continue
			}
			c.newZ = append(c.newZ, logOdds(&w[wNew], &l.f[i]))
			c.newY = append(c.newY, l.y[i])
		}
		out = append(out, c)
	}
	return out
}

// compactHits is HitRate@10 of the merged lists with repeat weights wr.
func compactHits(ls []compactList, wr *features) float64 {
	hits := 0
	var cs []cand
	for _, l := range ls {
		cs = cs[:0]
		for i, z := range l.newZ {
			cs = append(cs, cand{p: int32(i), score: z, from: -1})
		}
		for i := range l.rep {
			cs = append(cs, cand{p: int32(i), score: logOdds(wr, &l.rep[i]), from: 1})
		}
		// The 10 best by score; of equal scores, the first listed.
		slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
		for _, x := range cs[:min(10, len(cs))] {
			if (x.from < 0 && l.newY[x.p]) || (x.from > 0 && l.repY[x.p]) {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(ls))
}

// TestFitDirect starts from fitProc's weights on the training splits and
// moves the repeat weights one at a time to raise HitRate@10 (all) on
// them directly, then scores every split.
func TestFitDirect(t *testing.T) {
	if os.Getenv("REMARKET_FIT") != "direct" {
		t.Skip("set REMARKET_FIT=direct")
	}
	hb := validationHistory(t)
	train := strings.Split(os.Getenv("REMARKET_FIT_TRAIN"), ",")
	var splits, tr []*fitSplit
	rows := map[string][2][]fitRow{}
	for _, sp := range rollingSpecs {
		s := newFitSplitAt(sp.name, hb, sp.cut, sp.end)
		splits = append(splits, s)
		if slices.Contains(train, s.name) {
			tr = append(tr, s)
			rows[s.name] = s.rows(10)
		}
	}
	full := [nFeat]bool{}
	for i := range full {
		full[i] = true
	}
	w := fitProc(tr, rows, full, 300)
	cl := map[string][]compactList{}
	var pooled []compactList
	for _, s := range splits {
		cl[s.name] = compact(s, w)
		if slices.Contains(train, s.name) {
			pooled = append(pooled, cl[s.name]...)
		}
	}
	var sd features
	var n float64
	for _, l := range pooled {
		for _, f := range l.rep {
			n++
			for k := range f {
				sd[k] += f[k] * f[k]
			}
		}
	}
	for k := range sd {
		sd[k] = math.Sqrt(sd[k] / n)
	}
	show := func(label string, wr features) {
		var b strings.Builder
		for _, s := range splits {
			fmt.Fprintf(&b, " %s %.3f", s.name, compactHits(cl[s.name], &wr))
		}
		t.Logf("%-20s train %.4f |%s", label, compactHits(pooled, &wr), b.String())
	}
	wr := w[wRepeat]
	show("listwise", wr)
	cur := compactHits(pooled, &wr)
	for round := range 3 {
		for k := range wr {
			if sd[k] < 1e-9 {
				continue
			}
			bestV, bestD := cur, 0.0
			for _, d := range []float64{-0.2, -0.1, -0.05, 0.05, 0.1, 0.2} {
				x := wr
				x[k] += d / sd[k]
				if v := compactHits(pooled, &x); v > bestV+1e-9 {
					bestV, bestD = v, d
				}
			}
			wr[k] += bestD / sd[k]
			cur = bestV
		}
		show(fmt.Sprintf("direct round %d", round+1), wr)
	}
	w[wRepeat] = wr
	t.Logf("BAKE0 %s\nBAKE1 %s", goWeights(w[0]), goWeights(w[1]))
}
