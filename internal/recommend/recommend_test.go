package recommend

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// store builds a History from orders written as customer, day and products.
type store struct {
	products map[int64]Product
	lines    []Purchase
	orders   int64
}

func newStore(ps ...Product) *store {
	s := &store{products: map[int64]Product{}}
	for _, p := range ps {
		p.InStock = true
		s.products[p.ID] = p
	}
	return s
}

func (s *store) buy(customer int64, day int, products ...int64) {
	s.orders++
	for _, p := range products {
		s.lines = append(s.lines, Purchase{
			Customer: customer, Order: s.orders, Product: p, At: t0.Add(time.Duration(day) * day24),
			Quantity: 1, UnitPriceMinor: s.products[p].PriceMinor,
		})
	}
}

const day24 = 24 * time.Hour

func (s *store) history() History {
	ls := slices.Clone(s.lines)
	slices.SortStableFunc(ls, func(a, b Purchase) int { return a.At.Compare(b.At) })
	return History{Products: s.products, Purchases: ls}
}

func recommend(t *testing.T, m *Model, r Request) []Pick {
	t.Helper()
	ps, err := m.Recommend(r)
	if err != nil {
		t.Fatalf("recommend %+v: %v", r, err)
	}
	return ps
}

func ids(ps []Pick) []int64 { return pickIDs(ps) }

// coStore: five customers buy MUG with SAUCER, two buy MUG with SPOON,
// customer 99 bought only the MUG.
func coStore() *store {
	s := newStore(
		Product{ID: 1, Title: "MUG", Category: "MUG", PriceMinor: 300},
		Product{ID: 2, Title: "SAUCER", Category: "SAUCER", PriceMinor: 200},
		Product{ID: 3, Title: "SPOON", Category: "SPOON", PriceMinor: 100},
		Product{ID: 4, Title: "TEAPOT", Category: "TEAPOT", PriceMinor: 900},
	)
	for c := int64(10); c < 15; c++ {
		s.buy(c, int(c-10), 1, 2)
	}
	s.buy(20, 5, 1, 3)
	s.buy(21, 6, 1, 3)
	s.buy(30, 7, 4)
	s.buy(99, 8, 1)
	return s
}

func TestCrossSellCoPurchase(t *testing.T) {
	t.Parallel()
	m := Train(coStore().history(), Options{})
	ps := recommend(t, m, Request{Customer: 99, Strategy: CrossSell})
	if got := ids(ps); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("cross-sell = %v, want [2 3]", got)
	}
	if want := "bought together with MUG by 5 customers"; ps[0].Reason != want {
		t.Errorf("reason = %q, want %q", ps[0].Reason, want)
	}
	if ps[0].Strategy != CrossSell || ps[0].Score <= ps[1].Score {
		t.Errorf("picks = %+v", ps)
	}
}

func TestUpsellPicksPricierSameCategoryThatBuyersChose(t *testing.T) {
	t.Parallel()
	s := newStore(
		Product{ID: 1, Title: "SMALL MUG", Category: "MUG", PriceMinor: 300},
		Product{ID: 2, Title: "BIG MUG", Category: "MUG", PriceMinor: 600},
		Product{ID: 3, Title: "CHEAP MUG", Category: "MUG", PriceMinor: 200},
		Product{ID: 4, Title: "PLATE", Category: "PLATE", PriceMinor: 900},
		Product{ID: 5, Title: "GOLD MUG", Category: "MUG", PriceMinor: 800}, // pricier, but not chosen by buyers of 1
	)
	for c := int64(10); c < 14; c++ {
		s.buy(c, int(c-10), 1, 2, 3, 4)
	}
	s.buy(20, 5, 5)
	s.buy(99, 6, 1)
	m := Train(s.history(), Options{})
	ps := recommend(t, m, Request{Customer: 99, Strategy: Upsell})
	if got := ids(ps); !slices.Equal(got, []int64{2}) {
		t.Fatalf("upsell = %v, want [2]", got)
	}
	if want := "a step up from SMALL MUG in MUG, chosen by 4 customers who bought it"; ps[0].Reason != want {
		t.Errorf("reason = %q, want %q", ps[0].Reason, want)
	}
}

// A refunded or cancelled order is not passed to the model at all, so it
// creates no co-purchase.
func TestRefundedOrderIsNotCounted(t *testing.T) {
	t.Parallel()
	s := coStore()
	s.products[6] = Product{ID: 6, Title: "CUSHION", Category: "CUSHION", PriceMinor: 500, InStock: true}
	kept := s.history()
	s.buy(40, 9, 1, 6) // refunded: the caller leaves it out of kept
	s.buy(41, 9, 1, 6)
	withRefund := s.history()

	m := Train(kept, Options{})
	if got := ids(recommend(t, m, Request{Customer: 99, Strategy: CrossSell})); slices.Contains(got, 6) {
		t.Errorf("cross-sell = %v, includes the refunded order's product", got)
	}
	m = Train(withRefund, Options{})
	if got := ids(recommend(t, m, Request{Customer: 99, Strategy: CrossSell})); !slices.Contains(got, 6) {
		t.Errorf("cross-sell = %v; the contrast case should include 6", got)
	}
}

func TestOutOfStockNeverRecommended(t *testing.T) {
	t.Parallel()
	s := coStore()
	p := s.products[2]
	p.InStock = false
	s.products[2] = p
	s.buy(99, 9, 2) // even a repeat candidate
	m := Train(s.history(), Options{})
	for _, c := range []int64{10, 20, 30, 99, 12345} {
		for _, st := range Strategies {
			for _, rep := range []bool{false, true} {
				got := ids(recommend(t, m, Request{Customer: c, Strategy: st, AllowRepeats: rep, Now: t0.Add(300 * day24)}))
				if slices.Contains(got, 2) {
					t.Errorf("customer %d %s repeats=%v = %v, includes the out-of-stock product", c, st, rep, got)
				}
			}
		}
	}
	// SetProduct brings it back.
	p.InStock = true
	m.SetProduct(p)
	if got := ids(recommend(t, m, Request{Customer: 20, Strategy: CrossSell})); !slices.Contains(got, 2) {
		t.Errorf("after restock, cross-sell = %v, want 2 in it", got)
	}
}

func TestBoughtProductsNeverRecommended(t *testing.T) {
	t.Parallel()
	h := coStore().history()
	m := Train(h, Options{})
	bought := map[int64]map[int64]bool{}
	for _, p := range h.Purchases {
		if bought[p.Customer] == nil {
			bought[p.Customer] = map[int64]bool{}
		}
		bought[p.Customer][p.Product] = true
	}
	for c, past := range bought {
		for _, st := range Strategies {
			if st == Replenish {
				continue
			}
			for _, p := range recommend(t, m, Request{Customer: c, Strategy: st}) {
				if past[p.Product] {
					t.Errorf("customer %d %s recommends %d, which they bought", c, st, p.Product)
				}
			}
		}
	}
	// Blend may repeat when asked to.
	got := ids(recommend(t, m, Request{Customer: 99, Strategy: Blend, AllowRepeats: true}))
	if len(got) == 0 || got[0] != 1 {
		t.Errorf("blend with repeats = %v, want the customer's MUG first", got)
	}
}

func TestColdCustomerGetsPopularFromBlend(t *testing.T) {
	t.Parallel()
	m := Train(coStore().history(), Options{})
	ps := recommend(t, m, Request{Customer: 12345, K: 3})
	if got := ids(ps); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("blend for a cold customer = %v, want [1 2 3]", got)
	}
	for _, p := range ps {
		if p.Strategy != Popular {
			t.Errorf("pick %+v, want strategy popular", p)
		}
	}
	if want := "a bestseller: in 8 orders in the last 30 days"; ps[0].Reason != want {
		t.Errorf("reason = %q, want %q", ps[0].Reason, want)
	}
	// Blend fills K for a customer with history too, as far as the catalog allows.
	if got := recommend(t, m, Request{Customer: 99, K: 3}); len(got) != 3 {
		t.Errorf("blend for customer 99 = %v, want 3 picks", ids(got))
	}
}

func TestReplenishFiresOnlyAfterInterval(t *testing.T) {
	t.Parallel()
	s := newStore(
		Product{ID: 7, Title: "COFFEE BEANS", Category: "BEANS", PriceMinor: 1200},
		Product{ID: 8, Title: "FILTER", Category: "FILTER", PriceMinor: 300},
	)
	s.buy(50, 0, 7, 8)
	s.buy(50, 30, 7)
	s.buy(50, 60, 7)
	m := Train(s.history(), Options{})
	last := t0.Add(60 * day24)
	if got := recommend(t, m, Request{Customer: 50, Strategy: Replenish, Now: last.Add(10 * day24)}); len(got) != 0 {
		t.Fatalf("replenish 10 days after = %v, want nothing", got)
	}
	ps := recommend(t, m, Request{Customer: 50, Strategy: Replenish, Now: last.Add(35 * day24)})
	if got := ids(ps); !slices.Equal(got, []int64{7}) {
		t.Fatalf("replenish 35 days after = %v, want [7]", got)
	}
	if want := "bought 3 times, about every 30 days; last 35 days ago"; ps[0].Reason != want {
		t.Errorf("reason = %q, want %q", ps[0].Reason, want)
	}
}

func TestRecentlySentIsDemoted(t *testing.T) {
	t.Parallel()
	m := Train(coStore().history(), Options{})
	got := ids(recommend(t, m, Request{Customer: 99, Strategy: CrossSell, RecentlySent: map[int64]bool{2: true}}))
	if !slices.Equal(got, []int64{3, 2}) {
		t.Errorf("cross-sell with 2 recently sent = %v, want [3 2]", got)
	}
}

func TestUnknownStrategy(t *testing.T) {
	t.Parallel()
	m := NewModel(nil, Options{})
	_, err := m.Recommend(Request{Customer: 1, Strategy: "magic"})
	if err == nil || !strings.Contains(err.Error(), "blend, cross-sell, upsell, replenish, popular") {
		t.Fatalf("err = %v, want one listing the strategies", err)
	}
}

func TestIncrementalMatchesTrain(t *testing.T) {
	t.Parallel()
	h := coStore().history()
	batch := Train(h, Options{})
	live := NewModel(h.Products, Options{})
	live.AddOrder(h.Purchases) // several orders in one call are grouped
	for _, c := range []int64{10, 20, 99, 12345} {
		for _, st := range Strategies {
			a := recommend(t, batch, Request{Customer: c, Strategy: st})
			b := recommend(t, live, Request{Customer: c, Strategy: st})
			if !slices.Equal(a, b) {
				t.Errorf("customer %d %s: batch %v, incremental %v", c, st, a, b)
			}
		}
	}
	// A new order moves the model: 99 now has the SAUCER, so cross-sell
	// stops offering it.
	live.AddOrder([]Purchase{{Customer: 99, Order: 1000, Product: 2, At: t0.Add(20 * day24), Quantity: 1}})
	if got := ids(recommend(t, live, Request{Customer: 99, Strategy: CrossSell})); slices.Contains(got, 2) {
		t.Errorf("after buying 2, cross-sell = %v", got)
	}
}

// The toy of TestEvaluateToy: customers 1-3 bought before day 10 and after;
// customer 4 only before.
func TestEvaluateToy(t *testing.T) {
	t.Parallel()
	s := newStore(
		Product{ID: 1, Title: "A"}, Product{ID: 2, Title: "B"}, Product{ID: 3, Title: "C"},
		Product{ID: 4, Title: "D"}, Product{ID: 5, Title: "E"},
	)
	s.buy(1, 0, 1, 2)
	s.buy(2, 1, 1, 3)
	s.buy(3, 2, 1, 2, 4)
	s.buy(4, 3, 2)
	s.buy(1, 11, 3, 5)
	s.buy(2, 12, 4)
	s.buy(3, 13, 1)
	r := Evaluate(s.history(), EvalParams{Cutoff: t0.Add(10 * day24), K: 2})
	if r.TrainPurchases != 8 || r.TestPurchases != 4 {
		t.Errorf("train/test = %d/%d, want 8/4", r.TrainPurchases, r.TestPurchases)
	}
	// Baseline popular (orders: 1 and 2 three each, 3 and 4 one each, 5 none)
	// skipping past products, K=2:
	//   customer 1: [3 4] vs new {3 5}: hit at rank 1; recall 1/2; NDCG 1/(1+1/log2 3)
	//   customer 2: [2 4] vs new {4}: hit at rank 2; recall 1; NDCG 1/log2 3
	//   customer 3: [3] vs new {} (not counted on "new"), vs all {1}: miss
	g := 1 / math.Log2(3)
	n1, n2 := 1/(1+g), g
	check := func(target string, customers int, want Result) {
		t.Helper()
		if got := r.Targets[target].Customers; got != customers {
			t.Errorf("%s: customers = %d, want %d", target, got, customers)
		}
		got, ok := r.Result(target, BaselinePopular)
		if !ok {
			t.Fatalf("%s: no %s result", target, BaselinePopular)
		}
		for _, x := range [][3]any{
			{"hit_rate", got.HitRate, want.HitRate}, {"recall", got.Recall, want.Recall},
			{"ndcg", got.NDCG, want.NDCG}, {"coverage", got.Coverage, want.Coverage},
		} {
			if math.Abs(x[1].(float64)-x[2].(float64)) > 1e-12 {
				t.Errorf("%s %s = %v, want %v", target, x[0], x[1], x[2])
			}
		}
	}
	check(TargetNew, 2, Result{HitRate: 1, Recall: (0.5 + 1) / 2, NDCG: (n1 + n2) / 2, Coverage: 3.0 / 5})
	check(TargetAll, 3, Result{HitRate: 2.0 / 3, Recall: (0.5 + 1 + 0) / 3, NDCG: (n1 + n2 + 0) / 3, Coverage: 3.0 / 5})
	for _, tg := range []string{TargetNew, TargetAll} {
		for _, name := range append(slices.Clone(Strategies), BaselineItemKNN) {
			if _, ok := r.Result(tg, name); !ok {
				t.Errorf("%s: no result for %s", tg, name)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	truth := map[int64]bool{2: true, 4: true, 9: true}
	got := metrics([]int64{1, 2, 3, 4}, truth, 4)
	// DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4).
	dcg := 1/math.Log2(3) + 1/math.Log2(5)
	idcg := 1 + 1/math.Log2(3) + 0.5
	if got.hits != 2 || math.Abs(got.recall-2.0/3) > 1e-12 || math.Abs(got.ndcg-dcg/idcg) > 1e-12 {
		t.Errorf("metrics = %+v, want hits 2, recall 2/3, ndcg %v", got, dcg/idcg)
	}
}

// TestConcurrentUse asks many goroutines for picks, first alone, then while
// orders and catalog changes arrive (run with -race): Recommend's reused
// buffers must not leak between calls, so each answer equals the one asked
// alone until the model changes, and every pick keeps a reason after.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	h := coStore().history()
	m := Train(h, Options{})
	custs := []int64{10, 20, 99}
	want := map[int64][]Pick{}
	for _, c := range custs {
		want[c] = recommend(t, m, Request{Customer: c, Strategy: Blend, AllowRepeats: true})
	}
	run := func(check bool) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 100 {
					c := custs[(g+i)%3]
					ps, err := m.Recommend(Request{Customer: c, Strategy: Blend, AllowRepeats: true})
					if err != nil || (check && !slices.Equal(ps, want[c])) {
						t.Errorf("customer %d: %v (%v), want %v", c, ps, err, want[c])
						return
					}
					for _, st := range Strategies {
						ps, err := m.Recommend(Request{Customer: c + int64(i%2), Strategy: st})
						if err != nil {
							t.Error(err)
							return
						}
						for _, p := range ps {
							if p.Reason == "" {
								t.Errorf("%s: pick %+v without a reason", st, p)
							}
						}
					}
				}
			})
		}
		if !check {
			wg.Go(func() {
				for i := range 50 {
					m.AddOrder([]Purchase{{Customer: 500 + int64(i), Order: 5000 + int64(i), Product: int64(1 + i%4), At: t0.Add(-day24), Quantity: 1}})
					m.SetProduct(Product{ID: 4, Title: "TEAPOT", Category: "TEAPOT", PriceMinor: 900 + int64(i), InStock: true})
				}
			})
		}
		wg.Wait()
	}
	run(true)
	run(false)
}

// TestTasteReasonNamesTheWord: a pick chosen for its title's words says
// which word, and of which bought products: one shared word alone can pair
// unlike things, so it is named.
func TestTasteReasonNamesTheWord(t *testing.T) {
	s := newStore(Product{ID: 1, Title: "TEA LIGHT HOLDER"}, Product{ID: 2, Title: "HEART GARLAND"},
		Product{ID: 3, Title: "HEART CUSHION"}, Product{ID: 4, Title: "BREAKFAST TEA"}, Product{ID: 5, Title: "HEART MIRROR"},
		Product{ID: 6, Title: "BLUE PLATE"})
	s.buy(7, 0, 1, 2, 3)
	m := Train(s.history(), DefaultOptions)
	q := query{m: m, now: t0.Unix(), c: m.customers[7]}
	for p, want := range map[int64]string{
		4: "TEA in the name, like the TEA LIGHT HOLDER you bought",
		5: "like 2 products you bought with HEART in the name",
		6: "in the style of what you bought",
	} {
		if got := q.tasteReason(m.idx[p]); got != want {
			t.Errorf("product %d: %q, want %q", p, got, want)
		}
	}
}

// TestContributionsFollowGroups: contributions sums the same terms in the
// same order as labelGroups lists them, to the bit.
func TestContributionsFollowGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var w, f features
		for i := range w {
			w[i], f[i] = rng.NormFloat64()*3, rng.NormFloat64()*rng.ExpFloat64()
		}
		var want groupScores
		for gi, g := range labelGroups {
			for _, i := range g.idx {
				if i < 0 {
					break
				}
				want[gi] += w[i] * f[i]
			}
		}
		if got := contributions(&w, &f); got != want {
			t.Fatalf("contributions %v, by the groups' lists %v", got, want)
		}
	}
}
