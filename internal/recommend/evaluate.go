package recommend

import (
	"math"
	"slices"
	"time"
)

// Evaluation targets.
const (
	// TargetNew counts only products new to the customer: products bought
	// before the cutoff are removed from the truth and from every list.
	TargetNew = "new"
	// TargetAll counts every product bought after the cutoff; Replenish and
	// Blend (with AllowRepeats) may recommend products bought before.
	TargetAll = "all"
)

// Baseline names in a Report.
const (
	BaselinePopular = "baseline-popular"  // global bestsellers, past items excluded
	BaselineItemKNN = "baseline-item-knn" // cosine over same-order co-occurrence, filled from popularity
	BaselineRepeat  = "baseline-repeat"   // the customer's most-ordered products, then popular (target all only)
)

// Result is one recommender's scores on one target.
type Result struct {
	Name     string  `json:"name"`
	Baseline bool    `json:"baseline,omitempty"`
	HitRate  float64 `json:"hit_rate"` // share of customers with at least one hit in the top K
	Recall   float64 `json:"recall"`   // mean of hits / |truth|
	NDCG     float64 `json:"ndcg"`     // mean normalised discounted cumulative gain, binary relevance
	Coverage float64 `json:"coverage"` // distinct products recommended / products in the catalog
}

// TargetReport is every recommender's scores on one target.
type TargetReport struct {
	Customers int      `json:"customers"`
	Results   []Result `json:"results"`
}

// Report is the outcome of an offline evaluation.
type Report struct {
	Cutoff         time.Time               `json:"cutoff"`
	K              int                     `json:"k"`
	TrainPurchases int                     `json:"train_purchases"`
	TestPurchases  int                     `json:"test_purchases"`
	Targets        map[string]TargetReport `json:"targets"`
}

// Result returns the named recommender's scores on a target, and false when
// the report has none.
func (r Report) Result(target, name string) (Result, bool) {
	for _, x := range r.Targets[target].Results {
		if x.Name == name {
			return x, true
		}
	}
	return Result{}, false
}

// EvalParams configures Evaluate.
type EvalParams struct {
	// Cutoff splits training from test purchases; zero means DefaultCutoff.
	Cutoff time.Time
	// K is the list length; 0 means DefaultK.
	K int
	// Options configures the model; the zero value means DefaultOptions.
	Options Options
	// ProgressFunc, if set, is called after each evaluated customer.
	ProgressFunc func(done, total int)
}

// DefaultCutoff is 80 % of the way from the first to the last purchase, or
// the zero time when h has no purchases.
func DefaultCutoff(h History) time.Time {
	if len(h.Purchases) == 0 {
		return time.Time{}
	}
	first, last := h.Purchases[0].At, h.Purchases[len(h.Purchases)-1].At
	return first.Add(time.Duration(0.8 * float64(last.Sub(first)))).Truncate(time.Second)
}

// Evaluate trains a model on the purchases before the cutoff and, for every
// customer who bought both before and after it, compares each strategy's
// top K (asked at the cutoff) with what they bought after, on the targets
// TargetNew and TargetAll, beside the baselines computed in the same run
// from the same training purchases. h.Purchases must be sorted by At.
func Evaluate(h History, p EvalParams) Report {
	if p.K <= 0 {
		p.K = DefaultK
	}
	if p.Cutoff.IsZero() {
		p.Cutoff = DefaultCutoff(h)
	}
	split, _ := slices.BinarySearchFunc(h.Purchases, p.Cutoff, func(x Purchase, t time.Time) int { return x.At.Compare(t) })
	train, test := h.Purchases[:split], h.Purchases[split:]
	m := Train(History{Products: h.Products, Purchases: train}, p.Options)
	base := newBaselines(m, train)

	before := map[int64]map[int64]bool{}
	for _, x := range train {
		s := before[x.Customer]
		if s == nil {
			s = map[int64]bool{}
			before[x.Customer] = s
		}
		s[x.Product] = true
	}
	after := map[int64]map[int64]bool{}
	for _, x := range test {
		if before[x.Customer] == nil {
			continue
		}
		s := after[x.Customer]
		if s == nil {
			s = map[int64]bool{}
			after[x.Customer] = s
		}
		s[x.Product] = true
	}
	custs := make([]int64, 0, len(after))
	for c := range after {
		custs = append(custs, c)
	}
	slices.Sort(custs)

	newNames := append(slices.Clone(Strategies), BaselinePopular, BaselineItemKNN)
	allNames := append(slices.Clone(Strategies), BaselinePopular, BaselineItemKNN, BaselineRepeat)
	accNew, accAll := newAccums(newNames), newAccums(allNames)
	nNew := 0
	for done, c := range custs {
		past, truthAll := before[c], after[c]
		truthNew := map[int64]bool{}
		for x := range truthAll {
			if !past[x] {
				truthNew[x] = true
			}
		}
		lists := map[string][]int64{}
		for _, s := range Strategies {
			picks, _ := m.Recommend(Request{Customer: c, Strategy: s, K: p.K, Now: p.Cutoff})
			lists[s] = pickIDs(picks)
		}
		lists[BaselinePopular] = base.popular(c, p.K)
		lists[BaselineItemKNN] = base.itemKNN(c, p.K)
		if len(truthNew) > 0 {
			nNew++
			for _, name := range newNames {
				accNew[name].add(withoutPast(lists[name], past), truthNew, p.K)
			}
		}
		blendAll, _ := m.Recommend(Request{Customer: c, Strategy: Blend, K: p.K, Now: p.Cutoff, AllowRepeats: true})
		lists[Blend] = pickIDs(blendAll)
		lists[BaselineRepeat] = base.repeat(c, p.K)
		for _, name := range allNames {
			accAll[name].add(lists[name], truthAll, p.K)
		}
		if p.ProgressFunc != nil {
			p.ProgressFunc(done+1, len(custs))
		}
	}
	nProducts := len(h.Products)
	return Report{
		Cutoff:         p.Cutoff,
		K:              p.K,
		TrainPurchases: len(train),
		TestPurchases:  len(test),
		Targets: map[string]TargetReport{
			TargetNew: {Customers: nNew, Results: results(newNames, accNew, nNew, nProducts)},
			TargetAll: {Customers: len(custs), Results: results(allNames, accAll, len(custs), nProducts)},
		},
	}
}

func pickIDs(ps []Pick) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.Product
	}
	return out
}

func withoutPast(list []int64, past map[int64]bool) []int64 {
	out := make([]int64, 0, len(list))
	for _, x := range list {
		if !past[x] {
			out = append(out, x)
		}
	}
	return out
}

// accum sums one recommender's metrics over customers.
type accum struct {
	hits, recall, ndcg float64
	seen               map[int64]bool
}

func newAccums(names []string) map[string]*accum {
	out := make(map[string]*accum, len(names))
	for _, n := range names {
		out[n] = &accum{seen: map[int64]bool{}}
	}
	return out
}

// add scores one customer's list of at most k against their truth: hit if
// any of the list is in the truth; recall hits/|truth|; NDCG with binary
// relevance, DCG = Σ rel_r/log2(r+1) over ranks r = 1..len(list), divided by
// the DCG of min(|truth|, k) hits at the top.
func (a *accum) add(list []int64, truth map[int64]bool, k int) {
	h := metrics(list, truth, k)
	if h.hits > 0 {
		a.hits++
	}
	a.recall += h.recall
	a.ndcg += h.ndcg
	for _, x := range list {
		a.seen[x] = true
	}
}

type scored struct {
	hits         int
	recall, ndcg float64
}

func metrics(list []int64, truth map[int64]bool, k int) scored {
	var s scored
	if len(truth) == 0 {
		return s
	}
	dcg := 0.0
	for r, x := range list {
		if truth[x] {
			s.hits++
			dcg += 1 / math.Log2(float64(r+2))
		}
	}
	idcg := 0.0
	for r := 0; r < min(len(truth), k); r++ {
		idcg += 1 / math.Log2(float64(r+2))
	}
	s.recall = float64(s.hits) / float64(len(truth))
	s.ndcg = dcg / idcg
	return s
}

func results(names []string, acc map[string]*accum, n, nProducts int) []Result {
	out := make([]Result, 0, len(names))
	for _, name := range names {
		a := acc[name]
		r := Result{Name: name, Baseline: !slices.Contains(Strategies, name)}
		if n > 0 {
			r.HitRate, r.Recall, r.NDCG = a.hits/float64(n), a.recall/float64(n), a.ndcg/float64(n)
		}
		if nProducts > 0 {
			r.Coverage = float64(len(a.seen)) / float64(nProducts)
		}
		out = append(out, r)
	}
	return out
}

// baselines are the plain recommenders every evaluation reports beside the
// strategies, computed from the training purchases alone.
type baselines struct {
	ids     []int64           // dense index -> product id (the model's numbering)
	idx     map[int64]int32   // product id -> dense index
	orders  []float64         // orders holding each product
	m       *Model            // its orderN are the same-order co-occurrence counts
	cos     [][]float32       // cosine rows, built on first use
	cosJ    [][]int32         // their products
	scratch []float64         // score accumulator
	popRank []int32           // products by orders, best first
	hist    map[int64][]int32 // customer -> products, first purchase order
	count   map[int64][]int32 // customer -> orders holding each of hist
	inStock func(int32) bool  // the catalog filter, shared with the strategies
}

func newBaselines(m *Model, train []Purchase) *baselines {
	n := len(m.prods)
	b := &baselines{
		ids:    make([]int64, n),
		idx:    m.idx,
		orders: make([]float64, n),
		m:      m,
		hist:   map[int64][]int32{},
		count:  map[int64][]int32{},
	}
	for i := range m.prods {
		b.ids[i] = m.prods[i].id
	}
	b.inStock = func(p int32) bool {
		pr, ok := m.catalog[b.ids[p]]
		return ok && pr.InStock
	}
	type seen struct {
		at    int   // position in hist
		order int64 // last order counted
	}
	pos := map[int64]map[int32]*seen{}
	var order []int32
	flush := func() {
		slices.Sort(order)
		order = slices.Compact(order)
		for _, i := range order {
			b.orders[i]++
		}
		order = order[:0]
	}
	for k, x := range train {
		if k > 0 && (x.Order != train[k-1].Order || x.Customer != train[k-1].Customer) {
			flush()
		}
		i := b.idx[x.Product]
		order = append(order, i)
		ps := pos[x.Customer]
		if ps == nil {
			ps = map[int32]*seen{}
			pos[x.Customer] = ps
		}
		if s, ok := ps[i]; ok {
			if s.order != x.Order {
				s.order = x.Order
				b.count[x.Customer][s.at]++
			}
			continue
		}
		ps[i] = &seen{at: len(b.hist[x.Customer]), order: x.Order}
		b.hist[x.Customer] = append(b.hist[x.Customer], i)
		b.count[x.Customer] = append(b.count[x.Customer], 1)
	}
	flush()
	b.popRank = make([]int32, n)
	for i := range b.popRank {
		b.popRank[i] = int32(i)
	}
	slices.SortStableFunc(b.popRank, func(x, y int32) int {
		switch {
		case b.orders[x] > b.orders[y]:
			return -1
		case b.orders[x] < b.orders[y]:
			return 1
		}
		return 0
	})
	return b
}

// fill appends the best sellers not in skip until the list has k products.
func (b *baselines) fill(list []int64, skip map[int32]bool, k int) []int64 {
	for _, p := range b.popRank {
		if len(list) >= k {
			break
		}
		if skip[p] || !b.inStock(p) || b.orders[p] == 0 {
			continue
		}
		skip[p] = true
		list = append(list, b.ids[p])
	}
	return list
}

func (b *baselines) pastSet(c int64) map[int32]bool {
	skip := map[int32]bool{}
	for _, p := range b.hist[c] {
		skip[p] = true
	}
	return skip
}

// popular is the global bestsellers (by orders) the customer has not bought.
func (b *baselines) popular(c int64, k int) []int64 {
	return b.fill(nil, b.pastSet(c), k)
}

// itemKNN scores every product by Σ over the customer's products i of
// cos(i, j) = co(i,j)/sqrt(orders(i)·orders(j)), skips past products and
// fills from popular.
func (b *baselines) itemKNN(c int64, k int) []int64 {
	if b.cos == nil {
		b.prepareKNN()
	}
	skip := b.pastSet(c)
	score := b.scratch
	var touched []int32
	for _, i := range b.hist[c] {
		for x, j := range b.cosJ[i] {
			if score[j] == 0 {
				touched = append(touched, j)
			}
			score[j] += float64(b.cos[i][x])
		}
	}
	cs := make([]cand, 0, len(touched))
	for _, j := range touched {
		if !skip[j] && b.inStock(j) {
			cs = append(cs, cand{p: j, score: score[j]})
		}
		score[j] = 0
	}
	rank(cs)
	var list []int64
	for _, x := range cs {
		if len(list) >= k {
			break
		}
		list = append(list, b.ids[x.p])
		skip[x.p] = true
	}
	return b.fill(list, skip, k)
}

// prepareKNN turns the model's same-order co-occurrence counts into cosine
// rows.
func (b *baselines) prepareKNN() {
	n := len(b.ids)
	b.cos, b.cosJ, b.scratch = make([][]float32, n), make([][]int32, n), make([]float64, n)
	for i, row := range b.m.rows[:n] {
		js := make([]int32, 0, len(row))
		for j, s := range row {
			if s.orderN > 0 {
				js = append(js, j)
			}
		}
		slices.Sort(js)
		vs := make([]float32, len(js))
		for x, j := range js {
			vs[x] = float32(float64(row[j].orderN) / math.Sqrt(b.orders[i]*b.orders[j]))
		}
		b.cos[i], b.cosJ[i] = vs, js
	}
}

// repeat is the customer's most-ordered products (ties: first bought
// first), then popular.
func (b *baselines) repeat(c int64, k int) []int64 {
	hist, count := b.hist[c], b.count[c]
	order := make([]int, len(hist))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return int(count[y] - count[x]) })
	skip := map[int32]bool{}
	var list []int64
	for _, x := range order {
		if len(list) >= k {
			break
		}
		if !b.inStock(hist[x]) {
			continue
		}
		list = append(list, b.ids[hist[x]])
		skip[hist[x]] = true
	}
	return b.fill(list, skip, k)
}
