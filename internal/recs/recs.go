// Package recs serves recommendations from the database: it keeps one
// recommend.Model per store in memory, trained from the stored orders, and
// brings it up to date before answering whenever orders were added or
// changed since, so no nightly recompute is needed.
package recs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/store"
)

// DB is what the service reads from: a pool, which can open the
// read-only snapshots a refresh reads in.
type DB interface {
	store.DB
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Service answers recommendation requests for any store.
type Service struct {
	DB   DB
	Opts recommend.Options
	// CheckEvery bounds how often a store's orders are checked for changes.
	CheckEvery time.Duration

	stores sync.Map // store ID -> *entry
}

// entry is one store's model. Requests read cur without locking; mu
// serialises the refreshes, which read the database and change the rest.
type entry struct {
	cur   atomic.Pointer[served]
	mu    sync.Mutex
	model *recommend.Model
	// horizon: every order and product change committed by a transaction
	// older than this has reached the model (see store.ChangeHorizon).
	horizon uint64
	// seen holds the orders written at or after the horizon that the model
	// has taken in, with the transaction that last wrote them and whether
	// they added purchases, so that reading them again changes nothing.
	seen map[int64]seenOrder
}

type seenOrder struct {
	changed   uint64
	purchases bool
}

// served is a model and when the store's orders were last checked for it.
type served struct {
	model   *recommend.Model
	checked time.Time
}

// Recommend returns picks for one customer of a store.
func (s *Service) Recommend(ctx context.Context, storeID int64, r recommend.Request) ([]recommend.Pick, error) {
	m, err := s.Model(ctx, storeID)
	if err != nil {
		return nil, err
	}
	return m.Recommend(r)
}

// Model returns the store's current model, training or updating it first
// if the store's orders or catalog changed since it was built. Requests
// within CheckEvery of the last check take no lock; the others wait for
// one refresh.
func (s *Service) Model(ctx context.Context, storeID int64) (*recommend.Model, error) {
	e := s.entry(storeID)
	if m := s.fresh(e); m != nil {
		return m, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := s.fresh(e); m != nil {
		return m, nil // refreshed while this request waited
	}
	err := s.refresh(ctx, storeID, e, false)
	return e.model, err
}

// fresh returns e's model if it was checked within CheckEvery, else nil.
func (s *Service) fresh(e *entry) *recommend.Model {
	if c := e.cur.Load(); c != nil && time.Since(c.checked) < s.CheckEvery {
		return c.model
	}
	return nil
}

// Rebuild retrains a store's model from scratch.
func (s *Service) Rebuild(ctx context.Context, storeID int64) (*recommend.Model, error) {
	e := s.entry(storeID)
	e.mu.Lock()
	defer e.mu.Unlock()
	err := s.refresh(ctx, storeID, e, true)
	return e.model, err
}

// refresh brings e up to the store's committed state, in one snapshot: new
// orders are added to the model as a live store's would be, catalog changes
// are applied, and anything else (first use, a change to an order the model
// counted, such as a refund or a cancellation, or a forced rebuild) trains
// it again. The caller holds e.mu; on success the model is served.
func (s *Service) refresh(ctx context.Context, storeID int64, e *entry, rebuild bool) error {
	err := pgx.BeginTxFunc(ctx, s.DB, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		h, err := store.ChangeHorizon(ctx, tx)
		if err != nil {
			return err
		}
		if !rebuild && e.model != nil {
			changes, err := store.OrdersChangedSince(ctx, tx, storeID, e.horizon)
			if err != nil {
				return err
			}
			if fresh, ok := e.newOrders(changes); ok {
				bought, err := s.addNew(ctx, tx, storeID, e, fresh)
				if err != nil {
					// Some orders may be in the model already and would be
					// added again next time: train afresh then instead.
					e.model = nil
					return err
				}
				e.remember(changes, bought, h)
				return nil
			}
		}
		return s.load(ctx, tx, storeID, e, h)
	})
	if err != nil {
		return err
	}
	e.cur.Store(&served{model: e.model, checked: time.Now()})
	return nil
}

// newOrders picks from the orders written since the horizon those the model
// has not taken in. ok is false when one of them changed an order the model
// counted: it does not take purchases back, so it must be trained again.
func (e *entry) newOrders(changes []store.OrderChange) (fresh []int64, ok bool) {
	for _, c := range changes {
		seen, had := e.seen[c.ID]
		switch {
		case had && seen.changed == c.Changed:
			// Read before: nothing new.
		case had && !seen.purchases, !had && c.Created >= e.horizon:
			// New since the horizon, or seen but not yet a purchase (an
			// order that was pending and is now paid).
			fresh = append(fresh, c.ID)
		default:
			return nil, false
		}
	}
	return fresh, true
}

// remember records what the model has taken in (bought: the orders that
// added purchases) and moves the horizon: orders written before it will not
// be read again.
func (e *entry) remember(changes []store.OrderChange, bought map[int64]bool, horizon uint64) {
	if e.seen == nil {
		e.seen = map[int64]seenOrder{}
	}
	for _, c := range changes {
		if o, had := e.seen[c.ID]; !had || o.changed != c.Changed {
			e.seen[c.ID] = seenOrder{changed: c.Changed, purchases: bought[c.ID]}
		}
	}
	for id, o := range e.seen {
		if o.changed < horizon {
			delete(e.seen, id)
		}
	}
	e.horizon = horizon
}

func (s *Service) entry(storeID int64) *entry {
	if e, ok := s.stores.Load(storeID); ok {
		return e.(*entry)
	}
	e, _ := s.stores.LoadOrStore(storeID, &entry{})
	return e.(*entry)
}

// load trains the model from the store's kept purchases as of the snapshot
// whose horizon is h, and remembers which orders written since h it holds.
func (s *Service) load(ctx context.Context, db store.DB, storeID int64, e *entry, h uint64) error {
	hist, err := LoadHistory(ctx, db, storeID)
	if err != nil {
		return err
	}
	changes, err := store.OrdersChangedSince(ctx, db, storeID, h)
	if err != nil {
		return err
	}
	ids := make([]int64, len(changes))
	for i, c := range changes {
		ids[i] = c.ID
	}
	bought := map[int64]bool{}
	if len(ids) > 0 {
		err = store.PurchasesEach(ctx, db, store.PurchasesParams{StoreID: storeID, Orders: ids}, func(p store.Purchase) error {
			bought[p.Order] = true
			return nil
		})
		if err != nil {
			return err
		}
	}
	e.model, e.seen = recommend.Train(hist, s.Opts), nil
	e.remember(changes, bought, h)
	return nil
}

// LoadHistory reads a store's catalog and kept purchases.
func LoadHistory(ctx context.Context, db store.DB, storeID int64) (recommend.History, error) {
	h := recommend.History{Products: map[int64]recommend.Product{}}
	err := store.ProductsEach(ctx, db, storeID, 0, func(p store.Product) error {
		h.Products[p.ID] = product(p)
		return nil
	})
	if err != nil {
		return h, err
	}
	err = store.PurchasesEach(ctx, db, store.PurchasesParams{StoreID: storeID}, func(p store.Purchase) error {
		h.Purchases = append(h.Purchases, purchase(p))
		return nil
	})
	return h, err
}

// addNew applies the catalog changes since the horizon and feeds the new
// orders to the model, order by order. It returns the orders that added
// purchases.
func (s *Service) addNew(ctx context.Context, db store.DB, storeID int64, e *entry, orders []int64) (map[int64]bool, error) {
	err := store.ProductsEach(ctx, db, storeID, e.horizon, func(p store.Product) error {
		e.model.SetProduct(product(p))
		return nil
	})
	if err != nil || len(orders) == 0 {
		return nil, err
	}
	bought := map[int64]bool{}
	var lines []recommend.Purchase
	flush := func() {
		if len(lines) > 0 {
			e.model.AddOrder(lines)
			bought[lines[0].Order] = true
			lines = nil
		}
	}
	err = store.PurchasesEach(ctx, db, store.PurchasesParams{StoreID: storeID, Orders: orders}, func(p store.Purchase) error {
		if len(lines) > 0 && lines[0].Order != p.Order {
			flush()
		}
		lines = append(lines, purchase(p))
		return nil
	})
	flush()
	return bought, err
}

func product(p store.Product) recommend.Product {
	return recommend.Product{ID: p.ID, Title: p.Title, Category: ProductType(p.Category, p.Title), PriceMinor: p.PriceMinor, InStock: p.InStock}
}

func purchase(p store.Purchase) recommend.Purchase {
	return recommend.Purchase{Customer: p.Customer, Order: p.Order, Product: p.Product, At: p.At, Quantity: p.Quantity, UnitPriceMinor: p.UnitPriceMinor}
}

// ProductType is the product's category, or for catalogs without
// categories (order imports) the last word of its title, which in most shops
// names the kind of thing: "WHITE HANGING HEART T-LIGHT HOLDER" is a HOLDER.
// Upsell compares prices within it.
func ProductType(category, title string) string {
	if category != "" {
		return category
	}
	title = strings.TrimSpace(title)
	if i := strings.LastIndexByte(title, ' '); i >= 0 {
		return title[i+1:]
	}
	return title
}
