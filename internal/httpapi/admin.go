package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/store"
)

// Recommender answers recommendation requests from a warm model.
type Recommender interface {
	Recommend(ctx context.Context, storeID int64, r recommend.Request) ([]recommend.Pick, error)
}

// Pick is one recommendation as the admin API returns it.
type Pick struct {
	Rank     int     `json:"rank"`
	Product  int64   `json:"product_id"`
	SKU      string  `json:"sku"`
	Title    string  `json:"title"`
	Score    float64 `json:"score"`
	Strategy string  `json:"strategy"`
	Reason   string  `json:"reason"`
}

// adminRecs serves GET /admin/recs?store=S&customer=C&strategy=blend&k=6:
// the serving process keeps each store's model in memory, so this answers
// in milliseconds where a fresh process would first train for seconds.
func (a *API) adminRecs(w http.ResponseWriter, r *http.Request) {
	if !a.adminAllowed(r) {
		reply(w, http.StatusUnauthorized, "missing or wrong admin token")
		return
	}
	q := r.URL.Query()
	k, err := strconv.Atoi(q.Get("k"))
	if q.Get("k") == "" {
		k, err = 6, nil
	}
	strategy := q.Get("strategy")
	if strategy == "" {
		strategy = recommend.Blend
	}
	if err != nil || k < 1 || k > 100 || !slices.Contains(recommend.Strategies, strategy) {
		reply(w, http.StatusBadRequest, "k must be 1 to 100 and strategy one of "+strings.Join(recommend.Strategies, ", "))
		return
	}
	st, err := a.Stores.Find(r.Context(), q.Get("store"))
	if err != nil {
		reply(w, http.StatusNotFound, "unknown store")
		return
	}
	picks, err := a.picks(r.Context(), st.ID, q.Get("customer"), strategy, k)
	if errors.Is(err, store.ErrNotFound) {
		reply(w, http.StatusNotFound, "unknown customer")
		return
	}
	if err != nil {
		a.Log.ErrorContext(r.Context(), "admin recs", "store_id", st.ID, "error", err)
		reply(w, http.StatusServiceUnavailable, "try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(picks)
}

// Picks returns a customer's recommendations with product details.
func Picks(ctx context.Context, db store.DB, recs Recommender, storeID int64, customer, strategy string, k int) ([]Pick, error) {
	cu, err := store.CustomerFind(ctx, db, storeID, customer)
	if err != nil {
		return nil, err
	}
	recent, err := store.RecentlyRecommendedMany(ctx, db, []int64{cu.ID})
	if err != nil {
		return nil, err
	}
	ps, err := recs.Recommend(ctx, storeID, recommend.Request{Customer: cu.ID, Strategy: strategy, K: k, RecentlySent: recent[cu.ID]})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.Product
	}
	products, err := store.ProductsByID(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	out := []Pick{}
	for i, p := range ps {
		pr := products[p.Product]
		out = append(out, Pick{Rank: i + 1, Product: p.Product, SKU: pr.SKU, Title: pr.Title, Score: p.Score, Strategy: p.Strategy, Reason: p.Reason})
	}
	return out, nil
}

func (a *API) picks(ctx context.Context, storeID int64, customer, strategy string, k int) ([]Pick, error) {
	return Picks(ctx, a.DB, a.Recs, storeID, customer, strategy, k)
}

// adminAllowed checks the bearer token in constant time.
func (a *API) adminAllowed(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && a.AdminToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.AdminToken)) == 1
}
