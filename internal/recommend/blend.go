package recommend

import (
	"math"
	"slices"
	"strconv"
)

// Blend ranks every candidate by a logistic model over features of the
// candidate, the customer and the pair: the fitted weights (blendWeights)
// turn them into the log-odds that the customer buys the product in the
// following weeks. Products new to the customer and the customer's own
// products (with AllowRepeats) have a weight vector each, fitted on the
// same customers, so their probabilities are comparable and one ranking
// decides how many repeat slots a customer gets.

// Feature indexes. Every feature is computed at the query's Now.
const (
	fBias     = iota
	fXS       // cross-sell score over the customer's highest
	fXSSqrt   // its square root (the log-odds rise fastest near zero)
	fXSSeeds  // ln(1 + the customer's products that lead to it)
	fPeer     // peer (similar-customers) score over the customer's highest
	fPeerSqrt // its square root
	fPop      // popularity (PopularHalfLife) over the highest
	fLog7     // ln(1 + orders in the last 7 days)
	fLog30    // ln(1 + orders in the last 30 days)
	fLogAll   // ln(1 + orders ever)
	fAge      // ln(1 + days since the product's first sale)
	fNew      // first sold in the last 45 days
	fCat      // share of the customer's products in its category
	fPrice    // |ln price − mean ln price of the customer's products|
	fWord     // mean over its title words of the share of the customer's products with the word
	fWordMax  // the highest of those shares
	fXSLog    // ln(0.001 + cross-sell score over the customer's highest)
	fWordRec  // fWord with the customer's products weighted by recency (RecencyHalfLife)
	fWordIDF  // fWord weighted by the words' inverse document frequency
	fTrend    // mean over its title words of ln((1 + orders in 14 days) / (1 + orders in 128 days · 14/128))
	fPTrend   // the product's own ln((1 + orders in 14 days) / (1 + orders in 128 days · 14/128))
	fPTrend28 // the same over 28 days
	fOrders   // repeats: ln(orders of it by the customer)
	fSince    // repeats: ln(1 + days since they last bought it)
	fDue      // repeats: days since last over the expected interval, at most 4
	fQty      // repeats: ln(1 + quantity bought)
	fShare    // repeats: share of the customer's orders that held it
	fDecayed  // repeats: ln(1 + its orders weighted by 2^(−age/60 d))
	fSkip     // repeats: ln(1 + the customer's orders since they last bought it)
	fSkipRate // repeats: those orders over their orders per purchase of it (orders / its orders), at most 4
	fCItems   // customer: ln(1 + products bought)
	fCSince   // customer: ln(1 + days since the last order)
	fCRepeat  // customer: share of their order lines that were repeats
	fCOrders  // customer: ln(1 + orders placed)
	fCDue     // customer: days since the last order over their mean gap between orders, at most 4 (0 with one order)
	nFeat
)

type features [nFeat]float64

// featureNames name the features for the fitting test's output.
var featureNames = [nFeat]string{
	"bias", "xs", "xs_sqrt", "xs_seeds", "peer", "peer_sqrt", "pop", "log7", "log30", "log_all",
	"age", "new", "cat", "price", "word", "word_max", "xs_log", "word_rec", "word_idf", "trend", "p_trend", "p_trend28", "orders", "since", "due", "qty", "share", "decayed", "skip", "skip_rate", "c_items", "c_since", "c_repeat", "c_orders", "c_due",
}

// weights are blend's two weight vectors: for products new to the
// customer, and for their own products (AllowRepeats).
type weights [2]features

// Indexes of weights.
const (
	wNew = iota
	wRepeat
)

// blendWeights are the logistic weights for products new to the customer
// ([0]) and their own products ([1]), fitted on eight rolling splits of
// the validation history: REMARKET_FIT=direct
// REMARKET_FIT_TRAIN=S1,S2,S3,B,S5,T1,T2,T3 go test -run TestFitDirect
// (docs/recommendations.md). blendSpans, which blend's scoring reads,
// holds their nonzero runs as they are at start-up: weights assigned later
// would need it recomputed.
var blendWeights = weights{
	{fBias: -5.109, fXS: -1.62, fXSSqrt: 4.238, fXSSeeds: -0.212, fPeer: 0.1222, fPeerSqrt: 0.6469, fPop: -1.019, fLog7: 0.03362, fLog30: -0.1018, fLogAll: 0.5216, fAge: -0.5509, fNew: -0.299, fCat: -0.2621, fPrice: -0.06147, fWord: -3.441, fWordMax: -0.462, fXSLog: -0.0296, fWordRec: 1.882, fWordIDF: 10.6, fTrend: 0.3035, fPTrend: 0.2473, fPTrend28: 0.3653, fCItems: 0.683, fCSince: 0.1959, fCRepeat: -0.8243, fCOrders: -0.07097, fCDue: -0.05017},
	{fBias: -5.121, fPop: 1.726, fLog7: 0.3711, fLog30: 0.2899, fLogAll: 0.4398, fAge: -0.08577, fNew: -0.2165, fCat: -0.2247, fPrice: 0.2176, fWord: 1.803, fWordMax: -0.8451, fWordRec: -0.4539, fWordIDF: 2.545, fTrend: 0.2325, fPTrend: 0.3135, fPTrend28: -0.0299, fOrders: 2.016, fSince: 0.1845, fDue: -0.005616, fQty: 0.23, fShare: 0.3045, fDecayed: 1.323, fSkip: -0.2671, fSkipRate: 0.02845, fCItems: 0.4502, fCSince: 0.2037, fCRepeat: 0.3919, fCOrders: 0.0001789, fCDue: 0.08832},
}

// popCands and newCands are how many of the most popular products, and
// of the most popular new ones, are candidates for every customer;
// compCands how many of the best by cross-sell and by peers (a wholesaler's
// thousands add cost, not hits).
const popCands, newCands, compCands = 300, 150, 300

// newWindow is how recent a first sale makes a product new.
const newWindow = 45

// popStats are the per-product figures of one day and model version that
// do not depend on the customer.
type popStats struct {
	score    []float64 // PopularHalfLife-weighted daily orders (+1e-6 · all-time)
	rank     []int32   // products by score, best first
	newRank  []int32   // products first sold in the last newWindow days, by score
	info     []prodInfo
	idf      []float64 // per title word, its inverse document frequency
	nCats    int       // categories numbered in info
	maxScore float64
}

// prodInfo is one product's customer-independent features.
type prodInfo struct {
	base     features // fPop, fLog7, fLog30, fLogAll, fAge, fNew, fTrend, fPTrend, fPTrend28
	cat      int32    // category number
	logPrice float64  // ln price, 0 when unknown
	idfSum   float64  // Σ idf of its title words
}

// blendInput is what one customer's candidates are scored from.
type blendInput struct {
	xs, ps     *scores
	xv, pv     []float64 // their values, in touched's order
	maxX, maxP float64
	pop        *popStats
	catN       []float64 // per category number, the customer's products in it
	meanPrice  float64   // mean ln price of their priced products
	wordN      []float64 // per word, the customer's products with it
	wordR      []float64 // the same weighted by recency
	sumR       float64   // the recency weights' sum
	cust       features  // the customer features
}

// eachBlendCand calls fn with every candidate of blend for the customer
// and its features (in a buffer reused after the call): cross-sell and
// peer candidates, the popCands most popular and the newCands most popular
// new products, not bought (and, with repeats, the customer's own
// products). The caller holds mu.
func (q *query) eachBlendCand(repeats bool, fn func(c cand, f *features)) {
	in := q.blendInput()
	m, b := q.m, q.b
	if len(b.seen) < len(m.prods) {
		b.seen = make([]bool, len(m.prods))
	}
	// seen marks the products already considered (listed in considered),
	// and those bought.
	seen, considered, f := b.seen, b.candPs[:0], &b.feat
	if q.c != nil {
		for _, it := range q.c.items {
			seen[it.prod] = true
		}
	}
	consider := func(p int32) {
		if seen[p] || !q.available(p) {
			return
		}
		seen[p] = true
		considered = append(considered, p)
		q.newFeatures(f, p, in)
		fn(cand{p: p, from: -1}, f)
	}
	for _, p := range b.topTouched(in.xs.touched, in.xv, compCands) {
		consider(p)
	}
	for _, p := range b.topTouched(in.ps.touched, in.pv, compCands) {
		consider(p)
	}
	for _, p := range in.pop.rank[:min(len(in.pop.rank), popCands)] {
		consider(p)
	}
	for _, p := range in.pop.newRank[:min(len(in.pop.newRank), newCands)] {
		consider(p)
	}
	for _, p := range considered {
		seen[p] = false
	}
	b.candPs = considered
	if q.c != nil {
		for _, it := range q.c.items {
			seen[it.prod] = false
			if repeats && q.available(it.prod) {
				q.repeatFeatures(f, &it, in)
				fn(cand{p: it.prod, from: it.prod, kind: Replenish}, f)
			}
		}
	}
	q.clearWords(in)
}

// clearWords zeroes the customer's word and category counts for the next
// query.
func (q *query) clearWords(in *blendInput) {
	if in.wordN == nil {
		return
	}
	for _, it := range q.c.items {
		for _, w := range q.m.words[it.prod] {
			in.wordN[w], in.wordR[w] = 0, 0
		}
		in.catN[in.pop.info[it.prod].cat] = 0
	}
}

// blendInput computes the customer's component scores and profile.
func (q *query) blendInput() *blendInput {
	m, b := q.m, q.b
	in := &b.in
	*in = blendInput{xs: q.crossSell(), pop: q.popStats()}
	in.ps = b.scratch[1].reset(len(m.prods))
	if m.opts.PeerMix > 0 {
		in.ps = q.peers()
	}
	in.xv, in.pv = in.xs.values(b.xv), in.ps.values(b.pv)
	b.xv, b.pv = in.xv, in.pv
	in.maxX, in.maxP = maxOf(in.xv), maxOf(in.pv)
	in.cust[fBias] = 1
	if q.c == nil {
		return in
	}
	if len(b.wordN) < len(m.vocab) {
		b.wordN, b.wordR = make([]float64, len(m.vocab)), make([]float64, len(m.vocab))
	}
	if len(b.catN) < in.pop.nCats {
		b.catN = make([]float64, in.pop.nCats)
	}
	in.wordN, in.wordR, in.catN = b.wordN, b.wordR, b.catN
	hl := m.opts.RecencyHalfLife.Seconds()
	n := 0
	first := q.c.last
	last, r := int64(math.MinInt64), 0.0
	for _, it := range q.c.items {
		first = min(first, it.first)
		if it.last != last {
			last, r = it.last, math.Exp2(-math.Max(float64(q.now-it.last), 0)/hl)
		}
		in.sumR += r
		for _, w := range m.words[it.prod] {
			in.wordN[w]++
			in.wordR[w] += r
		}
		info := &in.pop.info[it.prod]
		in.catN[info.cat]++
		if info.logPrice != 0 {
			in.meanPrice += info.logPrice
			n++
		}
	}
	if n > 0 {
		in.meanPrice /= float64(n)
	}
	in.cust[fCItems] = math.Log1p(float64(len(q.c.items)))
	in.cust[fCSince] = math.Log1p(math.Max(float64(q.now-q.c.last), 0) / 86400)
	if q.c.lines > 0 {
		in.cust[fCRepeat] = float64(q.c.repeat) / float64(q.c.lines)
	}
	in.cust[fCOrders] = math.Log1p(float64(q.c.orders))
	if q.c.orders > 1 && first < q.c.last {
		gap := float64(q.c.last-first) / float64(q.c.orders-1)
		in.cust[fCDue] = math.Min(math.Max(float64(q.now-q.c.last), 0)/gap, 4)
	}
	return in
}

// productFeatures sets f to the features of product p shared by new and
// repeat candidates (zero for the others).
func (q *query) productFeatures(f *features, p int32, in *blendInput) {
	info := &in.pop.info[p]
	*f = info.base
	copy(f[fCItems:], in.cust[fCItems:])
	f[fBias] = 1
	if in.catN == nil {
		return
	}
	items := float64(len(q.c.items))
	f[fCat] = in.catN[info.cat] / items
	if info.logPrice != 0 && in.meanPrice != 0 {
		f[fPrice] = math.Abs(info.logPrice - in.meanPrice)
	}
	ws := q.m.words[p]
	for _, w := range ws {
		if in.wordN[w] == 0 {
			// Each sum below would add ±0 (wordR is 0 too) to a value
			// begun at +0, so never −0: no change.
			continue
		}
		v := in.wordN[w] / items
		f[fWord] += v / float64(len(ws))
		if v > f[fWordMax] { // math.Max, without its NaN and −0 cases: v ≥ 0
			f[fWordMax] = v
		}
		if info.idfSum > 0 {
			f[fWordIDF] += v * in.pop.idf[w] / info.idfSum
		}
		if in.sumR > 0 {
			f[fWordRec] += in.wordR[w] / in.sumR / float64(len(ws))
		}
	}
}

// newFeatures fills the features of a product new to the customer.
func (q *query) newFeatures(f *features, p int32, in *blendInput) {
	q.productFeatures(f, p, in)
	if in.maxX > 0 {
		f[fXS] = in.xs.e[p].val / in.maxX
		f[fXSSqrt] = math.Sqrt(f[fXS])
		f[fXSSeeds] = log1pCount(in.xs.e[p].n)
	}
	f[fXSLog] = logXSFloor // most candidates do not come from cross-sell: no logarithm to take
	if f[fXS] != 0 {
		f[fXSLog] = math.Log(0.001 + f[fXS])
	}
	if in.maxP > 0 {
		f[fPeer] = in.ps.e[p].val / in.maxP
		f[fPeerSqrt] = math.Sqrt(f[fPeer])
	}
}

// logXSFloor is fXSLog without a cross-sell score.
var logXSFloor = math.Log(0.001)

// log1pCount is ln(1+n) for a count n ≥ 0, looked up for the small ones:
// the customer's products that lead to a candidate number MaxHistory (60)
// at most, and the logarithm took a seventh of newFeatures' time.
func log1pCount(n int32) float64 {
	if uint32(n) < uint32(len(log1pSmall)) {
		return log1pSmall[n]
	}
	return math.Log1p(float64(n))
}

// log1pSmall holds ln(1+n) for n < 128.
var log1pSmall = func() (t [128]float64) {
	for n := range t {
		t[n] = math.Log1p(float64(n))
	}
	return t
}()

// repeatFeatures fills the features of a product the customer bought.
func (q *query) repeatFeatures(f *features, it *custItem, in *blendInput) {
	q.productFeatures(f, it.prod, in)
	f[fOrders] = math.Log(float64(it.orders))
	elapsed := math.Max(float64(q.now-it.last)/86400, 0)
	f[fSince] = math.Log1p(elapsed)
	if iv, ok := q.interval(*it); ok {
		f[fDue] = math.Min(elapsed/math.Max(iv, 1), 4)
	}
	f[fQty] = math.Log1p(float64(it.qty))
	f[fShare] = float64(it.orders) / float64(max(q.c.orders, 1))
	f[fDecayed] = math.Log1p(it.decayedOrders(q.now))
	ts := q.c.times
	since, _ := slices.BinarySearch(ts, it.last+1)
	since = len(ts) - since
	f[fSkip] = math.Log1p(float64(since))
	f[fSkipRate] = math.Min(float64(since)*float64(it.orders)/float64(max(q.c.orders, 1)), 4)
}

// span is a run [lo, hi) of features.
type span struct{ lo, hi int }

// nonzero returns the runs of w's nonzero weights.
func nonzero(w *features) []span {
	var out []span
	for i := 0; i < len(w); {
		if w[i] == 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(w) && w[j] != 0 {
			j++
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

// blendSpans are the runs of nonzero weights of blendWeights.
var blendSpans = [2][]span{nonzero(&blendWeights[wNew]), nonzero(&blendWeights[wRepeat])}

// logOddsOver is w·f over the runs of nonzero weights, to the bit: a
// term it leaves out is ±0 (the features are finite), and adding ±0 leaves
// a sum begun at +0 as it is (such a sum is never −0). The additions run
// one after another, so each left out saves their latency.
func logOddsOver(runs []span, w, f *features) float64 {
	v := 0.0
	for _, r := range runs {
		ws, fs := w[r.lo:r.hi], f[r.lo:r.hi]
		for i := range ws {
			v += ws[i] * fs[i]
		}
	}
	return v
}

// Feature groups, for the reason of a pick: the group that adds most to
// its log-odds names the component. A group lists up to five features; -1
// ends a shorter list. addContributions writes the lists out.
var labelGroups = [...]struct {
	idx  [5]int
	kind string
}{
	{[5]int{fXS, fXSSqrt, fXSSeeds, fXSLog, -1}, CrossSell},
	{[5]int{fPeer, fPeerSqrt, -1, -1, -1}, peersKind},
	{[5]int{fPop, fLog7, fLog30, fLogAll, fTrend}, Popular},
	{[5]int{fNew, fAge, -1, -1, -1}, newKind},
	{[5]int{fWord, fWordMax, fWordRec, fWordIDF, fCat}, tasteKind},
}

// groupScores are the contributions of each label group to a log-odds.
type groupScores [len(labelGroups)]float64

// contributions returns each group's sum of w[i]·f[i].
func contributions(w, f *features) groupScores {
	var out groupScores
	addContributions(&out, w, f)
	return out
}

// addContributions adds each group's sum of w[i]·f[i] to sum: the terms
// in labelGroups' order, one at a time (the same bits also where Go fuses
// a multiply and an add). It is written out, not looped over labelGroups,
// as it runs for every candidate (TestContributionsFollowGroups checks
// that the two agree); sum is a pointer since an array result is copied
// through memory.
func addContributions(sum *groupScores, w, f *features) {
	s := w[fXS] * f[fXS]
	s += w[fXSSqrt] * f[fXSSqrt]
	s += w[fXSSeeds] * f[fXSSeeds]
	s += w[fXSLog] * f[fXSLog]
	sum[0] += s
	s = w[fPeer] * f[fPeer]
	s += w[fPeerSqrt] * f[fPeerSqrt]
	sum[1] += s
	s = w[fPop] * f[fPop]
	s += w[fLog7] * f[fLog7]
	s += w[fLog30] * f[fLog30]
	s += w[fLogAll] * f[fLogAll]
	s += w[fTrend] * f[fTrend]
	sum[2] += s
	s = w[fNew] * f[fNew]
	s += w[fAge] * f[fAge]
	sum[3] += s
	s = w[fWord] * f[fWord]
	s += w[fWordMax] * f[fWordMax]
	s += w[fWordRec] * f[fWordRec]
	s += w[fWordIDF] * f[fWordIDF]
	s += w[fCat] * f[fCat]
	sum[4] += s
}

// label names the component that lifts a new product most above the
// average candidate (base): popularity adds much to every candidate's
// log-odds, so measured from zero it would name nearly every pick, while
// what set this one apart was often what it goes with or the customer's
// taste. Popular when nothing stands out.
func label(w, f *features, base *groupScores) string {
	best, kind := 0.0, Popular
	for gi, v := range contributions(w, f) {
		if v -= base[gi]; v > best {
			best, kind = v, labelGroups[gi].kind
		}
	}
	return kind
}

// tasteKind labels blend picks chosen mostly for the words of their title
// that the customer's products share.
const tasteKind = "your-taste"

// tasteReason names the title word of product p that most of the
// customer's products have: "like 12 products you bought with HEART in the
// name", or, when only one has it, that product and the word, since one
// shared word alone can pair unlike things ("TEA in the name, like the TEA
// LIGHT HOLDER you bought" says why a teapot was picked; "like the TEA
// LIGHT HOLDER" would not).
func (q *query) tasteReason(p int32) string {
	m := q.m
	best, n, one := int32(-1), 0, int32(-1)
	for _, w := range m.words[p] {
		k, last := 0, int32(-1)
		for _, it := range q.c.items {
			if slices.Contains(m.words[it.prod], w) {
				k, last = k+1, it.prod
			}
		}
		if k > n {
			best, n, one = w, k, last
		}
	}
	switch {
	case best < 0:
		return "in the style of what you bought"
	case n == 1:
		return m.vocabList[best] + " in the name, like the " + m.title(one) + " you bought"
	}
	return "like " + strconv.Itoa(n) + " products you bought with " + m.vocabList[best] + " in the name"
}

// newKind labels blend picks chosen mostly for being new and selling.
const newKind = "new-arrival"

// blend ranks the candidates of eachBlendCand by their fitted probability
// (new products and, with AllowRepeats, the customer's own in one ranking)
// and fills what is left from Popular, so that a cold customer gets
// bestsellers. Each pick is labelled with the component that contributed
// most: cross-sell, similar-customers, popular, new-arrival or replenish.
func (q *query) blend() []cand {
	if q.c == nil || len(q.c.items) == 0 {
		// The weights were fitted on customers with a history; without one
		// every feature but popularity is zero.
		return q.popular(nil)
	}
	out, fs, base := q.blendRank()
	xs, ps := &q.b.scratch[0], &q.b.scratch[1]
	for k := range out {
		c := &out[k]
		if c.kind == Replenish {
			continue
		}
		c.kind = label(&blendWeights[wNew], &fs[c.f], &base)
		switch c.kind {
		case CrossSell:
			c.from = xs.e[c.p].from
		case peersKind:
			c.n = ps.e[c.p].n
		}
	}
	if len(out) < q.r.K {
		taken := map[int32]bool{}
		for _, c := range out {
			taken[c.p] = true
		}
		rq := *q
		rq.r.K = q.r.K - len(out)
		out = append(out, rq.popular(taken)...)
	}
	return out
}

// blendRank scores the candidates of eachBlendCand as they come (every
// one may be recommended: it filtered them), demotes them and returns the
// K best, best first, with the mean group contributions of the new-product
// candidates: the base that label measures from. The picks' f indexes fs,
// their features; both slices are the call's buffers.
func (q *query) blendRank() (picks []cand, fs []features, base groupScores) {
	r := blendRanker{q: q, top: topK{k: q.r.K, cs: q.b.candBuf[:0]}, fs: q.b.featBuf[:0], floor: math.Inf(-1)}
	// Demoting never raises a score (but for a SentPenalty above 1), so a
	// candidate whose log-odds put even its undemoted probability below the
	// k-th best so far cannot enter: it skips the exponential.
	r.prune = q.m.opts.SentPenalty <= 1 || len(q.r.RecentlySent) == 0
	q.eachBlendCand(q.r.AllowRepeats, r.add)
	q.b.candBuf, q.b.featBuf = r.top.cs, r.fs
	if r.n > 0 {
		for gi := range r.sum {
			r.sum[gi] /= float64(r.n)
		}
	}
	return r.top.cs, r.fs, r.sum
}

// blendRanker is blendRank's state.
type blendRanker struct {
	q     *query
	top   topK
	fs    []features // of the candidates kept
	sum   groupScores
	n     int     // new-product candidates
	prune bool    // whether floor may rise
	floor float64 // the log-odds under which a candidate cannot enter top
}

// add scores candidate c with features f.
func (r *blendRanker) add(c cand, f *features) {
	wi := wNew
	if c.kind == Replenish {
		wi = wRepeat
	} else {
		addContributions(&r.sum, &blendWeights[wNew], f)
		r.n++
	}
	lo := logOddsOver(blendSpans[wi], &blendWeights[wi], f)
	if lo < r.floor {
		return
	}
	c.score = 1 / (1 + math.Exp(-lo))
	if c.score <= 0 {
		return
	}
	c.score = r.q.demote(c.p, c.score)
	c.f = int32(len(r.fs))
	if !r.top.add(c) {
		return
	}
	r.fs = append(r.fs, *f)
	if r.prune && r.top.full() {
		r.floor = logitFloor(r.top.last().score)
	}
}

// logitFloor returns a log-odds below which the logistic function, as
// blend computes it, is certainly under s: the logit of s less a margin
// far above the rounding of the exponential and the logarithms. Near 1
// the probabilities are too coarse for that margin to hold: no floor.
func logitFloor(s float64) float64 {
	if s > 0.99 {
		return math.Inf(-1)
	}
	return math.Log(s) - math.Log1p(-s) - 1e-9
}

// popStats returns the day's per-product figures, cached per day and model
// version (SetProduct and AddOrder move the version).
func (q *query) popStats() *popStats {
	m := q.m
	today := dayOf(q.now)
	if st := m.cachedPop(today); st != nil {
		return st
	}
	// They take milliseconds: one call computes them, the others wait for
	// it rather than all computing them at once after every change.
	m.popMu.Lock()
	defer m.popMu.Unlock()
	if st := m.cachedPop(today); st != nil {
		return st
	}
	st := q.newPopStats(today)
	m.pop.Store(&popCache{day: today, version: m.version, st: st})
	return st
}

// cachedPop returns the cached popStats of the day if the model has not
// changed since, else nil. The caller holds mu.
func (m *Model) cachedPop(today int64) *popStats {
	if c := m.pop.Load(); c != nil && c.version == m.version && c.day == today && len(c.st.score) == len(m.prods) {
		return c.st
	}
	return nil
}

// newPopStats computes the day's per-product figures.
func (q *query) newPopStats(today int64) *popStats {
	m := q.m
	hl := m.opts.PopularHalfLife.Hours() / 24
	n := len(m.prods)
	st := &popStats{score: make([]float64, n), info: make([]prodInfo, n), idf: make([]float64, len(m.vocab))}
	for w := range st.idf {
		st.idf[w] = math.Log(float64(n+1) / float64(1+m.wordDF[w]))
	}
	trend := m.wordTrends(today)
	cats := map[string]int32{}
	for i := range m.prods {
		ps := &m.prods[i]
		v, d7, d30 := 1e-6*float64(ps.orders), 0.0, 0.0
		for a := int64(0); a < ringDays; a++ {
			d := today - a
			if d > ps.lastDay || ps.lastDay-d >= ringDays {
				continue
			}
			c := float64(ps.ring[((d%ringDays)+ringDays)%ringDays])
			v += math.Exp2(-float64(a)/hl) * c
			if a < 7 {
				d7 += c
			}
			if a < 30 {
				d30 += c
			}
		}
		st.score[i] = v
		info := &st.info[i]
		d14, d128 := float64(ps.recentOrders(today, 14)), float64(ps.recentOrders(today, ringDays))
		d28 := float64(ps.recentOrders(today, 28))
		info.base[fPTrend] = math.Log((1 + d14) / (1 + d128*14/ringDays))
		info.base[fPTrend28] = math.Log((1 + d28) / (1 + d128*28/ringDays))
		info.base[fLog7], info.base[fLog30] = math.Log1p(d7), math.Log1p(d30)
		info.base[fLogAll] = math.Log1p(float64(ps.orders))
		age := math.Max(float64(q.now-ps.first)/86400, 0)
		info.base[fAge] = math.Log1p(age)
		if age < newWindow {
			info.base[fNew] = 1
		}
		pr := m.catalog[ps.id]
		c, ok := cats[pr.Category]
		if !ok {
			c = int32(len(cats))
			cats[pr.Category] = c
		}
		info.cat = c
		if pr.PriceMinor > 0 {
			info.logPrice = math.Log(float64(pr.PriceMinor))
		}
		for _, w := range m.words[i] {
			info.base[fTrend] += trend[w] / float64(len(m.words[i]))
			info.idfSum += st.idf[w]
		}
	}
	st.nCats = len(cats)
	st.rank = rankBy(st.score)
	st.maxScore = 1
	if n > 0 && st.score[st.rank[0]] > 0 {
		st.maxScore = st.score[st.rank[0]]
	}
	for i := range st.info {
		st.info[i].base[fPop] = st.score[i] / st.maxScore
	}
	for _, p := range st.rank {
		if age := float64(q.now-m.prods[p].first) / 86400; age >= 0 && age < newWindow {
			st.newRank = append(st.newRank, p)
		}
	}
	return st
}

// wordTrends returns per title word ln((1 + orders of its products in the
// 14 days to today) / (1 + their orders in 128 days · 14/128)): words whose
// products sell more now than over the months before ("CHRISTMAS" in the
// autumn).
func (m *Model) wordTrends(today int64) []float64 {
	o14, o128 := make([]float64, len(m.vocab)), make([]float64, len(m.vocab))
	for i := range m.prods {
		ps := &m.prods[i]
		a, b := float64(ps.recentOrders(today, 14)), float64(ps.recentOrders(today, ringDays))
		for _, w := range m.words[i] {
			o14[w] += a
			o128[w] += b
		}
	}
	for w := range o14 {
		o14[w] = math.Log((1 + o14[w]) / (1 + o128[w]*14/ringDays))
	}
	return o14
}

// topTouched returns about the k products of touched with the highest
// values (vals, in the same order): all of them tied at the k-th, in
// touched's order, in a reused buffer.
func (b *buffers) topTouched(touched []int32, vals []float64, k int) []int32 {
	if len(touched) <= k {
		return touched
	}
	b.valBuf = append(b.valBuf[:0], vals...)
	th := kthLargest(b.valBuf, k)
	// About a third are kept, unpredictably: each product is written to
	// the next free place, which is taken only when it is kept (a
	// conditional increment compiles to no branch).
	out := slices.Grow(b.topBuf[:0], len(touched))[:len(touched)]
	n := 0
	for i, j := range touched {
		out[n] = j
		if vals[i] >= th {
			n++
		}
	}
	b.topBuf = out[:n]
	return out[:n]
}

// kthLargest returns the k-th largest of xs (1-based), reordering xs
// (quickselect).
func kthLargest(xs []float64, k int) float64 {
	lo, hi, want := 0, len(xs)-1, k-1
	for lo < hi {
		pivot := xs[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] > pivot {
				i++
			}
			for xs[j] < pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return xs[want]
		}
	}
	return xs[want]
}
