// Package recommend scores products for a customer from the store's purchase
// history and evaluates the scoring offline: history in, picks with reasons
// out. It does no I/O and runs no SQL; the caller loads the purchases (kept
// lines only: refunded and cancelled lines must not be passed in) and keeps
// the Model current with AddOrder as orders arrive.
//
// docs/recommendations.md describes every strategy's formula, the filters,
// the evaluation protocol and the results on the UCI Online Retail data.
package recommend

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Product is a catalog entry. Only products in the catalog and InStock are
// ever recommended.
type Product struct {
	ID         int64
	Title      string
	Category   string // category or product type; upsell stays within it
	PriceMinor int64  // current price in minor units
	InStock    bool
}

// Purchase is one kept order line: the caller leaves out refunded and
// cancelled lines (a fully refunded order is simply absent; a partly refunded
// line is passed with the kept quantity, or left out when none is kept).
type Purchase struct {
	Customer       int64
	Order          int64
	Product        int64
	At             time.Time
	Quantity       int
	UnitPriceMinor int64
}

// History is a store's catalog and kept purchases, sorted by At.
type History struct {
	Products  map[int64]Product
	Purchases []Purchase
}

// Options tunes the model. The zero value of a field means its default (see
// DefaultOptions); a negative weight means zero. The defaults were chosen on a validation split inside the
// training period of the Online Retail data (docs/recommendations.md).
type Options struct {
	// HalfLife weights co-purchases and buyers towards recent ones: a pair
	// formed HalfLife ago counts half as much as one formed today.
	HalfLife time.Duration
	// GapScale weights a customer-history co-purchase by how close in time
	// the two products were first bought: 1/(1+gap/GapScale). Same-order
	// pairs get 1.
	GapScale time.Duration
	// SizeExp down-weights the customer-history pairs of customers with
	// many products: each pair counts n^-SizeExp, n being the products the
	// pairing involves (at most MaxPairHistory plus the order's new ones).
	SizeExp float64
	// Shrinkage damps similarities resting on few customers: a pair seen by
	// n customers is scaled by n/(n+Shrinkage).
	Shrinkage float64
	// Alpha is the asymmetric cosine's exponent: sim(i,j) =
	// w(i,j) / (b(i)^Alpha · b(j)^(1-Alpha)); 0.5 is plain cosine.
	Alpha float64
	// OrderWeight adds same-order co-purchase similarity on top of the
	// customer-history one.
	OrderWeight float64
	// Neighbours is how many most similar products are kept per product.
	Neighbours int
	// MaxHistory caps how many of a customer's products (the most recent)
	// seed cross-sell and upsell.
	MaxHistory int
	// MaxPairHistory caps how many of a customer's products (the most
	// recently bought) a product new to them is paired with. It bounds the
	// cost of AddOrder for customers with long histories (wholesalers).
	MaxPairHistory int
	// RecencyHalfLife weights a customer's own products by how recently they
	// bought them.
	RecencyHalfLife time.Duration
	// PopularHalfLife weights the daily order counts behind "popular".
	PopularHalfLife time.Duration
	// PopularWindow is the window the bestseller reason counts orders in
	// (at most 128 days, the daily counts a product keeps).
	PopularWindow time.Duration
	// PeerMix turns blend's "customers like you" component (products bought
	// recently by the Peers customers whose purchases overlap most) on when
	// positive, off when negative; its weight is learned.
	PeerMix float64
	// Peers is how many similar customers the peer component draws on.
	Peers int
	// PeerHalfLife weights a peer's product by how recently they bought it.
	PeerHalfLife time.Duration
	// SentPenalty multiplies the score of a product recommended to the
	// customer recently (Request.RecentlySent).
	SentPenalty float64
}

// DefaultOptions are the tuned defaults.
var DefaultOptions = Options{
	HalfLife:        180 * day,
	GapScale:        60 * day,
	Shrinkage:       2,
	SizeExp:         0.5,
	Alpha:           0.5,
	OrderWeight:     0.5,
	Neighbours:      100,
	MaxHistory:      60,
	MaxPairHistory:  50,
	RecencyHalfLife: 60 * day,
	PopularHalfLife: 14 * day,
	PopularWindow:   30 * day,
	PeerMix:         3,
	Peers:           20,
	PeerHalfLife:    60 * day,
	SentPenalty:     0.25,
}

const day = 24 * time.Hour

func (o Options) withDefaults() Options {
	d := DefaultOptions
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setf := func(v *float64, def float64) {
		switch {
		case *v == 0 || math.IsNaN(*v): // a NaN would make every score it touches unordered
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	set(&o.HalfLife, d.HalfLife)
	set(&o.GapScale, d.GapScale)
	set(&o.RecencyHalfLife, d.RecencyHalfLife)
	set(&o.PopularHalfLife, d.PopularHalfLife)
	set(&o.PopularWindow, d.PopularWindow)
	setf(&o.Shrinkage, d.Shrinkage)
	setf(&o.SizeExp, d.SizeExp)
	setf(&o.Alpha, d.Alpha)
	setf(&o.OrderWeight, d.OrderWeight)
	setf(&o.PeerMix, d.PeerMix)
	set(&o.PeerHalfLife, d.PeerHalfLife)
	if o.Peers <= 0 {
		o.Peers = d.Peers
	}
	setf(&o.SentPenalty, d.SentPenalty)
	if o.Neighbours <= 0 {
		o.Neighbours = d.Neighbours
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = d.MaxHistory
	}
	if o.MaxPairHistory <= 0 {
		o.MaxPairHistory = d.MaxPairHistory
	}
	if o.PopularWindow > ringDays*day {
		o.PopularWindow = ringDays * day
	}
	return o
}

// ringDays is how many days of daily order counts a product keeps.
const ringDays = 128

// gapBuckets is the resolution of the repurchase-interval histogram:
// bucket b holds gaps of about 2^(b/4) days.
const gapBuckets = 48

// pairStat is what the model knows about two products bought by the same
// customers. N counts, W are time-weighted (see Model.weight).
type pairStat struct {
	orderN int32   // orders holding both
	custN  int32   // customers who bought both
	orderW float32 // orders holding both, weighted by recency
	custW  float32 // customers who bought both, weighted by recency and gap
}

// productStat is one product's statistics.
type productStat struct {
	id      int64
	buyers  int32   // distinct customers
	orders  int32   // orders holding it
	buyerW  float64 // buyers weighted by when they first bought it
	orderW  float64 // orders weighted by recency
	lastDay int64   // day number of ring[lastDay%ringDays]
	first   int64   // first sale, unix seconds (how new the product is)
	ring    [ringDays]uint32
	gaps    [gapBuckets]uint32 // repurchase intervals, log-spaced
	nGaps   uint32
}

// custItem is one product in one customer's history.
type custItem struct {
	prod    int32
	orders  int32
	qty     int64
	first   int64 // unix seconds
	last    int64
	logGaps float64 // sum of ln(gap days) over repeat purchases, for the customer's own interval
	decayed float64 // Σ over its orders of 2^((t − decayEpoch)/decayHalfLife), see decayedOrders
}

// decayEpoch and decayHalfLife define custItem.decayed: a count of orders
// that halves every decayHalfLife, kept exactly under incremental adds as a
// sum of exponentials from a fixed epoch (2^180 at 2030: far from overflow).
const (
	decayEpoch    = 946684800 // 2000-01-01 UTC
	decayHalfLife = 60 * 86400
)

// decayTerm is one order's term of custItem.decayed.
func decayTerm(t int64) float64 { return math.Exp2(float64(t-decayEpoch) / decayHalfLife) }

// decayedOrders is the item's orders weighted 2^(−age/decayHalfLife) at now.
func (it *custItem) decayedOrders(now int64) float64 { return it.decayed / decayTerm(now) }

// customer is one customer's history.
type customer struct {
	n      int32 // dense index
	items  []custItem
	index  map[int32]int // product -> position in items
	last   int64         // last order, unix seconds
	orders int32         // orders placed
	lines  int32         // distinct products over all orders
	repeat int32         // of lines, products bought in an earlier order
	times  []int64       // its orders' times, unix seconds, sorted
}

// nbr is a neighbour of a product with its similarity.
type nbr struct {
	j   int32
	sim float32
}

// Model holds the statistics every strategy scores from: buyers and orders
// per product, co-purchase counts within an order and within a customer's
// history (time-weighted), prices by category, repurchase intervals per
// product and per customer, and daily order counts for recent popularity.
//
// A Model is safe for concurrent use, and Recommend calls run in parallel:
// they only read the model (under mu's read lock) and take their scratch
// space from a pool, while AddOrder and SetProduct hold the write lock.
// AddOrder keeps it current; its cost is O(L² + N·min(H, MaxPairHistory))
// map updates for an order of L products with N new to a customer who had
// bought H distinct products before (see docs/recommendations.md for
// measured figures). Neighbour lists are recomputed lazily, when a Recommend
// needs a product whose co-purchases changed.
type Model struct {
	mu    sync.RWMutex
	opts  Options
	ref   int64 // unix seconds the time weights are relative to
	refOK bool

	catalog   map[int64]Product
	idx       map[int64]int32 // product id -> dense index
	prods     []productStat
	rows      []map[int32]pairStat // co-purchases, symmetric
	nbrs      [][]nbr              // most similar products
	ups       [][]nbr              // most similar products of the same category and pricier
	nbrState  []atomic.Uint32      // whether nbrs and ups are stale (see neighbours)
	avail     []bool               // in the catalog and in stock
	customers map[int64]*customer
	custs     []*customer      // by dense customer index
	buyers    [][]int32        // per product, dense indexes of its customers
	last      time.Time        // latest purchase added
	vocab     map[string]int32 // title word -> index
	vocabList []string         // index -> title word
	custItems []int32          // by dense customer index, their distinct products (len(custs[n].items))
	words     [][]int32        // per product, its title's words
	wordDF    []int32          // per word, the products with it

	// bufs holds *buffers, Recommend's scratch space: one per call in
	// flight, reused across calls.
	bufs sync.Pool

	// version counts changes; pop caches popularity scores for one day
	// and version, filled in by Recommend under the read lock and popMu.
	version int
	pop     atomic.Pointer[popCache]
	popMu   sync.Mutex
}

// buffers are the scratch space of one Recommend call, sized to the model
// and reused: nothing in them outlives a call, and each call leaves them
// zeroed where the next one expects zeros (overlap, seen, wordN, wordR,
// catN, and scores through touched).
type buffers struct {
	scratch [2]scores
	overlap []int32   // per customer, products in common; int32 keeps it in cache for large stores
	peerCs  []int32   // customers sharing a product with the customer
	peerBuf []peer    // their similarities
	peerMax []float64 // by overlap, the highest similarity
	histBuf []custItem
	histW   []float64
	in      blendInput
	textBuf []byte // reason text
	seen    []bool
	wordN   []float64 // per word, the customer's products with it
	wordR   []float64 // the same weighted by recency
	catN    []float64 // per category number, the customer's products in it
	candBuf []cand
	candPs  []int32   // blend's candidate products
	feat    features  // one blend candidate's features
	xv, pv  []float64 // blendInput's
	valBuf  []float64
	topBuf  []int32
	featBuf []features
}

// States of a product's neighbour lists (Model.nbrState).
const (
	nbrStale   = iota // to be computed
	nbrFilling        // being computed and stored by a Recommend
	nbrFresh          // up to date
)

// popCache is popStats for one day and model version.
type popCache struct {
	day     int64
	version int
	st      *popStats
}

// NewModel returns an empty model over the catalog. Products missing from
// the catalog may be bought (their statistics count) but are never
// recommended.
func NewModel(products map[int64]Product, opts Options) *Model {
	m := &Model{
		opts:      opts.withDefaults(),
		catalog:   make(map[int64]Product, len(products)),
		idx:       make(map[int64]int32, len(products)),
		vocab:     map[string]int32{},
		customers: map[int64]*customer{},
	}
	m.bufs.New = func() any { return new(buffers) }
	ids := make([]int64, 0, len(products))
	for id, p := range products {
		m.catalog[id] = p
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m.index(id)
	}
	return m
}

// Train builds a model from a history in one pass over its purchases,
// grouping consecutive lines of the same order.
func Train(h History, opts Options) *Model {
	m := NewModel(h.Products, opts)
	ps := h.Purchases
	for i := 0; i < len(ps); {
		j := i + 1
		for j < len(ps) && ps[j].Order == ps[i].Order && ps[j].Customer == ps[i].Customer {
			j++
		}
		m.AddOrder(ps[i:j])
		i = j
	}
	m.mu.Lock()
	m.refreshAll()
	m.mu.Unlock()
	return m
}

// SetProduct adds or replaces a catalog entry (a price or stock change).
func (m *Model) SetProduct(p Product) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, had := m.catalog[p.ID]
	m.catalog[p.ID] = p
	i := m.index(p.ID)
	m.avail[i] = p.InStock
	m.setWords(i, m.titleWords(p.Title))
	m.version++
	if !had || old.Category != p.Category || old.PriceMinor != p.PriceMinor {
		// Upsell lists depend on categories and prices.
		for i := range m.nbrState {
			m.nbrState[i].Store(nbrStale)
		}
	}
}

// index returns the dense index of a product, adding it if new.
func (m *Model) index(id int64) int32 {
	if i, ok := m.idx[id]; ok {
		return i
	}
	i := int32(len(m.prods))
	m.idx[id] = i
	m.prods = append(m.prods, productStat{id: id, lastDay: math.MinInt32, first: math.MaxInt64})
	m.rows = append(m.rows, nil)
	m.nbrs = append(m.nbrs, nil)
	m.ups = append(m.ups, nil)
	// Stale until computed. Growing copies the states, which is safe as
	// index runs under the write lock: no reader is running.
	m.nbrState = append(m.nbrState, atomic.Uint32{})
	m.buyers = append(m.buyers, nil)
	pr, ok := m.catalog[id]
	m.avail = append(m.avail, ok && pr.InStock)
	m.words = append(m.words, nil)
	m.setWords(i, m.titleWords(pr.Title))
	return i
}

// titleWords returns the distinct words of a title (three letters or more)
// as vocabulary indexes: a customer's taste shows in them ("CHRISTMAS",
// "VINTAGE", "HEART").
func (m *Model) titleWords(title string) []int32 {
	var out []int32
	for _, w := range strings.FieldsFunc(strings.ToUpper(title), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len(w) < 3 {
			continue
		}
		k, ok := m.vocab[w]
		if !ok {
			k = int32(len(m.vocab))
			m.vocab[w] = k
			m.vocabList = append(m.vocabList, w)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// setWords sets product p's title words, keeping the document frequencies.
func (m *Model) setWords(p int32, ws []int32) {
	for _, w := range m.words[p] {
		m.wordDF[w]--
	}
	for _, w := range ws {
		for int(w) >= len(m.wordDF) {
			m.wordDF = append(m.wordDF, 0)
		}
		m.wordDF[w]++
	}
	m.words[p] = ws
}

// weight is the time weight of an event at unix second t: 2^((t-ref)/HalfLife).
// Only ratios of weights are used, so the reference cancels out; rebase
// keeps the numbers in float32 range.
func (m *Model) weight(t int64) float64 {
	if !m.refOK {
		m.ref, m.refOK = t, true
	}
	e := float64(t-m.ref) / m.opts.HalfLife.Seconds()
	if e > 60 {
		m.rebase(t)
		e = float64(t-m.ref) / m.opts.HalfLife.Seconds()
	}
	return math.Exp2(e)
}

// rebase moves the reference time to t, scaling every weight down.
func (m *Model) rebase(t int64) {
	f := math.Exp2(-float64(t-m.ref) / m.opts.HalfLife.Seconds())
	for i := range m.prods {
		m.prods[i].buyerW *= f
		m.prods[i].orderW *= f
	}
	for _, row := range m.rows {
		for j, s := range row {
			s.orderW *= float32(f)
			s.custW *= float32(f)
			row[j] = s
		}
	}
	m.ref = t
}

func dayOf(t int64) int64 { return floorDiv(t, 86400) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// AddOrder adds one order's kept lines. Lines of several orders are grouped
// by order; the order's time is its latest line's. Orders may arrive out of
// time order, but an order added twice counts twice: the caller adds each
// order once, when it is paid, and rebuilds with Train after refunds of
// orders already added (docs/recommendations.md).
func (m *Model) AddOrder(lines []Purchase) {
	if len(lines) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	same := true
	for _, l := range lines[1:] {
		if l.Order != lines[0].Order || l.Customer != lines[0].Customer {
			same = false
			break
		}
	}
	if !same {
		groups := map[[2]int64][]Purchase{}
		var keys [][2]int64
		for _, l := range lines {
			k := [2]int64{l.Customer, l.Order}
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], l)
		}
		for _, k := range keys {
			m.addOrder(groups[k])
		}
		return
	}
	m.addOrder(lines)
}

func (m *Model) addOrder(lines []Purchase) {
	at := lines[0].At
	for _, l := range lines[1:] {
		if l.At.After(at) {
			at = l.At
		}
	}
	t := at.Unix()
	if at.After(m.last) {
		m.last = at
	}
	w := m.weight(t)
	m.version++

	// Distinct products of the order with their quantities.
	type line struct {
		p   int32
		qty int64
	}
	var prods []line
	seen := make(map[int32]int, len(lines))
	for _, l := range lines {
		p := m.index(l.Product)
		q := int64(max(l.Quantity, 1))
		if k, ok := seen[p]; ok {
			prods[k].qty += q
			continue
		}
		seen[p] = len(prods)
		prods = append(prods, line{p, q})
	}

	c := m.customers[lines[0].Customer]
	if c == nil {
		c = &customer{index: map[int32]int{}, n: int32(len(m.custs))}
		m.customers[lines[0].Customer] = c
		m.custs = append(m.custs, c)
		m.custItems = append(m.custItems, 0)
	}
	if t > c.last {
		c.last = t
	}
	c.orders++
	k, _ := slices.BinarySearch(c.times, t)
	c.times = slices.Insert(c.times, k, t)
	c.lines += int32(len(prods))
	d := dayOf(t)
	nOld := len(c.items) // products bought before this order
	var fresh []int32
	for _, l := range prods {
		ps := &m.prods[l.p]
		ps.orders++
		ps.orderW += w
		ps.first = min(ps.first, t)
		m.ringAdd(ps, d)
		if k, ok := c.index[l.p]; ok {
			c.repeat++
			it := &c.items[k]
			gap := float64(t-it.last) / 86400
			if gap >= 0 {
				ps.gaps[gapBucket(gap)]++
				ps.nGaps++
				it.logGaps += math.Log(max(gap, 0.5))
				it.last = t
			} else if t < it.first {
				it.first = t
			}
			it.orders++
			it.decayed += decayTerm(t)
			it.qty += l.qty
			continue
		}
		ps.buyers++
		ps.buyerW += w
		m.buyers[l.p] = append(m.buyers[l.p], c.n)
		c.index[l.p] = len(c.items)
		c.items = append(c.items, custItem{prod: l.p, orders: 1, qty: l.qty, first: t, last: t, decayed: decayTerm(t)})
		m.custItems[c.n]++
		fresh = append(fresh, l.p)
	}

	// Customer-history pairs: each product new to the customer with the
	// MaxPairHistory products they bought most recently (weighted by the
	// gap) and with the other new ones.
	gapScale := m.opts.GapScale.Seconds()
	old := c.items[:nOld]
	if len(fresh) > 0 && nOld > m.opts.MaxPairHistory {
		old = slices.Clone(old)
		slices.SortFunc(old, func(a, b custItem) int {
			if a.last != b.last {
				if a.last > b.last {
					return -1
				}
				return 1
			}
			return int(a.prod - b.prod)
		})
		old = old[:m.opts.MaxPairHistory]
	}
	size := math.Pow(float64(len(old)+len(fresh)), -m.opts.SizeExp)
	// Same-order pairs; two products new to the customer are also a
	// customer-history pair.
	isFresh := make(map[int32]bool, len(fresh))
	for _, p := range fresh {
		isFresh[p] = true
	}
	ow, cw := float32(w), float32(w*size)
	for a := 0; a < len(prods); a++ {
		pa, fa := prods[a].p, isFresh[prods[a].p]
		for b := a + 1; b < len(prods); b++ {
			pb := prods[b].p
			if fa && isFresh[pb] {
				m.addPair(pa, pb, func(s *pairStat) {
					s.orderN++
					s.orderW += ow
					s.custN++
					s.custW += cw
				})
				continue
			}
			m.addPair(pa, pb, func(s *pairStat) {
				s.orderN++
				s.orderW += ow
			})
		}
	}
	for _, p := range fresh {
		for _, it := range old {
			gap := math.Abs(float64(t - it.last))
			cw := float32(w * size / (1 + gap/gapScale))
			m.addPair(p, it.prod, func(s *pairStat) {
				s.custN++
				s.custW += cw
			})
		}
	}
}

// addPair updates the statistics of products a and b (both rows).
func (m *Model) addPair(a, b int32, f func(*pairStat)) {
	for _, ij := range [2][2]int32{{a, b}, {b, a}} {
		row := m.rows[ij[0]]
		if row == nil {
			row = map[int32]pairStat{}
			m.rows[ij[0]] = row
		}
		s := row[ij[1]]
		f(&s)
		row[ij[1]] = s
		// Train marks pairs millions of times: an atomic load costs less
		// than a store.
		if st := &m.nbrState[ij[0]]; st.Load() != nbrStale {
			st.Store(nbrStale)
		}
	}
}

// ringAdd counts one order of a product on day d.
func (m *Model) ringAdd(ps *productStat, d int64) {
	switch {
	case d > ps.lastDay:
		if d-ps.lastDay >= ringDays {
			ps.ring = [ringDays]uint32{}
		} else {
			for x := ps.lastDay + 1; x <= d; x++ {
				ps.ring[x%ringDays] = 0
			}
		}
		ps.lastDay = d
	case ps.lastDay-d >= ringDays:
		return // too old to count as recent
	}
	ps.ring[((d%ringDays)+ringDays)%ringDays]++
}

// gapBucket maps a repurchase interval in days to its histogram bucket.
func gapBucket(days float64) int {
	if days < 1 {
		return 0
	}
	b := int(math.Log2(days)*4) + 1
	return min(b, gapBuckets-1)
}

// gapDays is a bucket's representative interval in days.
func gapDays(b int) float64 {
	if b == 0 {
		return 0.5
	}
	return math.Exp2((float64(b) - 0.5) / 4)
}

// interval is a product's typical repurchase interval in days (the median
// of its repeat purchases), and false when fewer than minGaps were seen.
func (ps *productStat) interval(minGaps uint32) (float64, bool) {
	if ps.nGaps < minGaps {
		return 0, false
	}
	half := (ps.nGaps + 1) / 2
	var n uint32
	for b, c := range ps.gaps {
		n += c
		if n >= half {
			return gapDays(b), true
		}
	}
	return 0, false
}

// recentOrders is how many orders held the product in the days
// (today-window, today], today being the day number now falls on.
func (ps *productStat) recentOrders(today, window int64) int {
	n := 0
	for d := today - window + 1; d <= today; d++ {
		if d > ps.lastDay || ps.lastDay-d >= ringDays {
			continue
		}
		n += int(ps.ring[((d%ringDays)+ringDays)%ringDays])
	}
	return n
}

// refreshAll recomputes every stale neighbour list. The caller holds mu.
func (m *Model) refreshAll() {
	var stale []int32
	for i := range m.nbrState {
		if m.nbrState[i].Load() != nbrFresh {
			stale = append(stale, int32(i))
		}
	}
	if len(stale) == 0 {
		return
	}
	// Two workers: the lists are independent.
	var wg sync.WaitGroup
	const workers = 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := w; k < len(stale); k += workers {
				i := stale[k]
				m.nbrs[i], m.ups[i] = m.computeNbrs(i)
				m.nbrState[i].Store(nbrFresh)
			}
		}(w)
	}
	wg.Wait()
}

// neighbours returns product i's most similar products, and those of them
// in the same category at a higher price, computing them first when stale.
// The caller holds mu, for reading at least.
//
// A list is computed when first asked for after a change, not at the change
// under the write lock: that would cost AddOrder the work, and change picks,
// as the list would miss later changes to its neighbours' statistics.
// Readers may compute the same list at once, from the same state and so
// alike; the one that claims it (nbrFilling) stores it, the others use
// their own copy.
func (m *Model) neighbours(i int32) (nbrs, ups []nbr) {
	st := &m.nbrState[i]
	if st.Load() == nbrFresh {
		return m.nbrs[i], m.ups[i]
	}
	nbrs, ups = m.computeNbrs(i)
	if st.CompareAndSwap(nbrStale, nbrFilling) {
		m.nbrs[i], m.ups[i] = nbrs, ups
		st.Store(nbrFresh)
	}
	return nbrs, ups
}

// sim is the similarity of products i and j from their pair statistics:
// an asymmetric cosine over customer-history co-purchases plus OrderWeight
// times one over same-order co-purchases, shrunk by n/(n+Shrinkage).
func (m *Model) sim(i, j int32, s pairStat) float64 {
	pi, pj := &m.prods[i], &m.prods[j]
	a := m.opts.Alpha
	v := 0.0
	if s.custW > 0 && pi.buyerW > 0 && pj.buyerW > 0 {
		v = float64(s.custW) / (math.Pow(pi.buyerW, a) * math.Pow(pj.buyerW, 1-a))
	}
	if s.orderW > 0 && pi.orderW > 0 && pj.orderW > 0 {
		v += m.opts.OrderWeight * float64(s.orderW) / (math.Pow(pi.orderW, a) * math.Pow(pj.orderW, 1-a))
	}
	n := float64(s.custN)
	return v * n / (n + m.opts.Shrinkage)
}

// computeNbrs returns product i's Neighbours most similar products, and
// its Neighbours most similar ones of the same category at a higher price
// that its buyers bought. It only reads the model.
func (m *Model) computeNbrs(i int32) (nbrs, ups []nbr) {
	row := m.rows[i]
	if len(row) == 0 {
		return nil, nil
	}
	pi, ok := m.catalog[m.prods[i].id]
	upsell := ok && pi.Category != ""
	out := make([]nbr, 0, len(row))
	for j, s := range row {
		v := m.sim(i, j, s)
		if v <= 0 {
			continue
		}
		out = append(out, nbr{j, float32(v)})
		if upsell && s.custN > 0 {
			if pj, ok := m.catalog[m.prods[j].id]; ok && pj.Category == pi.Category && pj.PriceMinor > pi.PriceMinor {
				ups = append(ups, nbr{j, float32(v)})
			}
		}
	}
	return topNbrs(out, m.opts.Neighbours), topNbrs(ups, m.opts.Neighbours)
}

func topNbrs(ns []nbr, n int) []nbr {
	sortNbrs(ns)
	if len(ns) > n {
		ns = ns[:n]
	}
	return slices.Clip(ns)
}

func sortNbrs(ns []nbr) {
	sort.Slice(ns, func(a, b int) bool {
		if ns[a].sim != ns[b].sim {
			return ns[a].sim > ns[b].sim
		}
		return ns[a].j < ns[b].j
	})
}
