package recommend

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fitSplit is one evaluation split: a model of the purchases before the
// cutoff, and what each evaluated customer bought after.
type fitSplit struct {
	name   string
	cutoff time.Time
	m      *Model
	custs  []int64
	past   map[int64]map[int64]bool
	after  map[int64]map[int64]bool
}

func newFitSplit(name string, h History) *fitSplit {
	return newFitSplitAt(name, h, DefaultCutoff(h), time.Time{})
}

// newFitSplitAt is the split of h at cut, labelled by the purchases before
// end (all after cut when end is zero).
func newFitSplitAt(name string, h History, cut, end time.Time) *fitSplit {
	n, _ := slices.BinarySearchFunc(h.Purchases, cut, func(x Purchase, t time.Time) int { return x.At.Compare(t) })
	if !end.IsZero() {
		e, _ := slices.BinarySearchFunc(h.Purchases, end, func(x Purchase, t time.Time) int { return x.At.Compare(t) })
		h.Purchases = h.Purchases[:e]
	}
	s := &fitSplit{name: name, cutoff: cut, past: map[int64]map[int64]bool{}, after: map[int64]map[int64]bool{}}
	s.m = Train(History{Products: h.Products, Purchases: h.Purchases[:n]}, Options{})
	for _, x := range h.Purchases[:n] {
		if s.past[x.Customer] == nil {
			s.past[x.Customer] = map[int64]bool{}
		}
		s.past[x.Customer][x.Product] = true
	}
	for _, x := range h.Purchases[n:] {
		if s.past[x.Customer] == nil {
			continue
		}
		if s.after[x.Customer] == nil {
			s.after[x.Customer] = map[int64]bool{}
			s.custs = append(s.custs, x.Customer)
		}
		s.after[x.Customer][x.Product] = true
	}
	slices.Sort(s.custs)
	return s
}

// cands returns a customer's blend candidates with features at the cutoff.
func (s *fitSplit) cands(c int64) ([]cand, []features) {
	m := s.m
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := m.bufs.Get().(*buffers)
	defer m.bufs.Put(b)
	q := query{m: m, b: b, r: Request{Customer: c, K: 10, Now: s.cutoff, AllowRepeats: true}, now: s.cutoff.Unix(), c: m.customers[c]}
	cs, fs := q.blendCands(true)
	return slices.Clone(cs), slices.Clone(fs)
}

type fitRow struct {
	f features
	y bool
}

// rows returns the fitting rows of new ([0]) and repeat ([1]) candidates,
// keeping every positive and one negative in every keepNeg (the same rate
// for both, so their probabilities stay comparable up to one shift).
func (s *fitSplit) rows(keepNeg int) [2][]fitRow {
	var out [2][]fitRow
	k := 0
	for _, c := range s.custs {
		cs, fs := s.cands(c)
		for i, x := range cs {
			id := s.m.prods[x.p].id
			y := s.after[c][id]
			b := 0
			if x.kind == Replenish {
				b = 1
			}
			k++
			if !y && k%keepNeg != 0 {
				continue
			}
			out[b] = append(out[b], fitRow{fs[i], y})
		}
	}
	return out
}

// fitLogistic fits logistic weights by Newton's method with an L2 penalty
// lambda on standardised features (the bias unpenalised); features with
// mask false are held at zero.
func fitLogistic(rows []fitRow, mask [nFeat]bool, lambda float64) features {
	var mean, sd features
	for _, r := range rows {
		for i := range r.f {
			mean[i] += r.f[i]
		}
	}
	for i := range mean {
		mean[i] /= float64(len(rows))
	}
	for _, r := range rows {
		for i := range r.f {
			d := r.f[i] - mean[i]
			sd[i] += d * d
		}
	}
	var idx []int
	for i := range sd {
		sd[i] = math.Sqrt(sd[i] / float64(len(rows)))
		if i == fBias {
			mean[i], sd[i] = 0, 1
		}
		if mask[i] && sd[i] > 1e-9 {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	beta := make([]float64, n)
	x := make([]float64, n)
	for iter := 0; iter < 25; iter++ {
		g := make([]float64, n)
		hess := make([][]float64, n)
		for a := range hess {
			hess[a] = make([]float64, n)
		}
		for _, r := range rows {
			z := 0.0
			for a, i := range idx {
				x[a] = (r.f[i] - mean[i]) / sd[i]
				z += beta[a] * x[a]
			}
			p := 1 / (1 + math.Exp(-z))
			y := 0.0
			if r.y {
				y = 1
			}
			for a := range x {
				g[a] += (p - y) * x[a]
				for b := range x {
					hess[a][b] += p * (1 - p) * x[a] * x[b]
				}
			}
		}
		for a, i := range idx {
			if i != fBias {
				g[a] += lambda * beta[a]
				hess[a][a] += lambda
			}
		}
		step := solve(hess, g)
		mx := 0.0
		for a := range beta {
			beta[a] -= step[a]
			mx = math.Max(mx, math.Abs(step[a]))
		}
		if mx < 1e-6 {
			break
		}
	}
	var w features
	for a, i := range idx {
		w[i] = beta[a] / sd[i]
		if i != fBias {
			w[fBias] -= beta[a] * mean[i] / sd[i]
		}
	}
	return w
}

// solve solves a·x = b by Gaussian elimination with partial pivoting.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append(slices.Clone(a[i]), b[i])
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		v := m[r][n]
		for k := r + 1; k < n; k++ {
			v -= m[r][k] * x[k]
		}
		x[r] = v / m[r][r]
	}
	return x
}

// goWeights formats weights as a Go literal keyed by the feature constants.
func goWeights(w features) string {
	var b strings.Builder
	b.WriteString("{")
	for i, v := range w {
		if v != 0 {
			fmt.Fprintf(&b, "f%s: %.4g, ", featureConst(featureNames[i]), v)
		}
	}
	b.WriteString("}")
	return b.String()
}

// featureConst turns "xs_sqrt" into "XSSqrt", the constant's suffix.
func featureConst(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		switch part {
		case "xs", "idf":
			b.WriteString(strings.ToUpper(part))
		case "c":
			b.WriteString("C")
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// custList is one customer's candidates kept for the listwise fit.
type custList struct {
	f      []features
	y, rep []bool
	hasNew bool // bought a product new to them
}

// lists keeps, per customer, the keep best new candidates by w[0] (and
// every repeat candidate) with their labels.
func (s *fitSplit) lists(w weights, keep int) []custList {
	var out []custList
	for _, c := range s.custs {
		cs, fs := s.cands(c)
		var l custList
		var nc []int
		for i := range cs {
			if cs[i].kind == Replenish {
				l.f = append(l.f, fs[i])
				l.y = append(l.y, s.after[c][s.m.prods[cs[i].p].id])
				l.rep = append(l.rep, true)
				continue
			}
			cs[i].score = logOdds(&w[0], &fs[i])
			cs[i].n = int32(i)
			nc = append(nc, i)
		}
		ncs := make([]cand, 0, len(nc))
		for _, i := range nc {
			ncs = append(ncs, cs[i])
		}
		for _, x := range best(ncs, keep) {
			i := int(x.n)
			y := s.after[c][s.m.prods[cs[i].p].id]
			l.f = append(l.f, fs[i])
			l.y = append(l.y, y)
			l.rep = append(l.rep, false)
			l.hasNew = l.hasNew || y
		}
		out = append(out, l)
	}
	return out
}

// listHits is HitRate@10 of the lists ranked by w: new only, and merged.
func listHits(ls []custList, w weights) (newHit, allHit float64) {
	for _, l := range ls {
		var cs, all []cand
		for i := range l.f {
			if l.rep[i] {
				all = append(all, cand{p: int32(i), score: logOdds(&w[wRepeat], &l.f[i])})
				continue
			}
			cs = append(cs, cand{p: int32(i), score: logOdds(&w[wNew], &l.f[i])})
			all = append(all, cand{p: int32(i), score: logOdds(&w[wNew], &l.f[i])})
		}
		hit := func(cs []cand) bool {
			for _, x := range best(cs, 10) {
				if l.y[x.p] {
					return true
				}
			}
			return false
		}
		if hit(all) {
			allHit++
		}
		if hit(cs) {
			newHit++
		}
	}
	return newHit, allHit
}

// blockOf is the weight vector row i is scored with when fitting block b:
// fitting wNew ranks new products only (-1 for the others); fitting
// wRepeat ranks the merged lists.
func blockOf(l custList, i, b int) int {
	switch {
	case l.rep[i] && b == wNew:
		return -1
	case l.rep[i]:
		return wRepeat
	}
	return wNew
}

// fitListwise fits block b's weights (starting from w) to the customers'
// lists by the softmax loss −ln(Σ_pos e^z / Σ_all e^z) per customer, each
// customer counting once: it rewards putting some product they bought at
// the top, what HitRate measures. wNew ranks new candidates only; wRepeat
// ranks the merged lists (see blockOf) with wNew fixed. Adam on standardised features, L2
// penalty lambda.
func fitListwise(ls []custList, w weights, b int, mask [nFeat]bool, lambda float64, iters int) features {
	// Standardise over the block's rows.
	var mean, sd features
	n := 0
	for _, l := range ls {
		for i := range l.f {
			if blockOf(l, i, b) == b {
				n++
				for k := range mean {
					mean[k] += l.f[i][k]
					sd[k] += l.f[i][k] * l.f[i][k]
				}
			}
		}
	}
	for k := range mean {
		mean[k] /= float64(n)
		sd[k] = math.Sqrt(math.Max(sd[k]/float64(n)-mean[k]*mean[k], 0))
		if k == fBias || sd[k] < 1e-9 || !mask[k] {
			mean[k], sd[k] = 0, 1
		}
	}
	// beta in standardised units.
	var beta features
	for k := range beta {
		if mask[k] {
			beta[k] = w[b][k] * sd[k]
		}
	}
	for k := range beta {
		if k != fBias {
			beta[fBias] += w[b][k] * mean[k]
		}
	}
	toW := func(beta features) features {
		var out features
		for k := range beta {
			if k == fBias {
				continue
			}
			out[k] = beta[k] / sd[k]
			out[fBias] -= beta[k] * mean[k] / sd[k]
		}
		out[fBias] += beta[fBias]
		return out
	}
	var m1, m2 features
	const lr, b1, b2 = 0.02, 0.9, 0.999
	const workers = 2
	for it := 1; it <= iters; it++ {
		var g features
		ww := w
		ww[b] = toW(beta)
		cnt := 0
		var gs [workers]features
		var cnts [workers]int
		var wg sync.WaitGroup
		for wk := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var z []float64
				var idx []int
				g := &gs[wk]
				for li := wk; li < len(ls); li += workers {
					l := &ls[li]
					z, idx = z[:0], idx[:0]
					pos := false
					for i := range l.f {
						blk := blockOf(*l, i, b)
						if blk < 0 {
							continue
						}
						z = append(z, logOdds(&ww[blk], &l.f[i]))
						idx = append(idx, i)
						pos = pos || l.y[i]
					}
					if !pos {
						continue
					}
					cnts[wk]++
					mx := slices.Max(z)
					var sa, sp float64
					for a, v := range z {
						e := math.Exp(v - mx)
						z[a] = e
						sa += e
						if l.y[idx[a]] {
							sp += e
						}
					}
					for a, e := range z {
						i := idx[a]
						if blockOf(*l, i, b) != b {
							continue
						}
						coef := e / sa
						if l.y[i] {
							coef -= e / sp
						}
						for k := range g {
							if mask[k] {
								g[k] += coef * (l.f[i][k] - mean[k]) / sd[k]
							}
						}
					}
				}
			}()
		}
		wg.Wait()
		for wk := range workers {
			cnt += cnts[wk]
			for k := range g {
				g[k] += gs[wk][k]
			}
		}
		for k := range g {
			g[k] /= float64(cnt)
			if k != fBias {
				g[k] += lambda * beta[k]
			}
			m1[k] = b1*m1[k] + (1-b1)*g[k]
			m2[k] = b2*m2[k] + (1-b2)*g[k]*g[k]
			mh := m1[k] / (1 - math.Pow(b1, float64(it)))
			vh := m2[k] / (1 - math.Pow(b2, float64(it)))
			if mask[k] {
				beta[k] -= lr * mh / (math.Sqrt(vh) + 1e-8)
			}
		}
	}
	return toW(beta)
}

// TestFitListwise fits blendWeights and prints them (BAKE0, BAKE1) to be
// baked into blend.go: on the validation history (the purchases before the
// test period), split B is Evaluate's own split and split A the same one
// level down (the purchases before B's cutoff, with their default cutoff).
// The new-product weights are a logistic regression; the repeat weights
// start from one and are refitted listwise on the merged lists. Each split's
// weights are scored on both (A on B is out of sample); B's are baked in. It
// never looks at the test period, and runs only with REMARKET_FIT=1.
func TestFitListwise(t *testing.T) {
	if os.Getenv("REMARKET_FIT") == "" {
		t.Skip("set REMARKET_FIT=1 to fit the blend weights")
	}
	hb := validationHistory(t)
	cutB := DefaultCutoff(hb)
	n, _ := slices.BinarySearchFunc(hb.Purchases, cutB, func(x Purchase, t time.Time) int { return x.At.Compare(t) })
	a := newFitSplit("A", History{Products: hb.Products, Purchases: hb.Purchases[:n]})
	b := newFitSplit("B", hb)
	all := [nFeat]bool{}
	for i := range all {
		all[i] = true
	}
	ra, rb := a.rows(10), b.rows(10)
	var wa, wb weights
	for k := range 2 {
		wa[k] = fitLogistic(ra[k], all, 1)
		wb[k] = fitLogistic(rb[k], all, 1)
	}
	la, lb := a.lists(wa, 300), b.lists(wb, 300)
	report := func(name string, wa, wb weights) {
		an, aa := listHits(la, wa)
		bn, ba := listHits(lb, wa)
		bn2, ba2 := listHits(lb, wb)
		an2, aa2 := listHits(la, wb)
		t.Logf("%s: fit A → A new %.3f all %.3f, B new %.3f all %.3f | fit B → B new %.3f all %.3f, A new %.3f all %.3f",
			name, an/float64(a.nNew()), aa/float64(len(a.custs)), bn/float64(b.nNew()), ba/float64(len(b.custs)),
			bn2/float64(b.nNew()), ba2/float64(len(b.custs)), an2/float64(a.nNew()), aa2/float64(len(a.custs)))
	}
	report("pointwise", wa, wb)
	for _, lambda := range []float64{0.01} {
		la2, lb2 := wa, wb
		la2[wRepeat] = fitListwise(la, la2, wRepeat, all, lambda, 300)
		lb2[wRepeat] = fitListwise(lb, lb2, wRepeat, all, lambda, 300)
		report(fmt.Sprintf("listwise repeat %g", lambda), la2, lb2)
		t.Logf("fitted on B (to bake into blendWeights):\nBAKE0 %s\nBAKE1 %s", goWeights(lb2[0]), goWeights(lb2[1]))
	}
}

func (s *fitSplit) nNew() int {
	n := 0
	for _, c := range s.custs {
		for id := range s.after[c] {
			if !s.past[c][id] {
				n++
				break
			}
		}
	}
	return n
}

// blendCands returns the candidates of blend for the customer with their
// features (what the weights are fitted on). The caller holds mu; both
// slices are the call's buffers.
func (q *query) blendCands(repeats bool) ([]cand, []features) {
	cs, fs := q.b.candBuf[:0], q.b.featBuf[:0]
	q.eachBlendCand(repeats, func(c cand, f *features) {
		cs, fs = append(cs, c), append(fs, *f)
	})
	q.b.candBuf, q.b.featBuf = cs, fs
	return cs, fs
}

// logOdds is w·f, term by term: what logOddsOver computes skipping zero
// weights.
func logOdds(w, f *features) float64 {
	v := 0.0
	for i := range f {
		v += w[i] * f[i]
	}
	return v
}
