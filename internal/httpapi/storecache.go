package httpapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/store"
)

// StoreCache remembers store lookups for a few seconds, so that a burst of
// webhooks does not pay a query each for the signing secret. A changed
// secret takes effect within TTL.
type StoreCache struct {
	DB  store.DB
	TTL time.Duration

	mu      sync.Mutex
	entries map[string]cached
}

// maxCached bounds the cache against requests naming random stores.
const maxCached = 10000

type cached struct {
	st      store.Store
	err     error
	expires time.Time
}

// Find returns the store for ref (id, name or domain).
func (c *StoreCache) Find(ctx context.Context, ref string) (store.Store, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[ref]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.st, e.err
	}
	st, err := store.StoreFind(ctx, c.DB, ref)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return st, err // a database hiccup is not remembered
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > maxCached {
		c.entries = map[string]cached{}
	}
	c.entries[ref] = cached{st, err, now.Add(c.TTL)}
	c.mu.Unlock()
	return st, err
}
