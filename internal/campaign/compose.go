// Package campaign plans, previews and sends campaigns: a segment of a
// store's customers gets a personalized email, once each, never anyone who
// said no. The consent and suppression rules are checked when the audience
// is planned and again right before each send.
package campaign

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/remarket/remarket/internal/mailer"
	"github.com/remarket/remarket/internal/recommend"
	"github.com/remarket/remarket/internal/render"
	"github.com/remarket/remarket/internal/store"
	"github.com/remarket/remarket/internal/track"
)

// Recommender gives a customer's picks; the recs service is one.
type Recommender interface {
	Recommend(ctx context.Context, storeID int64, r recommend.Request) ([]recommend.Pick, error)
}

// ErrNoSigner: emails carry signed unsubscribe links, so composing one
// needs the deployment's secret.
var ErrNoSigner = errors.New("no link signer: set REMARKET_SECRET to sign unsubscribe links")

// Composer builds the exact message a customer would get.
type Composer struct {
	DB        store.DB
	Renderer  *render.Renderer
	Recs      Recommender
	Links     *track.Signer
	PublicURL string // base of links in emails (unsubscribe)
	// UnsubscribeDomain, when set, adds
	// mailto:unsubscribe+TOKEN@UnsubscribeDomain to List-Unsubscribe
	// (REMARKET_UNSUBSCRIBE_DOMAIN; package inbound receives that mail).
	UnsubscribeDomain string
}

// Composed is a message ready to send, with what it recommends.
type Composed struct {
	Message  mailer.Message
	Products []int64
}

// Recipient is a customer to compose for, with their ledger row (0 for
// previews and test sends), which goes into the links and the Message-ID.
type Recipient struct {
	Customer store.Customer
	SendID   int64
	// Recent lists the products sent to the customer within
	// store.RecentDays when RecentKnown (a claim reads them); else
	// ComposeMany reads them.
	Recent      []int64
	RecentKnown bool
}

// Compose renders camp's email for one customer.
func (c *Composer) Compose(ctx context.Context, st store.Store, camp store.Campaign, cu store.Customer, sendID int64) (Composed, error) {
	out, err := c.ComposeMany(ctx, st, camp, []Recipient{{Customer: cu, SendID: sendID}})
	if err != nil {
		return Composed{}, err
	}
	return out[0], nil
}

// ComposeMany renders camp's email for several customers with two queries
// in all: what each was recommended lately, unless the recipients carry it,
// then, after the in-memory recommendations, the products they name; and
// one more for each of the latest order and abandoned checkout when the
// template shows them.
func (c *Composer) ComposeMany(ctx context.Context, st store.Store, camp store.Campaign, rs []Recipient) ([]Composed, error) {
	if c.Links == nil {
		return nil, ErrNoSigner
	}
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.Customer.ID
	}
	recent, err := c.recent(ctx, rs)
	if err != nil {
		return nil, err
	}
	picks := make([][]recommend.Pick, len(rs))
	var productIDs []int64
	for i, r := range rs {
		picks[i], err = c.Recs.Recommend(ctx, st.ID, recommend.Request{Customer: r.Customer.ID, Strategy: camp.Strategy, K: camp.K, RecentlySent: recent[i]})
		if err != nil {
			return nil, fmt.Errorf("recommend for customer %d: %w", r.Customer.ID, err)
		}
		for _, p := range picks[i] {
			productIDs = append(productIDs, p.Product)
		}
	}
	products, err := store.ProductsByID(ctx, c.DB, productIDs)
	if err != nil {
		return nil, err
	}
	orders, checkouts, err := c.baskets(ctx, st, camp, ids)
	if err != nil {
		return nil, err
	}
	host := c.messageIDHost()
	out := make([]Composed, len(rs))
	for i, r := range rs {
		// One token for the link in the body and both List-Unsubscribe forms.
		tok := c.Links.Sign(track.Token{Purpose: track.PurposeUnsubscribe, StoreID: st.ID, CustomerID: r.Customer.ID, SendID: r.SendID})
		data, pids := c.data(st, r.Customer, picks[i], products, tok)
		data.Order, data.Checkout = renderOrder(orders[r.Customer.ID], st), renderCheckout(checkouts[r.Customer.ID], st)
		// An operator's subject replaces the template's; it is a template
		// too, with the same data.
		msg, err := c.Renderer.RenderWithSubject(camp.Template, data, camp.Subject)
		if err != nil {
			return nil, err
		}
		out[i] = Composed{Message: c.message(st, camp, r.Customer, r.SendID, msg, tok, data.Links.Unsubscribe, host), Products: pids}
	}
	return out, nil
}

// recent gives each recipient's recently recommended products, reading
// those the recipients do not carry in one query.
func (c *Composer) recent(ctx context.Context, rs []Recipient) ([]map[int64]bool, error) {
	out := make([]map[int64]bool, len(rs))
	var unknown []int64
	for i, r := range rs {
		if !r.RecentKnown {
			unknown = append(unknown, r.Customer.ID)
			continue
		}
		for _, p := range r.Recent {
			if out[i] == nil {
				out[i] = map[int64]bool{}
			}
			out[i][p] = true
		}
	}
	if len(unknown) == 0 {
		return out, nil
	}
	read, err := store.RecentlyRecommendedMany(ctx, c.DB, unknown)
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		if !r.RecentKnown {
			out[i] = read[r.Customer.ID]
		}
	}
	return out, nil
}

func (c *Composer) data(st store.Store, cu store.Customer, picks []recommend.Pick, products map[int64]store.Product, unsubscribeToken string) (render.Data, []int64) {
	ids := make([]int64, len(picks))
	for i, p := range picks {
		ids[i] = p.Product
	}
	shopURL := "https://" + st.Domain
	d := render.Data{
		Customer: render.Customer{FirstName: cu.FirstName, Email: deref(cu.Email)},
		Store:    render.Store{Name: st.Name, URL: shopURL, Address: st.Address, Locale: Locale(st)},
		Links: render.Links{
			Unsubscribe: c.unsubscribeURL(unsubscribeToken),
			Shop:        shopURL,
		},
	}
	for _, p := range picks {
		pr := products[p.Product]
		link := pr.URL
		if link == "" { // a product known only from orders: let the shop's search find it
			link = shopURL + "/search?q=" + url.QueryEscape(orDefault(pr.SKU, pr.Title))
		}
		d.Products = append(d.Products, render.Product{Title: pr.Title, URL: link, ImageURL: pr.ImageURL,
			Price: render.Money{Minor: pr.PriceMinor, Currency: orDefault(pr.Currency, st.Currency)}, Reason: p.Reason})
	}
	return d, ids
}

// unsubscribeURL is the one-click link (GET confirms, POST unsubscribes).
func (c *Composer) unsubscribeURL(token string) string { return c.PublicURL + "/u/" + token }

// messageIDHost is the domain of the Message-IDs the composer makes: the
// public URL's host.
func (c *Composer) messageIDHost() string {
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "remarket.invalid"
}

func (c *Composer) message(st store.Store, camp store.Campaign, cu store.Customer, sendID int64, m render.Message, unsubscribeToken, unsubscribeURL, host string) mailer.Message {
	msg := mailer.Message{
		From:               st.From,
		To:                 deref(cu.Email),
		Subject:            m.Subject,
		Text:               m.Text,
		HTML:               m.HTML,
		MessageID:          fmt.Sprintf("<c%d.s%d.%s@%s>", camp.ID, sendID, randomHex(6), host),
		ListUnsubscribeURL: unsubscribeURL,
		ListID:             fmt.Sprintf("%s <campaigns.%s>", st.Name, st.Domain),
		Headers:            map[string]string{"X-Remarket-Campaign": fmt.Sprint(camp.ID)},
	}
	if c.UnsubscribeDomain != "" {
		msg.ListUnsubscribeMailto = track.MailtoUnsubscribe(c.UnsubscribeDomain, unsubscribeToken)
	}
	return msg
}

var localeByZone = map[string]string{"Europe/London": "en-GB", "Europe/Dublin": "en-IE", "Europe/Berlin": "de-DE",
	"Europe/Vienna": "de-AT", "Europe/Zurich": "de-CH", "Europe/Paris": "fr-FR", "Europe/Madrid": "es-ES",
	"Europe/Rome": "it-IT", "Europe/Amsterdam": "nl-NL", "Europe/Stockholm": "sv-SE", "Europe/Warsaw": "pl-PL"}

// Locale guesses how to format money for a store from its time zone, with
// the currency as a fallback.
func Locale(st store.Store) string {
	if l, ok := localeByZone[st.Timezone]; ok {
		return l
	}
	switch st.Currency {
	case "GBP":
		return "en-GB"
	case "EUR":
		return "de-DE"
	}
	return "en-US"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
