package recommend

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Strategy names.
const (
	Blend     = "blend"
	CrossSell = "cross-sell"
	Upsell    = "upsell"
	Replenish = "replenish"
	Popular   = "popular"
)

// Strategies lists the strategies Recommend knows; the first is the default.
var Strategies = []string{Blend, CrossSell, Upsell, Replenish, Popular}

// DefaultK is how many picks Recommend returns when Request.K is 0.
const DefaultK = 10

// Request asks for one customer's picks.
type Request struct {
	Customer int64
	Strategy string    // one of Strategies; "" means Blend
	K        int       // how many picks; 0 means DefaultK
	Now      time.Time // the send time; zero means the latest purchase the model has seen
	// RecentlySent holds the products recommended to the customer in recent
	// emails; their scores are multiplied by Options.SentPenalty.
	RecentlySent map[int64]bool
	// AllowRepeats lets Blend include products the customer bought before
	// (Replenish always may; the others never do).
	AllowRepeats bool
}

// Pick is one recommended product.
type Pick struct {
	Product  int64
	Score    float64
	Strategy string // the strategy that chose it (in Blend, the component)
	Reason   string // for a person, e.g. "bought together with DOORMAT UNION FLAG by 31 customers"
}

// cand is a scored candidate: from is the product (dense index) of the
// customer's history that contributed most, -1 if none; kind is the
// strategy (or blend component) that chose it.
type cand struct {
	p     int32
	f     int32 // in blend, the index of its features
	score float64
	from  int32
	n     int32 // for peer candidates, how many peers bought it
	kind  string
}

// scores accumulates candidate scores densely over the model's products.
// Each call's buffers hold two, reused from call to call.
type scores struct {
	val     []float64
	best    []float64
	from    []int32
	n       []int32
	touched []int32
}

// reset makes s an empty accumulator over n products.
func (s *scores) reset(n int) *scores {
	for _, j := range s.touched {
		s.val[j], s.n[j] = 0, 0
	}
	s.touched = s.touched[:0]
	if len(s.val) < n {
		s.val, s.best, s.from, s.n = make([]float64, n), make([]float64, n), make([]int32, n), make([]int32, n)
	}
	return s
}

func (s *scores) add(j int32, v float64, from int32) {
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

// cands lists the accumulated scores as candidates of a kind.
func (s *scores) cands(kind string) []cand {
	out := make([]cand, 0, len(s.touched))
	for _, j := range s.touched {
		out = append(out, cand{p: j, score: s.val[j], from: s.from[j], n: s.n[j], kind: kind})
	}
	return out
}

// Recommend returns up to r.K products for r.Customer by r.Strategy, best
// first, each with its reason. Every strategy skips products that are not in
// the catalog or not in stock, and products the customer bought (except
// Replenish, and Blend with AllowRepeats). Only Blend always fills K slots
// (from Popular) when the catalog allows. It returns an error naming the
// valid strategies when r.Strategy is unknown.
func (m *Model) Recommend(r Request) ([]Pick, error) {
	if r.Strategy == "" {
		r.Strategy = Blend
	}
	if !slices.Contains(Strategies, r.Strategy) {
		return nil, fmt.Errorf("recommend: unknown strategy %q (valid: %s)", r.Strategy, strings.Join(Strategies, ", "))
	}
	if r.K <= 0 {
		r.K = DefaultK
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if r.Now.IsZero() {
		r.Now = m.last
	}
	b := m.bufs.Get().(*buffers)
	defer m.bufs.Put(b)
	q := query{m: m, b: b, r: r, now: r.Now.Unix(), c: m.customers[r.Customer]}
	var cs []cand
	switch r.Strategy {
	case CrossSell:
		cs = q.top(q.crossSell().cands(CrossSell), false)
	case Upsell:
		cs = q.top(q.upsell().cands(Upsell), false)
	case Replenish:
		cs = q.top(q.replenish(), true)
	case Popular:
		cs = q.popular(nil)
	case Blend:
		cs = q.blend()
	}
	return q.picks(cs), nil
}

// query is one Recommend call; the model's read lock is held.
type query struct {
	m   *Model
	b   *buffers // the call's own
	r   Request
	now int64
	c   *customer

	hist   []custItem // see history
	histW  []float64
	histOK bool
}

// bought reports whether the customer bought product p before.
func (q *query) bought(p int32) bool {
	if q.c == nil {
		return false
	}
	_, ok := q.c.index[p]
	return ok
}

// available reports whether product p may be recommended at all.
func (q *query) available(p int32) bool {
	return q.m.avail[p]
}

// allowed applies the shared filters.
func (q *query) allowed(p int32, repeats bool) bool {
	return q.available(p) && (repeats || !q.bought(p))
}

// demote applies the recently-sent penalty.
func (q *query) demote(p int32, v float64) float64 {
	if len(q.r.RecentlySent) > 0 && q.r.RecentlySent[q.m.prods[p].id] {
		return v * q.m.opts.SentPenalty
	}
	return v
}

// top filters, demotes and ranks candidates, keeping K.
func (q *query) top(cs []cand, repeats bool) []cand {
	out := cs[:0]
	for _, c := range cs {
		if c.score <= 0 || !q.allowed(c.p, repeats) {
			continue
		}
		c.score = q.demote(c.p, c.score)
		out = append(out, c)
	}
	return best(out, q.r.K)
}

// better orders candidates: higher score first, ties by dense index.
func better(a, b cand) bool {
	return a.score > b.score || (a.score == b.score && a.p < b.p)
}

// best returns the k best candidates, best first, reusing cs.
func best(cs []cand, k int) []cand {
	if k <= 0 {
		return nil
	}
	if len(cs) <= 4*k {
		rank(cs)
		return cs[:min(k, len(cs))]
	}
	return topN(cs, k, better)
}

// topN returns the n best of xs by better, best first, in a new slice.
func topN[T any](xs []T, n int, better func(a, b T) bool) []T {
	if n <= 0 {
		return nil
	}
	out := make([]T, 0, n+1)
	for _, x := range xs {
		if len(out) == n && !better(x, out[n-1]) {
			continue
		}
		i, _ := slices.BinarySearchFunc(out, x, func(e, t T) int {
			if better(t, e) {
				return 1
			}
			return -1
		})
		out = slices.Insert(out, i, x)
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

// rank sorts candidates best first, ties by dense index for determinism.
func rank(cs []cand) {
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return int(a.p - b.p)
	})
}

// history returns the customer's products, most recent first, at most
// MaxHistory, with their seed weights: recency (half-life RecencyHalfLife)
// times 1+ln(orders).
func (q *query) history() ([]custItem, []float64) {
	if q.c == nil {
		return nil, nil
	}
	if q.histOK {
		return q.hist, q.histW
	}
	items := append(q.b.histBuf[:0], q.c.items...)
	q.b.histBuf = items
	slices.SortFunc(items, func(a, b custItem) int {
		if a.last != b.last {
			if a.last > b.last {
				return -1
			}
			return 1
		}
		return int(a.prod - b.prod)
	})
	if len(items) > q.m.opts.MaxHistory {
		items = items[:q.m.opts.MaxHistory]
	}
	ws := q.b.histW[:0]
	if cap(ws) < len(items) {
		ws = make([]float64, len(items))
	}
	ws = ws[:len(items)]
	q.b.histW = ws
	hl := q.m.opts.RecencyHalfLife.Seconds()
	for k, it := range items {
		age := math.Max(float64(q.now-it.last), 0)
		ws[k] = math.Exp2(-age/hl) * (1 + math.Log(float64(it.orders)))
	}
	q.hist, q.histW, q.histOK = items, ws, true
	return items, ws
}

// crossSell scores products bought by the same customers as the customer's
// own: Σ over history products i of weight(i) · sim(i, j).
func (q *query) crossSell() *scores {
	return q.fromHistory(func(nbrs, _ []nbr) []nbr { return nbrs })
}

// upsell scores products of the same category as a history product and
// pricier than it, that the product's buyers also bought: Σ over such
// history products i of weight(i) · sim(i, j).
func (q *query) upsell() *scores {
	return q.fromHistory(func(_, ups []nbr) []nbr { return ups })
}

// fromHistory sums, over the customer's history products, their weight
// times the similarity of the neighbours pick chooses.
func (q *query) fromHistory(pick func(nbrs, ups []nbr) []nbr) *scores {
	items, ws := q.history()
	s := q.b.scratch[0].reset(len(q.m.prods))
	for k, it := range items {
		for _, n := range pick(q.m.neighbours(it.prod)) {
			s.add(n.j, ws[k]*float64(n.sim), it.prod)
		}
	}
	return s
}

// peersKind labels blend picks chosen mostly by the peer component.
const peersKind = "similar-customers"

// peers scores products by what similar customers bought: Σ over the
// Peers customers v with the highest overlap cos(u,v) = |I_u ∩ I_v| /
// sqrt(|I_u|·|I_v|) of cos(u,v) · 2^(-age/PeerHalfLife), age being how long
// ago v last bought the product. from is the peer count in best.
func (q *query) peers() *scores {
	m, b := q.m, q.b
	s := b.scratch[1].reset(len(m.prods))
	items, _ := q.history()
	if len(items) == 0 {
		return s
	}
	if len(b.overlap) < len(m.custs) {
		b.overlap = make([]int32, len(m.custs))
	}
	overlap := b.overlap
	touched := b.peerCs[:0]
	self := q.c.n
	for _, it := range items {
		for _, v := range m.buyers[it.prod] {
			if v == self {
				continue
			}
			if overlap[v] == 0 {
				touched = append(touched, v)
			}
			overlap[v]++
		}
	}
	b.peerCs = touched
	// The Peers best by similarity, best first (ties by index), kept in
	// order as the touched customers are scanned.
	nu := float64(len(q.c.items))
	k := m.opts.Peers
	ps := b.peerBuf[:0]
	// A similarity is at most overlap/sqrt(nu) (the peer has a product at
	// least): once k peers are kept, a customer whose bound is below the
	// k-th similarity by more than rounding cannot enter, and their
	// product count (a cache miss in a large store) is not read.
	invSqrtNu := 1 / math.Sqrt(nu)
	for _, v := range touched {
		o := float64(overlap[v])
		overlap[v] = 0
		if len(ps) == k && peerBound && o*invSqrtNu < ps[k-1].sim*(1-1e-9) {
			continue
		}
		p := peer{v, o / math.Sqrt(nu*float64(m.custItems[v]))}
		if len(ps) == k && !p.better(ps[k-1]) {
			continue
		}
		i := len(ps)
		for i > 0 && p.better(ps[i-1]) {
			i--
		}
		if len(ps) < k {
			ps = append(ps, peer{})
		}
		copy(ps[i+1:], ps[i:len(ps)-1])
		ps[i] = p
	}
	b.peerBuf = ps
	hl := m.opts.PeerHalfLife.Seconds()
	for _, p := range ps {
		// A customer's products bought in the same order share their last
		// purchase time, and so their recency weight.
		last, r := int64(math.MinInt64), 0.0
		for _, it := range m.custs[p.v].items {
			if it.last != last {
				age := math.Max(float64(q.now-it.last), 0)
				last, r = it.last, math.Exp2(-age/hl)
			}
			s.add(it.prod, p.sim*r, -1)
		}
	}
	return s
}

// peerBound turns the bound in peers on; tests turn it off to check that
// it changes no result.
var peerBound = true

// peer is a similar customer (dense index) and their similarity.
type peer struct {
	v   int32
	sim float64
}

func (a peer) better(b peer) bool { return a.sim > b.sim || (a.sim == b.sim && a.v < b.v) }

// minProductGaps is how many repeat purchases (by anyone) a product needs
// before its typical interval is trusted.
const minProductGaps = 3

// interval is the customer's expected repurchase interval of it in days: the
// geometric mean of their own gaps shrunk towards the product's median
// interval (weight 2), or either alone; false when neither is known.
func (q *query) interval(it custItem) (float64, bool) {
	own := int(it.orders) - 1
	pd, pok := q.m.prods[it.prod].interval(minProductGaps)
	switch {
	case own > 0 && pok:
		return math.Exp((it.logGaps + 2*math.Log(pd)) / float64(own+2)), true
	case own > 0:
		return math.Exp(it.logGaps / float64(own)), true
	case pok:
		return pd, true
	}
	return 0, false
}

// replenish scores the customer's products whose repurchase interval has
// passed: (1+ln(orders)) · e^(-(overdue/interval)/2), zero before the
// interval.
func (q *query) replenish() []cand {
	if q.c == nil {
		return nil
	}
	var out []cand
	for _, it := range q.c.items {
		iv, ok := q.interval(it)
		if !ok {
			continue
		}
		elapsed := float64(q.now-it.last) / 86400
		if elapsed < iv {
			continue
		}
		over := (elapsed - iv) / math.Max(iv, 1)
		v := (1 + math.Log(float64(it.orders))) * math.Exp(-over/2)
		out = append(out, cand{p: it.prod, score: v, from: it.prod, kind: Replenish})
	}
	return out
}

// repeats scores every product the customer bought for Blend with repeats:
// (1+ln(orders)) · recency, times 2 when its interval has passed.
func (q *query) repeats() []cand {
	if q.c == nil {
		return nil
	}
	hl := q.m.opts.RecencyHalfLife.Seconds()
	out := make([]cand, 0, len(q.c.items))
	for _, it := range q.c.items {
		age := math.Max(float64(q.now-it.last), 0)
		v := (1 + math.Log(float64(it.orders))) * math.Exp2(-age/hl)
		out = append(out, cand{p: it.prod, score: v, from: it.prod, kind: Replenish})
	}
	return out
}

// popularity returns every product's recent popularity (daily order counts
// weighted by PopularHalfLife, plus a tiny all-time term to break ties) and
// the products ranked by it. Both are cached per day and model version.
func (q *query) popularity() ([]float64, []int32) {
	st := q.popStats()
	return st.score, st.rank
}

// rankBy returns the indexes of xs, highest first, ties by index.
func rankBy(xs []float64) []int32 {
	rk := make([]int32, len(xs))
	for i := range rk {
		rk[i] = int32(i)
	}
	slices.SortFunc(rk, func(a, b int32) int {
		switch {
		case xs[a] > xs[b]:
			return -1
		case xs[a] < xs[b]:
			return 1
		}
		return int(a - b)
	})
	return rk
}

// popular returns the K best sellers that pass the filters and are not in
// skip. Recently sent products are demoted.
func (q *query) popular(skip map[int32]bool) []cand {
	score, rk := q.popularity()
	var out []cand
	// Demotion can reorder; look a little further than K.
	limit := q.r.K
	for _, p := range rk {
		if skip[p] || !q.allowed(p, false) || score[p] <= 0 {
			continue
		}
		v := q.demote(p, score[p])
		out = append(out, cand{p: p, score: v, from: -1, kind: Popular})
		if v == score[p] {
			limit--
		}
		if limit <= 0 {
			break
		}
	}
	rank(out)
	if len(out) > q.r.K {
		out = out[:q.r.K]
	}
	return out
}

// maxOf is the highest accumulated score.
func maxOf(s *scores) float64 {
	mx := 0.0
	for _, j := range s.touched {
		mx = math.Max(mx, s.val[j])
	}
	return mx
}

// picks turns ranked candidates into picks with their reasons.
func (q *query) picks(cs []cand) []Pick {
	out := make([]Pick, 0, len(cs))
	for _, c := range cs {
		out = append(out, Pick{
			Product:  q.m.prods[c.p].id,
			Score:    c.score,
			Strategy: c.kind,
			Reason:   q.reason(c),
		})
	}
	return out
}

// reason explains a pick in words.
func (q *query) reason(c cand) string {
	m := q.m
	b := text(q.b.textBuf[:0])
	switch c.kind {
	case peersKind:
		b = b.s("bought lately by ").n(int(c.n), "customer").s(" who buy what you buy")
	case CrossSell:
		n := int(m.rows[c.from][c.p].custN)
		b = b.s("bought together with ").s(m.title(c.from)).s(" by ").n(n, "customer")
	case Upsell:
		n := int(m.rows[c.from][c.p].custN)
		b = b.s("a step up from ").s(m.title(c.from)).s(" in ").s(m.catalog[m.prods[c.p].id].Category).s(", chosen by ").
			n(n, "customer").s(" who bought it")
	case Replenish:
		it := q.c.items[q.c.index[c.p]]
		ago := int(math.Round(float64(q.now-it.last) / 86400))
		b = b.s("bought ").n(int(it.orders), "time")
		if iv, ok := q.interval(it); ok {
			b = b.s(", about every ").n(int(math.Round(iv)), "day")
		}
		b = b.s("; last ").n(ago, "day").s(" ago")
	case tasteKind:
		return q.tasteReason(c.p)
	case newKind:
		ps := &m.prods[c.p]
		days := int(math.Max(float64(q.now-ps.first), 0) / 86400)
		b = b.s("new this season: first sold ").n(days, "day").s(" ago, in ").n(int(ps.orders), "order").s(" since")
	case Popular:
		w := int64(m.opts.PopularWindow.Hours() / 24)
		if n := m.prods[c.p].recentOrders(dayOf(q.now), w); n > 0 {
			b = append(strconv.AppendInt(b.s("a bestseller: in ").n(n, "order").s(" in the last "), w, 10), " days"...)
		} else {
			b = b.s("a bestseller: in ").n(int(m.prods[c.p].orders), "order")
		}
	default:
		return ""
	}
	q.b.textBuf = b
	return string(b)
}

// text builds a reason in a reused buffer.
type text []byte

func (b text) s(x string) text { return append(b, x...) }

// n appends plural(n, unit).
func (b text) n(n int, unit string) text {
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(append(b, ' '), unit...)
	if n != 1 {
		b = append(b, 's')
	}
	return b
}

// title is a product's title, or its id when the catalog has none.
func (m *Model) title(p int32) string {
	id := m.prods[p].id
	if pr, ok := m.catalog[id]; ok && pr.Title != "" {
		return pr.Title
	}
	return fmt.Sprintf("product %d", id)
}
