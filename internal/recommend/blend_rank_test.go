package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBlendRankScoresAllTheSame: blendRank, which skips the candidates
// that cannot enter the K best, returns the same picks (to the score's
// bit), features and base as scoring every candidate of blendCands and
// taking best, for every customer of two synthetic stores, with and
// without repeats and recently-sent products, under sent penalties that
// prune (0, 0.25, 1: withDefaults makes -1 and 0 those two) and one that
// does not (2).
func TestBlendRankScoresAllTheSame(t *testing.T) {
	stores := map[string]History{"synthetic": synthetic(400), "store": syntheticStore(1).history()}
	for name, h := range stores {
		for _, pen := range []float64{-1, 0, 1, 2} {
			m := Train(h, Options{SentPenalty: pen})
			for _, c := range customerIDs(h) {
				for _, r := range rankRequests(c) {
					if msg := compareBlendRank(m, r); msg != "" {
						t.Fatalf("%s, SentPenalty %g, %+v: %s", name, pen, r, msg)
					}
				}
			}
		}
	}
}

// rankRequests are the requests compared for one customer.
func rankRequests(c int64) []Request {
	sent := map[int64]bool{}
	for id := int64(0); id < 200; id++ {
		if id%5 == c%5 {
			sent[id] = true
		}
	}
	var out []Request
	for _, k := range []int{1, 4, 50} {
		for _, repeats := range []bool{false, true} {
			out = append(out,
				Request{Customer: c, K: k, AllowRepeats: repeats},
				Request{Customer: c, K: k, AllowRepeats: repeats, RecentlySent: sent})
		}
	}
	return out
}

// compareBlendRank describes how blendRank and scoring every candidate
// differ for r, "" when they do not.
func compareBlendRank(m *Model, r Request) string {
	var got, want []cand
	var gotF, wantF []features
	var gotBase, wantBase groupScores
	withQuery(m, r, func(q *query) {
		got, gotF, gotBase = q.blendRank()
		got, gotF = slices.Clone(got), slices.Clone(gotF)
	})
	withQuery(m, r, func(q *query) { want, wantF, wantBase = scoreAll(q) })
	if len(got) != len(want) {
		return fmt.Sprintf("%d picks, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.p != w.p || math.Float64bits(g.score) != math.Float64bits(w.score) || g.kind != w.kind || g.from != w.from {
			return fmt.Sprintf("pick %d: %+v, want %+v", i, g, w)
		}
		if gotF[g.f] != wantF[w.f] {
			return fmt.Sprintf("pick %d: features differ", i)
		}
	}
	for gi := range gotBase {
		if math.Float64bits(gotBase[gi]) != math.Float64bits(wantBase[gi]) {
			return fmt.Sprintf("base %v, want %v", gotBase, wantBase)
		}
	}
	return ""
}

// withQuery runs fn with a query for r as Recommend sets it up, for a
// customer with a history.
func withQuery(m *Model, r Request, fn func(q *query)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := m.bufs.Get().(*buffers)
	defer m.bufs.Put(b)
	r.Now = m.last
	q := query{m: m, b: b, r: r, now: r.Now.Unix(), c: m.customers[r.Customer]}
	fn(&q)
}

// scoreAll is blendRank the plain way: score every candidate, then take
// the K best.
func scoreAll(q *query) ([]cand, []features, groupScores) {
	cs, fs := q.blendCands(q.r.AllowRepeats)
	cs, fs = slices.Clone(cs), slices.Clone(fs)
	var sum groupScores
	n := 0
	out := cs[:0]
	for k, c := range cs {
		w := &blendWeights[wNew]
		if c.kind == Replenish {
			w = &blendWeights[wRepeat]
		} else {
			for gi, v := range contributions(w, &fs[k]) {
				sum[gi] += v
			}
			n++
		}
		c.score = 1 / (1 + math.Exp(-logOdds(w, &fs[k])))
		if c.score <= 0 {
			continue
		}
		c.score = q.demote(c.p, c.score)
		c.f = int32(k)
		out = append(out, c)
	}
	for gi := range sum {
		sum[gi] /= float64(max(n, 1))
	}
	return slices.Clone(best(out, q.r.K)), fs, sum
}

// TestLogOddsOverRuns: logOddsOver blendSpans gives logOdds' bits.
func TestLogOddsOverRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		var f features
		for i := range f {
			if rng.IntN(3) > 0 {
				f[i] = rng.NormFloat64() * math.Exp(rng.NormFloat64()*5)
			}
		}
		for wi := range blendWeights {
			w := &blendWeights[wi]
			got, want := logOddsOver(blendSpans[wi], w, &f), logOdds(w, &f)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("weights %d, features %v: %v, want %v", wi, f, got, want)
			}
		}
	}
}

// TestTopKIsBest: topK keeps what sorting them all and cutting at k gives.
func TestTopKIsBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		n := rng.IntN(60)
		cs := make([]cand, n)
		for i, p := range rng.Perm(n) {
			cs[i] = cand{p: int32(p), score: float64(rng.IntN(8))} // ties
		}
		k := 1 + rng.IntN(15)
		top := topK{k: k}
		for _, c := range cs {
			top.add(c)
		}
		want := slices.Clone(cs)
		rank(want)
		if want = want[:min(k, n)]; !slices.Equal(top.cs, want) {
			t.Fatalf("k %d: %v, want %v", k, top.cs, want)
		}
	}
}

// TestLogitFloor: a log-odds under logitFloor(s) gives a probability under
// s, as blend computes it, from tiny to large s.
func TestLogitFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200000 {
		s := math.Exp(-rng.Float64() * 700)
		if rng.IntN(2) == 0 {
			s = rng.Float64()
		}
		floor := logitFloor(s)
		if math.IsInf(floor, -1) {
			continue
		}
		for _, lo := range []float64{math.Nextafter(floor, math.Inf(-1)), floor - 1e-12, floor - 1e-10} {
			if p := 1 / (1 + math.Exp(-lo)); p >= s {
				t.Fatalf("s %v: log-odds %v under the floor %v give %v", s, lo, floor, p)
			}
		}
	}
}

// TestNaNOptionsTakeDefaults: a NaN option (a sent penalty, say) would
// make the scores it touches unordered, so withDefaults replaces it.
func TestNaNOptionsTakeDefaults(t *testing.T) {
	o := Options{SentPenalty: math.NaN()}.withDefaults()
	if want := DefaultOptions.SentPenalty; o.SentPenalty != want {
		t.Fatalf("SentPenalty NaN became %v, want the default %v", o.SentPenalty, want)
	}
}
