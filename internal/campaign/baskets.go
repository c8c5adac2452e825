package campaign

import (
	"context"

	"github.com/remarket/remarket/internal/render"
	"github.com/remarket/remarket/internal/store"
)

// maxBasketLines is how many lines of an order or checkout an email lists;
// a wholesaler's order of hundreds of lines ends with "and N more items".
const maxBasketLines = 12

// baskets loads what the campaign's template shows besides recommendations:
// each customer's latest order (thank-you, replenish) and latest abandoned
// checkout (abandoned-checkout). A campaign has no single triggering event,
// so the customer's latest one stands for it.
func (c *Composer) baskets(ctx context.Context, st store.Store, camp store.Campaign, customers []int64) (orders, checkouts map[int64]*store.Basket, err error) {
	needOrder, needCheckout := c.Renderer.Needs(camp.Template, camp.Subject)
	if needOrder {
		if orders, err = store.LastOrders(ctx, c.DB, st.ID, customers, maxBasketLines); err != nil {
			return nil, nil, err
		}
	}
	if needCheckout {
		if checkouts, err = store.AbandonedCheckouts(ctx, c.DB, st.ID, customers, maxBasketLines); err != nil {
			return nil, nil, err
		}
	}
	return orders, checkouts, nil
}

func renderOrder(b *store.Basket, st store.Store) *render.Order {
	if b == nil {
		return nil
	}
	lines, total := renderLines(b, st)
	return &render.Order{Number: b.Number, Lines: lines, Total: total, More: b.More}
}

// renderCheckout links a checkout the store gave no URL for to the cart,
// where Shopify and WooCommerce both keep it.
func renderCheckout(b *store.Basket, st store.Store) *render.Checkout {
	if b == nil {
		return nil
	}
	lines, total := renderLines(b, st)
	return &render.Checkout{URL: orDefault(b.URL, "https://"+st.Domain+"/cart"), Lines: lines, Total: total, More: b.More}
}

func renderLines(b *store.Basket, st store.Store) ([]render.Line, render.Money) {
	currency := orDefault(b.Currency, st.Currency)
	lines := make([]render.Line, len(b.Lines))
	for i, l := range b.Lines {
		lines[i] = render.Line{Title: l.Title, Quantity: l.Quantity, URL: l.URL, ImageURL: l.ImageURL,
			Price: render.Money{Minor: l.UnitPriceMinor, Currency: currency}}
	}
	return lines, render.Money{Minor: b.TotalMinor, Currency: currency}
}
