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

// watermark identifies the orders a model has seen.
type watermark struct {
	maxID      int64
	maxUpdated time.Time
	count      int64
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
// if the store's orders changed since it was built.
func (s *Service) Model(ctx context.Context, storeID int64) (*recommend.Model, error) {
	e := s.entry(storeID)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.model != nil && time.Since(e.checked) < s.CheckEvery {
		return e.model, nil
	}
	mark, err := current(ctx, s.DB, storeID)
	if err != nil {
		return nil, err
	}
	switch {
	case e.model != nil && mark == e.mark:
	case e.model != nil && onlyNewOrders(ctx, s.DB, storeID, e.mark):
		// New orders since the model was built: add them, as a live
		// store's would be, instead of training again.
		if err := s.addNew(ctx, storeID, e); err != nil {
			return nil, err
		}
	default: // first use, or older orders changed (refunds, cancellations)
		if err := s.load(ctx, storeID, e); err != nil {
			return nil, err
		}
	}
	e.mark, e.checked = mark, time.Now()
	return e.model, nil
}

// Rebuild retrains a store's model from scratch, reporting progress.
func (s *Service) Rebuild(ctx context.Context, storeID int64) (*recommend.Model, error) {
	e := s.entry(storeID)
	e.mu.Lock()
	defer e.mu.Unlock()
	mark, err := current(ctx, s.DB, storeID)
	if err != nil {
		return nil, err
	}
	if err := s.load(ctx, storeID, e); err != nil {
		return nil, err
	}
	e.mark, e.checked = mark, time.Now()
	return e.model, nil
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

// load trains the model from the store's kept purchases, one order at a time.
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
	err := store.ProductsEach(ctx, db, storeID, func(p store.Product) error {
		h.Products[p.ID] = recommend.Product{ID: p.ID, Title: p.Title, Category: ProductType(p.Category, p.Title), PriceMinor: p.PriceMinor, InStock: p.InStock}
		return nil
	})
	if err != nil {
		return h, err
	}
	err = store.PurchasesEach(ctx, db, store.PurchasesParams{StoreID: storeID}, func(p store.Purchase) error {
		h.Purchases = append(h.Purchases, recommend.Purchase{Customer: p.Customer, Order: p.Order, Product: p.Product,
			At: p.At, Quantity: p.Quantity, UnitPriceMinor: p.UnitPriceMinor})
		return nil
	})
	return h, err
}

// onlyNewOrders reports whether every order changed since mark is new.
func onlyNewOrders(ctx context.Context, db store.DB, storeID int64, mark watermark) bool {
	var changed bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE store_id = $1 AND id <= $2 AND updated_at > $3)`,
		storeID, mark.maxID, mark.maxUpdated).Scan(&changed)
	return err == nil && !changed
}

// addNew feeds the orders after the watermark to the model, order by order.
func (s *Service) addNew(ctx context.Context, storeID int64, e *entry) error {
	var lines []recommend.Purchase
	flush := func() {
		if len(lines) > 0 {
			e.model.AddOrder(lines)
			lines = nil
		}
	}
	err := store.PurchasesEach(ctx, s.DB, store.PurchasesParams{StoreID: storeID, AfterOrder: e.mark.maxID}, func(p store.Purchase) error {
		if len(lines) > 0 && lines[0].Order != p.Order {
			flush()
		}
		lines = append(lines, recommend.Purchase{Customer: p.Customer, Order: p.Order, Product: p.Product,
			At: p.At, Quantity: p.Quantity, UnitPriceMinor: p.UnitPriceMinor})
		return nil
	})
	flush()
	return err
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

func current(ctx context.Context, db store.DB, storeID int64) (watermark, error) {
	var w watermark
	var upd *time.Time
	err := db.QueryRow(ctx, `SELECT COALESCE(max(id), 0), max(updated_at), count(*) FROM orders WHERE store_id = $1`, storeID).Scan(&w.maxID, &upd, &w.count)
	if err != nil {
		return w, fmt.Errorf("check orders of store %d: %w", storeID, err)
	}
	if upd != nil {
		w.maxUpdated = *upd
	}
	return w, nil
}
