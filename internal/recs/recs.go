// Package recs serves recommendations from the database: it keeps one
// recommend.Model per store in memory, trained from the stored orders, and
// brings it up to date before answering whenever orders were added or
// changed since, so no nightly recompute is needed.
package recs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/store"
)

// Service answers recommendation requests for any store.
type Service struct {
	DB   store.DB
	Opts recommend.Options
	// CheckEvery bounds how often a store's orders are checked for changes.
	CheckEvery time.Duration

	mu     sync.Mutex
	stores map[int64]*entry
}

type entry struct {
	mu      sync.Mutex
	model   *recommend.Model
	mark    watermark
	checked time.Time
}

// watermark identifies the orders and catalog a model has seen.
type watermark struct {
	maxID           int64     // newest order
	ordersUpdated   time.Time // last change to any order (refunds, cancellations)
	productsUpdated time.Time // last change to the catalog (stock, prices)
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
// if the store's orders or catalog changed since it was built.
func (s *Service) Model(ctx context.Context, storeID int64) (*recommend.Model, error) {
	e := s.entry(storeID)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.model != nil && time.Since(e.checked) < s.CheckEvery {
		return e.model, nil
	}
	return e.model, s.refresh(ctx, storeID, e, false)
}

// Rebuild retrains a store's model from scratch.
func (s *Service) Rebuild(ctx context.Context, storeID int64) (*recommend.Model, error) {
	e := s.entry(storeID)
	e.mu.Lock()
	defer e.mu.Unlock()
	err := s.refresh(ctx, storeID, e, true)
	return e.model, err
}

// refresh brings e up to the store's current state: new orders are added
// to the model as a live store's would be, catalog changes are applied, and
// anything else (first use, refunds or cancellations of seen orders, or a
// forced rebuild) trains it again.
func (s *Service) refresh(ctx context.Context, storeID int64, e *entry, rebuild bool) error {
	mark, err := current(ctx, s.DB, storeID)
	if err != nil {
		return err
	}
	switch {
	case rebuild || e.model == nil || !onlyNewOrders(ctx, s.DB, storeID, e.mark):
		err = s.load(ctx, storeID, e)
	default:
		if err = s.setProducts(ctx, storeID, e, e.mark.productsUpdated); err == nil && mark.maxID > e.mark.maxID {
			err = s.addNew(ctx, storeID, e, mark.maxID)
		}
	}
	if err != nil {
		return err
	}
	e.mark, e.checked = mark, time.Now()
	return nil
}

func (s *Service) entry(storeID int64) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stores == nil {
		s.stores = map[int64]*entry{}
	}
	e, ok := s.stores[storeID]
	if !ok {
		e = &entry{}
		s.stores[storeID] = e
	}
	return e
}

// load trains the model from the store's kept purchases.
func (s *Service) load(ctx context.Context, storeID int64, e *entry) error {
	h, err := LoadHistory(ctx, s.DB, storeID)
	if err != nil {
		return err
	}
	e.model = recommend.Train(h, s.Opts)
	return nil
}

// LoadHistory reads a store's catalog and kept purchases.
func LoadHistory(ctx context.Context, db store.DB, storeID int64) (recommend.History, error) {
	h := recommend.History{Products: map[int64]recommend.Product{}}
	err := store.ProductsEach(ctx, db, storeID, time.Time{}, func(p store.Product) error {
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

// onlyNewOrders reports whether no order the model has seen changed since.
func onlyNewOrders(ctx context.Context, db store.DB, storeID int64, mark watermark) bool {
	var changed bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE store_id = $1 AND updated_at > $2 AND id <= $3)`,
		storeID, mark.ordersUpdated, mark.maxID).Scan(&changed)
	return err == nil && !changed
}

// setProducts tells the model about products created or changed since: new
// products, stock and prices.
func (s *Service) setProducts(ctx context.Context, storeID int64, e *entry, since time.Time) error {
	return store.ProductsEach(ctx, s.DB, storeID, since, func(p store.Product) error {
		e.model.SetProduct(product(p))
		return nil
	})
}

// addNew feeds the orders after the watermark, up to upTo, to the model
// order by order; the bound keeps an order committed meanwhile for the next
// refresh instead of adding it twice.
func (s *Service) addNew(ctx context.Context, storeID int64, e *entry, upTo int64) error {
	var lines []recommend.Purchase
	flush := func() {
		if len(lines) > 0 {
			e.model.AddOrder(lines)
			lines = nil
		}
	}
	err := store.PurchasesEach(ctx, s.DB, store.PurchasesParams{StoreID: storeID, AfterOrder: e.mark.maxID, UpToOrder: upTo},
		func(p store.Purchase) error {
			if len(lines) > 0 && lines[0].Order != p.Order {
				flush()
			}
			lines = append(lines, purchase(p))
			return nil
		})
	flush()
	return err
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

// current reads the store's watermark from the updated_at indexes.
func current(ctx context.Context, db store.DB, storeID int64) (watermark, error) {
	var w watermark
	var ou, pu *time.Time
	err := db.QueryRow(ctx, `SELECT
    COALESCE((SELECT id FROM orders WHERE store_id = $1 ORDER BY id DESC LIMIT 1), 0),
    (SELECT max(updated_at) FROM orders WHERE store_id = $1),
    (SELECT max(updated_at) FROM products WHERE store_id = $1)`, storeID).Scan(&w.maxID, &ou, &pu)
	if err != nil {
		return w, fmt.Errorf("check orders of store %d: %w", storeID, err)
	}
	if ou != nil {
		w.ordersUpdated = *ou
	}
	if pu != nil {
		w.productsUpdated = *pu
	}
	return w, nil
}
