package recommend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refScores is scores as it was, one branch per step: what the faster
// accumulation must match to the bit, touched's order included.
type refScores struct {
	val, best []float64
	from, n   []int32
	touched   []int32
}

func newRefScores(n int) *refScores {
	return &refScores{val: make([]float64, n), best: make([]float64, n), from: make([]int32, n), n: make([]int32, n)}
}

func (s *refScores) add(j int32, v float64, from int32) {
	if s.n[j] == 0 {
		s.touched = append(s.touched, j)
		s.best[j], s.from[j] = -1, -1
	}
	s.n[j]++
	s.val[j] += v
	if v > s.best[j] {
		s.best[j], s.from[j] = v, from
	}
}

// TestScoresAddLikeOneByOne: addNbrs and addRecent leave the scores, term
// counts, best sources and touched order of adding each term on its own,
// over resets that leave products behind.
func TestScoresAddLikeOneByOne(t *testing.T) {
	const nProds = 50
	rng := rand.New(rand.NewPCG(1, 2))
	var s scores
	rw := newRecencyWeights(1e9, 86400*60)
	for round := range 200 {
		s.reset(nProds)
		ref := newRefScores(nProds)
		for range rng.IntN(8) {
			w, from := rng.Float64()*3, rng.Int32N(nProds)
			// Distinct products, as in a neighbour list; sims tie.
			var nbrs []nbr
			for _, j := range rng.Perm(nProds)[:rng.IntN(nProds)] {
				nbrs = append(nbrs, nbr{j: int32(j), sim: float32(rng.IntN(4)) / 4})
			}
			s.addNbrs(nbrs, w, from)
			for _, nb := range nbrs {
				ref.add(nb.j, w*float64(nb.sim), from)
			}
		}
		for range rng.IntN(4) {
			sim := rng.Float64()
			items := make([]custItem, rng.IntN(nProds))
			for i := range items {
				items[i] = custItem{prod: rng.Int32N(nProds), last: 1e9 - int64(rng.IntN(5))*86400*30}
			}
			s.addRecent(items, sim, rw)
			for _, it := range items {
				age := math.Max(float64(1e9-it.last), 0)
				ref.add(it.prod, sim*math.Exp2(-age/(86400*60)), -1)
				// addRecent leaves best and from, which peers never read.
				ref.best[it.prod], ref.from[it.prod] = s.e[it.prod].best, s.e[it.prod].from
			}
		}
		if !slices.Equal(s.touched, ref.touched) {
			t.Fatalf("round %d: touched %v, want %v", round, s.touched, ref.touched)
		}
		for j := range int32(nProds) {
			e := s.e[j]
			if math.Float64bits(e.val) != math.Float64bits(ref.val[j]) || e.n != ref.n[j] {
				t.Fatalf("round %d, product %d: %v, want val %v n %d", round, j, e, ref.val[j], ref.n[j])
			}
			if ref.n[j] > 0 && (e.best != ref.best[j] || e.from != ref.from[j]) {
				t.Fatalf("round %d, product %d: best %v from %d, want %v from %d", round, j, e.best, e.from, ref.best[j], ref.from[j])
			}
		}
	}
}

// TestRecencyWeightsExact: the memo gives each time the weight computed
// for it, through collisions, and 0 for math.MinInt64 as the loop it
// replaced did.
func TestRecencyWeightsExact(t *testing.T) {
	const now, hl = 1_700_000_000, 86400 * 60
	rw := newRecencyWeights(now, hl)
	rng := rand.New(rand.NewPCG(3, 4))
	times := []int64{0, 1, now, now + 5, -now}
	for range 2000 {
		times = append(times, now-rng.Int64N(3e8))
	}
	for range 3 {
		for _, tm := range times {
			want := math.Exp2(-math.Max(float64(now-tm), 0) / hl)
			if got := rw.of(tm); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("of(%d) = %v, want %v", tm, got, want)
			}
		}
	}
	if got := newRecencyWeights(now, hl).of(math.MinInt64); got != 0 {
		t.Errorf("of(MinInt64) = %v, want 0", got)
	}
}

// TestMaxOfLikeMathMax: maxOf is math.Max folded from 0, to the bit, with
// NaNs, infinities and zeros of both signs.
func TestMaxOfLikeMathMax(t *testing.T) {
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), -1, 2.5, 1e-300}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		vals := make([]float64, rng.IntN(6))
		for i := range vals {
			vals[i] = specials[rng.IntN(len(specials))]
		}
		want := 0.0
		for _, v := range vals {
			want = math.Max(want, v)
		}
		if got := maxOf(vals); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("maxOf(%v) = %v, want %v", vals, got, want)
		}
	}
}

// TestTopTouchedKeepsOrder: topTouched keeps, in touched's order, the
// products whose value reaches the k-th largest, ties included.
func TestTopTouchedKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var b buffers
	for range 2000 {
		n := rng.IntN(40)
		touched, vals := make([]int32, n), make([]float64, n)
		for i := range touched {
			touched[i], vals[i] = int32(rng.IntN(1000)), float64(rng.IntN(6))
		}
		k := 1 + rng.IntN(30)
		var want []int32
		if n <= k {
			want = touched
		} else {
			sorted := slices.Clone(vals)
			slices.Sort(sorted)
			th := sorted[n-k]
			for i, j := range touched {
				if vals[i] >= th {
					want = append(want, j)
				}
			}
		}
		if got := b.topTouched(touched, vals, k); !slices.Equal(got, want) {
			t.Fatalf("topTouched(%v, %v, %d) = %v, want %v", touched, vals, k, got, want)
		}
	}
}

// TestPeerBoundsHold: no customer's similarity, as bestPeers computes it,
// exceeds the bound for their overlap, and none that the squared test
// skips reaches the cut.
func TestPeerBoundsHold(t *testing.T) {
	var q query
	q.b = &buffers{}
	for nu := 1; nu <= 300; nu++ {
		fnu := float64(nu)
		most := min(nu, 60)
		bound := slices.Clone(q.peerBounds(fnu, most))
		var sims []float64
		for o := 1; o <= most; o++ {
			for n := o; n <= o+400; n += 1 + n/20 {
				sim := float64(o) / math.Sqrt(fnu*float64(n))
				if sim > bound[o] {
					t.Fatalf("nu %d, o %d, n %d: similarity %v above bound %v", nu, o, n, sim, bound[o])
				}
				sims = append(sims, sim)
			}
		}
		for _, cut := range sims[:min(len(sims), 50)] {
			cut2 := cut * cut * fnu * (1 - 1e-9)
			for o := 1; o <= most; o++ {
				for n := o; n <= o+400; n++ {
					sim := float64(o) / math.Sqrt(fnu*float64(n))
					if float64(o)*float64(o) < cut2*float64(n) && sim >= cut {
						t.Fatalf("nu %d, o %d, n %d: skipped with similarity %v, cut %v", nu, o, n, sim, cut)
					}
				}
			}
		}
	}
}
