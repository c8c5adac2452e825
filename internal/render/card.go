package render

import (
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"sync"
)

// cardKey is what a product card shows: everything but the reason, which
// is the customer's own.
type cardKey struct {
	Title, URL, ImageURL string
	Price                Money
}

// maxCards bounds the cards kept per template set; past it the cache starts
// again, so a huge catalog costs memory only up to this.
const maxCards = 4096

// executor is an html/template or text/template set.
type executor interface {
	ExecuteTemplate(w io.Writer, name string, data any) error
}

// cardCache renders each product's card (the "product-card" template) once
// per template set, that is per email, part and locale. A campaign
// recommends the same products to many customers, and executing a
// template's dozen escaped actions costs more than sending the message.
type cardCache struct {
	set executor

	mu    sync.RWMutex
	cards map[cardKey]string
}

func newCardCache(set executor) *cardCache {
	return &cardCache{set: set, cards: map[cardKey]string{}}
}

// render returns p's card, rendered by the template set itself (so escaped
// exactly as inline actions would be).
func (c *cardCache) render(p Product) (string, error) {
	k := cardKey{Title: p.Title, URL: p.URL, ImageURL: p.ImageURL, Price: p.Price}
	c.mu.RLock()
	s, ok := c.cards[k]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	var b strings.Builder
	p.Reason = "" // the card is shared, so it must not show the reason
	if err := c.set.ExecuteTemplate(&b, "product-card", p); err != nil {
		return "", fmt.Errorf("card: %w", err)
	}
	s = b.String()
	c.mu.Lock()
	if len(c.cards) >= maxCards {
		clear(c.cards)
	}
	c.cards[k] = s
	c.mu.Unlock()
	return s, nil
}

// htmlCard is {{card .}} in HTML templates: the card is html/template's own
// output, so it is safe HTML.
func (c *cardCache) htmlCard(p Product) (htmltemplate.HTML, error) {
	s, err := c.render(p)
	return htmltemplate.HTML(s), err //nolint:gosec // rendered and escaped by html/template
}

// noCard stands in for card while templates are parsed and checked.
func noCard(Product) (string, error) {
	return "", fmt.Errorf("card: not available here")
}
