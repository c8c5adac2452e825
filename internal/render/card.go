package render

import (
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"sync"
)

// Parts of an email that are the same for many recipients are rendered once
// and kept: a product's card (everything but the customer's reason) and the
// store's own pieces (header, the footer's address). A campaign shows the
// same products and the same store to thousands of customers, and executing
// a template's escaped actions costs more per message than sending it.
//
// What a kept part may show is fixed by the data it is given, not by trust
// in the template: a card gets the product without its reason, a store part
// a StoreView, which holds nothing about the customer.

// StoreView is what a store part sees: {{storePart "header" .}} renders the
// template "header" with the store and its shop link only.
type StoreView struct {
	Store Store
	Links ShopLinks
}

// ShopLinks are the links a store part may show.
type ShopLinks struct {
	Shop string
}

// maxParts bounds the parts kept per template set and kind; past it the
// cache starts again, so a huge catalog costs memory only up to this.
const maxParts = 4096

// executor is an html/template or text/template set.
type executor interface {
	ExecuteTemplate(w io.Writer, name string, data any) error
}

// storeKey names a kept store part: the template and its view.
type storeKey struct {
	name string
	view StoreView
}

// partCache keeps rendered parts of one template set, that is per email,
// body (HTML or text) and locale. The maps are typed rather than keyed by
// an interface so that a lookup, which runs for every card of every
// message, neither boxes the key nor hashes through its dynamic type.
type partCache struct {
	set executor
	// executing is held (shared) while a part is rendered for the cache:
	// html/template escapes a template the first time it runs it as a
	// root, writing its tree, which compiling the email reads (exclusive).
	// A kept part never renders another kept part (Load refuses it, see
	// checkKeptParts), so one goroutine never holds it shared twice, which
	// a waiting compile would turn into a deadlock.
	executing sync.RWMutex

	mu     sync.RWMutex
	cards  map[Product]string // by the product without its reason
	stores map[storeKey]string
}

func newPartCache(set executor) *partCache {
	return &partCache{set: set, cards: map[Product]string{}, stores: map[storeKey]string{}}
}

// keptPart returns m[k], or template name executed with data by the
// template set itself (so escaped exactly as inline actions would be),
// which it then keeps in m. data is boxed only on a miss.
func keptPart[K comparable, D any](c *partCache, m map[K]string, k K, name string, data D) (string, error) {
	c.mu.RLock()
	s, ok := m[k]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	var b strings.Builder
	c.executing.RLock()
	err := c.set.ExecuteTemplate(&b, name, data)
	c.executing.RUnlock()
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	s = b.String()
	c.mu.Lock()
	if len(m) >= maxParts {
		clear(m)
	}
	m[k] = s
	c.mu.Unlock()
	return s, nil
}

// card is {{card .}}: product p's "product-card", without its reason.
func (c *partCache) card(p Product) (string, error) {
	p = cardProduct(p)
	return keptPart(c, c.cards, p, "product-card", p)
}

// cardProduct is p as a card shows it: the reason is the customer's own and
// stays outside.
func cardProduct(p Product) Product {
	p.Reason = ""
	return p
}

// storePart is {{storePart NAME .}}: template NAME with the store's view of d.
func (c *partCache) storePart(name string, d Data) (string, error) {
	k := storeKey{name, StoreView{Store: d.Store, Links: ShopLinks{Shop: d.Links.Shop}}}
	return keptPart(c, c.stores, k, name, k.view)
}

// htmlFuncs are the kept-part functions for an HTML set: their output is
// html/template's own, so it is safe HTML.
func (c *partCache) htmlFuncs() map[string]any {
	return map[string]any{
		"card": func(p Product) (htmltemplate.HTML, error) {
			s, err := c.card(p)
			return htmltemplate.HTML(s), err //nolint:gosec // rendered and escaped by html/template
		},
		"storePart": func(name string, d Data) (htmltemplate.HTML, error) {
			s, err := c.storePart(name, d)
			return htmltemplate.HTML(s), err //nolint:gosec // rendered and escaped by html/template
		},
	}
}

// textFuncs are the kept-part functions for a text set.
func (c *partCache) textFuncs() map[string]any {
	return map[string]any{"card": c.card, "storePart": c.storePart}
}

// noCard and noStorePart stand in while templates are parsed and checked.
func noCard(Product) (string, error) { return "", fmt.Errorf("card: not available here") }

func noStorePart(string, Data) (string, error) {
	return "", fmt.Errorf("storePart: not available here")
}
