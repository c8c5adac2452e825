package recommend

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// pickSet is every dumped request's picks for some customers, by request.
type pickSet map[string][]Pick

// askAll asks every customer's dumped requests (see dumpRequests) in turn,
// starting from customer first.
func askAll(t *testing.T, m *Model, custs []int64, first int) pickSet {
	out := pickSet{}
	for i := range custs {
		c := custs[(first+i)%len(custs)]
		for _, s := range Strategies {
			for k, r := range dumpRequests(c, s, t0.Add(400*day24)) {
				ps, err := m.Recommend(r)
				if err != nil {
					t.Error(err)
					return out
				}
				out[fmt.Sprint(c, s, k)] = ps
			}
		}
	}
	return out
}

// askParallel asks as askAll from 8 goroutines at once, each starting at a
// different customer, and checks that every one got want.
func askParallel(t *testing.T, m *Model, custs []int64, want pickSet) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			got := askAll(t, m, custs, g*len(custs)/8)
			for k, ps := range want {
				if !slices.Equal(got[k], ps) {
					t.Errorf("goroutine %d, %s: %v, asked alone %v", g, k, got[k], ps)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestRecommendInParallel asks a model from 8 goroutines at once: first a
// model whose neighbour lists are all stale (a catalog change), so that
// they are computed by concurrent readers; then while another goroutine
// adds orders and changes the catalog; then once it is done. Every answer
// must equal the one a twin model, asked alone, gives in the same state
// (run with -race).
func TestRecommendInParallel(t *testing.T) {
	t.Parallel()
	h := syntheticStore(2).history()
	half := len(h.Purchases) / 2
	past := History{Products: h.Products, Purchases: h.Purchases[:half]}
	m, twin := Train(past, Options{}), Train(past, Options{})
	custs := customerIDs(h)
	reprice := func(m *Model, by int64) {
		p := h.Products[5]
		p.PriceMinor += by
		m.SetProduct(p) // a price change makes every neighbour list stale
	}
	reprice(m, 1)
	reprice(twin, 1)
	askParallel(t, m, custs, askAll(t, twin, custs, 0))

	bought := boughtBy(past.Purchases)
	orders := splitOrders(h.Purchases[half:])
	var wg sync.WaitGroup
	wg.Go(func() {
		for k, o := range orders {
			m.AddOrder(o)
			if k%50 == 0 {
				reprice(m, int64(k))
			}
		}
	})
	for g := range 8 {
		wg.Go(func() { askWhileUpdating(t, m, custs[g*len(custs)/8:], bought) })
	}
	wg.Wait()

	for k, o := range orders {
		twin.AddOrder(o)
		if k%50 == 0 {
			reprice(twin, int64(k))
		}
	}
	// Neighbour lists are computed when first asked for, so the two models'
	// may differ until the next change makes them all stale.
	reprice(m, 3)
	reprice(twin, 3)
	askParallel(t, m, custs, askAll(t, twin, custs, 0))
}

// askWhileUpdating asks every customer's picks while the model changes and
// checks what holds in any of its states: K distinct picks with reasons at
// most, none of them a product the customer bought before (in bought)
// unless the request allows repeats.
func askWhileUpdating(t *testing.T, m *Model, custs []int64, bought map[int64]map[int64]bool) {
	for _, c := range custs {
		for _, s := range Strategies {
			for _, r := range dumpRequests(c, s, t0.Add(400*day24)) {
				ps, err := m.Recommend(r)
				if err != nil {
					t.Error(err)
					return
				}
				if err := checkPicks(r, ps, bought[c]); err != nil {
					t.Errorf("customer %d, %s: %v", c, s, err)
					return
				}
			}
		}
	}
}

// checkPicks reports the first pick of ps that breaks what every model
// state promises r.
func checkPicks(r Request, ps []Pick, bought map[int64]bool) error {
	if len(ps) > r.K {
		return fmt.Errorf("%d picks, want at most %d", len(ps), r.K)
	}
	repeats := r.Strategy == Replenish || r.AllowRepeats
	seen := map[int64]bool{}
	for _, p := range ps {
		switch {
		case p.Reason == "":
			return fmt.Errorf("pick %+v without a reason", p)
		case seen[p.Product]:
			return fmt.Errorf("product %d picked twice", p.Product)
		case bought[p.Product] && !repeats:
			return fmt.Errorf("product %d, bought before, picked", p.Product)
		}
		seen[p.Product] = true
	}
	return nil
}

// boughtBy returns each customer's products.
func boughtBy(ps []Purchase) map[int64]map[int64]bool {
	out := map[int64]map[int64]bool{}
	for _, p := range ps {
		if out[p.Customer] == nil {
			out[p.Customer] = map[int64]bool{}
		}
		out[p.Customer][p.Product] = true
	}
	return out
}
