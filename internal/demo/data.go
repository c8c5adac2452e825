// Package demo builds a small, believable shop (catalog, customers, two years
// of orders, carts, views and consent changes) and sends it to a running
// remarket as signed webhooks, the way a real store would.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// The JSON below follows remarket's generic webhook format (docs/webhooks.md).

type customer struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Country   string `json:"country,omitempty"`
	Consent   string `json:"consent,omitempty"`
	ConsentAt string `json:"consent_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

type line struct {
	ID        string `json:"id,omitempty"`
	ProductID string `json:"product_id"`
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	Category  string `json:"category,omitempty"`
	Quantity  int    `json:"quantity"`
	Price     string `json:"price"`
}

type order struct {
	ID            string    `json:"id"`
	Number        string    `json:"number"`
	CreatedAt     string    `json:"created_at"`
	UpdatedAt     string    `json:"updated_at"`
	Currency      string    `json:"currency"`
	Status        string    `json:"status"`
	CheckoutToken string    `json:"checkout_token,omitempty"`
	Customer      *customer `json:"customer,omitempty"`
	Lines         []line    `json:"lines"`
}

type product struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	Title     string `json:"title"`
	URL       string `json:"url"`
	ImageURL  string `json:"image_url"`
	Price     string `json:"price"`
	Currency  string `json:"currency"`
	Category  string `json:"category"`
	InStock   bool   `json:"in_stock"`
	UpdatedAt string `json:"updated_at"`
}

type refundLine struct {
	LineID   string `json:"line_id"`
	Quantity int    `json:"quantity"`
}

type refund struct {
	ID        string       `json:"id"`
	OrderID   string       `json:"order_id"`
	CreatedAt string       `json:"created_at"`
	Lines     []refundLine `json:"lines"`
}

type checkout struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	URL       string    `json:"url"`
	Customer  *customer `json:"customer"`
	Currency  string    `json:"currency"`
	UpdatedAt string    `json:"updated_at"`
	Lines     []line    `json:"lines"`
}

type view struct {
	Customer  *customer `json:"customer"`
	ProductID string    `json:"product_id"`
	ViewedAt  string    `json:"viewed_at"`
}

// event is one generic webhook event.
type event struct {
	Type     string    `json:"type"`
	ID       string    `json:"id"`
	Order    *order    `json:"order,omitempty"`
	Refund   *refund   `json:"refund,omitempty"`
	Checkout *checkout `json:"checkout,omitempty"`
	View     *view     `json:"view,omitempty"`
	Customer *customer `json:"customer,omitempty"`
	Product  *product  `json:"product,omitempty"`
}

// Shop is the generated history, in the order a store would send it.
type Shop struct {
	Catalog   []event // products, sent as one batch
	History   []event // past orders, sent in batches (a backfill)
	Live      []event // recent orders, refunds, carts, views, consent: one webhook each
	Customers int
	Domain    string
}

var categories = []struct {
	name   string
	items  []string
	prices []int // pence, one tier per item: the later the better
}{
	{"Candles", []string{"Tea light set", "Scented candle", "Pillar candle", "Luxury soy candle"}, []int{395, 895, 1295, 2495}},
	{"Mugs", []string{"Enamel mug", "Stoneware mug", "Hand-thrown mug"}, []int{650, 1200, 2800}},
	{"Tea", []string{"Breakfast tea", "Earl grey", "Loose leaf sampler", "Single estate darjeeling"}, []int{450, 550, 1400, 2200}},
	{"Blankets", []string{"Fleece throw", "Cotton throw", "Wool blanket"}, []int{1800, 3200, 8900}},
	{"Notebooks", []string{"Pocket notebook", "Dotted journal", "Leather journal"}, []int{500, 1400, 3900}},
	{"Garden", []string{"Seed kit", "Herb planter", "Copper watering can"}, []int{900, 2200, 4500}},
}

// pairs are bought together more often than chance: the demo's cross-sell signal.
var pairs = [][2]string{{"Tea", "Mugs"}, {"Candles", "Blankets"}, {"Notebooks", "Tea"}, {"Garden", "Tea"}}

var firstNames = []string{"Ana", "Ben", "Chloe", "Dev", "Ella", "Femi", "Grace", "Hugo", "Isla", "Jon", "Kai", "Lena", "Maya", "Noah", "Orla", "Priya"}
var lastNames = []string{"Lopez", "Smith", "Okafor", "Patel", "Novak", "Brown", "Schmidt", "Kowalski", "Murphy", "Tanaka"}
var countries = []string{"GB", "GB", "GB", "IE", "FR", "DE", "NL"}

// Generate builds a shop with n customers; the same seed gives the same shop.
func Generate(seed uint64, n int, now time.Time) Shop {
	r := rand.New(rand.NewPCG(seed, 7))
	s := Shop{Domain: "demo-shop.example", Customers: n}
	prods := catalog(&s, now)
	custs := make([]customer, n)
	for i := range custs {
		custs[i] = newCustomer(r, i, now)
	}
	genOrders(r, &s, prods, custs, now)
	genLive(r, &s, prods, custs, now)
	return s
}

func catalog(s *Shop, now time.Time) map[string][]product {
	byCat := map[string][]product{}
	for ci, c := range categories {
		for i, title := range c.items {
			id := fmt.Sprintf("p%d%02d", ci+1, i+1)
			p := product{ID: id, SKU: "SKU-" + id, Title: title, URL: "https://demo-shop.example/products/" + id,
				ImageURL: "https://demo-shop.example/img/" + id + ".jpg", Price: pounds(c.prices[i]), Currency: "GBP",
				Category: c.name, InStock: !(ci == 3 && i == 2), UpdatedAt: stamp(now.AddDate(-2, 0, 0))}
			byCat[c.name] = append(byCat[c.name], p)
			s.Catalog = append(s.Catalog, event{Type: "product", ID: "product-" + id, Product: &p})
		}
	}
	return byCat
}

func newCustomer(r *rand.Rand, i int, now time.Time) customer {
	f, l := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	c := customer{ID: fmt.Sprintf("c%04d", i+1), Email: fmt.Sprintf("%s.%s.%d@example.com", f, l, i+1),
		FirstName: f, LastName: l, Country: countries[r.IntN(len(countries))]}
	if r.IntN(10) < 7 {
		c.Consent, c.ConsentAt = "subscribed", stamp(now.AddDate(-2, 0, 0))
	} else {
		c.Consent, c.ConsentAt = "not_subscribed", stamp(now.AddDate(-2, 0, 0))
	}
	return c
}

// genOrders gives each customer a few orders over two years; most orders
// hold a pair of related categories.
func genOrders(r *rand.Rand, s *Shop, prods map[string][]product, custs []customer, now time.Time) {
	num := 1000
	for i := range custs {
		c := &custs[i]
		for range 1 + r.IntN(4) {
			num++
			at := now.Add(-time.Duration(r.IntN(720*24)) * time.Hour)
			o := order{ID: fmt.Sprint(num), Number: fmt.Sprintf("#%d", num), CreatedAt: stamp(at), UpdatedAt: stamp(at),
				Currency: "GBP", Status: "paid", Customer: c, Lines: basket(r, prods, num)}
			ev := event{Type: "order", ID: "order-" + o.ID, Order: &o}
			if at.After(now.AddDate(0, 0, -14)) {
				s.Live = append(s.Live, ev)
			} else {
				s.History = append(s.History, ev)
			}
		}
	}
}

func basket(r *rand.Rand, prods map[string][]product, num int) []line {
	cats := []string{categories[r.IntN(len(categories))].name}
	if r.IntN(10) < 6 {
		p := pairs[r.IntN(len(pairs))]
		cats = []string{p[0], p[1]}
	}
	var lines []line
	for i, cat := range cats {
		ps := prods[cat]
		p := ps[min(len(ps)-1, r.IntN(len(ps))+r.IntN(2))]
		lines = append(lines, line{ID: fmt.Sprintf("%d-%d", num, i+1), ProductID: p.ID, SKU: p.SKU, Title: p.Title,
			Category: p.Category, Quantity: 1 + r.IntN(2), Price: p.Price})
	}
	return lines
}

// genLive adds what arrives as individual webhooks: refunds, carts (some
// recovered by a later order), product views and consent changes.
func genLive(r *rand.Rand, s *Shop, prods map[string][]product, custs []customer, now time.Time) {
	var recent []*order
	for _, ev := range s.Live {
		recent = append(recent, ev.Order)
	}
	for i := range min(5, len(recent)) {
		o := recent[i*3%len(recent)]
		s.Live = append(s.Live, event{Type: "refund", ID: "refund-" + o.ID, Refund: &refund{ID: "r" + o.ID, OrderID: o.ID,
			CreatedAt: stamp(now.Add(-time.Hour)), Lines: []refundLine{{LineID: o.Lines[0].ID, Quantity: o.Lines[0].Quantity}}}})
	}
	for i := range 30 {
		c := &custs[r.IntN(len(custs))]
		token := fmt.Sprintf("cart%03d", i)
		at := now.Add(-time.Duration(2+r.IntN(70)) * time.Hour)
		k := checkout{ID: token, Token: token, URL: "https://demo-shop.example/cart/recover/" + token, Customer: c,
			Currency: "GBP", UpdatedAt: stamp(at), Lines: basket(r, prods, 0)}
		for j := range k.Lines {
			k.Lines[j].ID = ""
		}
		s.Live = append(s.Live, event{Type: "checkout", ID: "checkout-" + token, Checkout: &k})
		if i%3 == 0 { // a third come back and buy
			o := order{ID: "9" + fmt.Sprint(1000+i), Number: fmt.Sprintf("#9%d", 1000+i), CreatedAt: stamp(at.Add(time.Hour)),
				UpdatedAt: stamp(at.Add(time.Hour)), Currency: "GBP", Status: "paid", CheckoutToken: token, Customer: c, Lines: k.Lines}
			s.Live = append(s.Live, event{Type: "order", ID: "order-" + o.ID, Order: &o})
		}
	}
	all := s.Catalog
	for i := range 120 {
		c := &custs[r.IntN(len(custs))]
		p := all[r.IntN(len(all))].Product
		s.Live = append(s.Live, event{Type: "view", ID: fmt.Sprintf("view-%d", i),
			View: &view{Customer: &customer{ID: c.ID, Email: c.Email}, ProductID: p.ID, ViewedAt: stamp(now.Add(-time.Duration(r.IntN(300)) * time.Hour))}})
	}
	for i := range 10 {
		c := custs[(i*37)%len(custs)]
		c.Consent, c.ConsentAt, c.UpdatedAt = "unsubscribed", stamp(now.Add(-time.Duration(i+1)*time.Hour)), stamp(now.Add(-time.Duration(i+1)*time.Hour))
		s.Live = append(s.Live, event{Type: "customer", ID: "consent-" + c.ID, Customer: &c})
	}
}

func pounds(pence int) string { return fmt.Sprintf("%d.%02d", pence/100, pence%100) }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
