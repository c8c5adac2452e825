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
// Each call's buffers hold two, reused from call to call. A product's
// figures lie together (mostly in one cache line, where four arrays took
// four), and outside touched they are score0's: a product's first score
// needs no set-up.
type scores struct {
	e       []score
	touched []int32 // room for every product and one more (see addNbrs)
}

// score is one product's accumulated score.
type score struct {
	val  float64
	best float64 // the highest term, -1 before any
	n    int32   // terms
	from int32   // the product the best term came through, -1 if none
}

// score0 is a score before any term.
var score0 = score{best: -1, from: -1}

// reset makes s an empty accumulator over n products.
func (s *scores) reset(n int) *scores {
	for _, j := range s.touched {
		s.e[j] = score0
	}
	s.touched = s.touched[:0]
	if len(s.e) < n {
		s.e = make([]score, n)
		for j := range s.e {
			s.e[j] = score0
		}
		s.touched = make([]int32, 0, n+1)
	}
	return s
}

// addNbrs adds w·sim of each of nbrs to its product's score, through
// product from. Whether a product is new is not predictable, so it is
// listed without a branch: written past the end of the list, which grows
// over it only when it is new (a conditional increment compiles to no
// branch).
func (s *scores) addNbrs(nbrs []nbr, w float64, from int32) {
	es := s.e
	t, k := s.touched[:cap(s.touched)], len(s.touched)
	for _, nb := range nbrs {
		j, v := nb.j, w*float64(nb.sim)
		e := &es[j]
		t[k] = j
		if e.n == 0 {
			k++
		}
		e.n++
		e.val += v
		if v > e.best {
			e.best, e.from = v, from
		}
	}
	s.touched = t[:k]
}

// addRecent adds sim times the recency weight of each of a customer's
// products to its score (best and from are left: nothing reads them), as
// addNbrs does.
func (s *scores) addRecent(items []custItem, sim float64, rw *recencyWeights) {
	es := s.e
	t, k := s.touched[:cap(s.touched)], len(s.touched)
	for _, it := range items {
		e := &es[it.prod]
		t[k] = it.prod
		if e.n == 0 {
			k++
		}
		e.n++
		e.val += sim * rw.of(it.last)
	}
	s.touched = t[:k]
}

// values returns the scores of the touched products, in touched's order,
// in buf (reused): read at random once, then in order.
func (s *scores) values(buf []float64) []float64 {
	buf = buf[:0]
	for _, j := range s.touched {
		buf = append(buf, s.e[j].val)
	}
	return buf
}

// cands lists the accumulated scores as candidates of a kind.
func (s *scores) cands(kind string) []cand {
	out := make([]cand, 0, len(s.touched))
	for _, j := range s.touched {
		e := &s.e[j]
		out = append(out, cand{p: j, score: e.val, from: e.from, n: e.n, kind: kind})
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
	t := topK{k: k, cs: make([]cand, 0, k)}
	for _, c := range cs {
		t.add(c)
	}
	return t.cs
}

// topK keeps the k best candidates offered so far by better, best first
// (candidates of different products: better orders them totally). best
// uses it over a slice; blend offers candidates as it scores them.
type topK struct {
	k  int
	cs []cand
}

func (t *topK) full() bool { return len(t.cs) >= t.k }

// last returns the k-th best so far.
func (t *topK) last() cand { return t.cs[len(t.cs)-1] }

// add offers c and reports whether it was kept.
func (t *topK) add(c cand) bool {
	if t.k <= 0 || t.full() && !better(c, t.last()) {
		return false
	}
	if !t.full() {
		t.cs = append(t.cs, c)
	}
	i := len(t.cs) - 1
	for ; i > 0 && better(c, t.cs[i-1]); i-- {
		t.cs[i] = t.cs[i-1]
	}
	t.cs[i] = c
	return true
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
		s.addNbrs(pick(q.m.neighbours(it.prod)), ws[k], it.prod)
	}
	return s
}

// peersKind labels blend picks chosen mostly by the peer component.
const peersKind = "similar-customers"

// peers scores products by what similar customers bought: Σ over the
// Peers customers v with the highest overlap cos(u,v) = |I_u ∩ I_v| /
// sqrt(|I_u|·|I_v|) of cos(u,v) · 2^(-age/PeerHalfLife), age being how long
// ago v last bought the product. n is the count of peers who bought it.
func (q *query) peers() *scores {
	m := q.m
	s := q.b.scratch[1].reset(len(m.prods))
	items, _ := q.history()
	if len(items) == 0 {
		return s
	}
	ps := q.bestPeers(q.countOverlaps(items), len(items), m.opts.Peers)
	rw := newRecencyWeights(q.now, m.opts.PeerHalfLife.Seconds())
	for _, p := range ps {
		s.addRecent(m.custs[p.v].items, p.sim, rw)
	}
	return s
}

// countOverlaps counts in the overlap buffer, for every other customer
// who bought one of items, how many of them they bought, and returns
// those customers, each once, in a reused buffer.
func (q *query) countOverlaps(items []custItem) []int32 {
	m, b := q.m, q.b
	if len(b.overlap) < len(m.custs) {
		b.overlap = make([]int32, len(m.custs))
	}
	// The list has a place per buyer met, or per customer if fewer. A write
	// goes one place past the customers listed so far, but the customer
	// (among their products' buyers) is never listed: at most len(custs)-1
	// are, so the last write lands within len(custs).
	need := 0
	for _, it := range items {
		need += len(m.buyers[it.prod])
	}
	if need = min(need, len(m.custs)); len(b.peerCs) < need {
		b.peerCs = make([]int32, need)
	}
	overlap, touched := b.overlap, b.peerCs
	// A customer is listed on their first count, without a branch (whether
	// a buyer is new is not predictable): each buyer is written to the next
	// free place, which is taken only when they are new. The customer is
	// among their products' buyers: starting their own count at 1 keeps
	// them off the list without a test per buyer.
	self := q.c.n
	overlap[self] = 1
	n := 0
	for _, it := range items {
		for _, v := range m.buyers[it.prod] {
			o := overlap[v]
			touched[n] = v
			if o == 0 {
				n++
			}
			overlap[v] = o + 1
		}
	}
	overlap[self] = 0
	return touched[:n]
}

// bestPeers returns the k (> 0) customers of touched most similar to the
// customer, best first (ties by index), in a reused buffer, and zeroes
// their overlap counts, which are at most maxOverlap.
func (q *query) bestPeers(touched []int32, maxOverlap, k int) []peer {
	m, b := q.m, q.b
	nu := float64(len(q.c.items))
	bound := q.peerBounds(nu, maxOverlap)
	overlap, ps := b.overlap, b.peerBuf[:0]
	// Once k peers are kept, a customer cannot enter whose similarity is
	// below the k-th (cut): surely so when their bound is (and their
	// product count, a cache miss in a large store, is not read), or when
	// o² < cut²·nu·n by far more than rounding (no square root or division:
	// most customers on Online Retail pass the bound, few enter).
	cut, cut2 := math.Inf(-1), -1.0
	for _, v := range touched {
		o := overlap[v]
		overlap[v] = 0
		if bound[o] < cut {
			continue
		}
		n := float64(m.custItems[v])
		if float64(o)*float64(o) < cut2*n {
			continue
		}
		p := peer{v, float64(o) / math.Sqrt(nu*n)}
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
		if len(ps) == k && peerBound {
			cut = ps[k-1].sim
			cut2 = cut * cut * nu * (1 - 1e-9)
		}
	}
	b.peerBuf = ps
	return ps
}

// peerBounds returns, by overlap o up to maxOverlap, the highest similarity a
// customer sharing o of the customer's nu products can have, in a reused
// buffer. They have o products at least, so their similarity
// o/sqrt(nu·n) is at most o/sqrt(nu·o), computed in the same steps: each
// step's rounding keeps the order of its inputs, so the bound holds to
// the bit. It is tighter than o/sqrt(nu) (a product at least) by sqrt(o).
func (q *query) peerBounds(nu float64, maxOverlap int) []float64 {
	bound := append(q.b.peerMax[:0], 0)
	for o := 1; o <= maxOverlap; o++ {
		bound = append(bound, float64(o)/math.Sqrt(nu*float64(o)))
	}
	q.b.peerMax = bound
	return bound
}

// recencyWeights memoises 2^(-age/hl) by purchase time: a customer's
// products share the times of their few orders (peers' ~1,300 products
// on Online Retail have ~90), and the exponential costs more than a
// lookup. A slot holds the last time hashed to it and its weight.
type recencyWeights struct {
	now  int64
	hl   float64
	slot [256]struct {
		t int64
		r float64
	}
}

// newRecencyWeights returns an empty memo: each slot holds the time
// math.MinInt64 with weight 0, a time no purchase has (the loop it
// replaced began from the same pair, but gave that time weight 1 after a
// first purchase: neither can happen with real times).
func newRecencyWeights(now int64, hl float64) *recencyWeights {
	w := &recencyWeights{now: now, hl: hl}
	for i := range w.slot {
		w.slot[i].t = math.MinInt64
	}
	return w
}

// of returns the weight of purchase time t.
func (w *recencyWeights) of(t int64) float64 {
	e := &w.slot[uint64(t)*0x9e3779b97f4a7c15>>56]
	if e.t != t {
		age := math.Max(float64(w.now-t), 0)
		e.t, e.r = t, math.Exp2(-age/w.hl)
	}
	return e.r
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

// maxOf is the highest of vals, at least 0: math.Max over them, without a
// call per value. Its special cases only differ from a comparison with
// NaN (math.Max returns NaN, unless a value is +Inf), and a comparison
// keeps +0 against −0 as it does.
func maxOf(vals []float64) float64 {
	mx, nan := 0.0, false
	for _, v := range vals {
		if v > mx {
			mx = v
		} else if v != v {
			nan = true
		}
	}
	if nan && !math.IsInf(mx, 1) {
		return math.NaN()
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
