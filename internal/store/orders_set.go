package store

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/shop"
)

// ordersSetSQL saves many orders with their customers and lines in one
// statement: what remarket_order_upsert does for one order, done for a
// whole batch, so a busy store's deliveries cost one function call per
// customer instead of one per order. $1 is the store; orders come as
// parallel arrays ($2–$20), lines as arrays keyed by their order's position
// ($21–$28). Products must exist already (QueueOrders ensures them first).
const ordersSetSQL = `WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::bool[],
        $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[], $14::text[], $15::text[],
        $16::text[], $17::text[], $18::text[], $19::timestamptz[], $20::timestamptz[])
    WITH ORDINALITY AS i(ext, number, currency, total, status, token, test, placed, cancelled, updated,
        c_ext, c_email, c_first, c_last, c_country, c_consent, c_source, c_consent_at, c_updated, ord)
), cust AS MATERIALIZED (
    SELECT ord, remarket_customer_upsert($1, c_ext, c_email, c_first, c_last, c_country, c_consent, c_source,
        c_consent_at, c_updated) AS customer_id
    FROM input ORDER BY ord
), up AS (
    INSERT INTO orders (store_id, external_id, customer_id, number, currency, total_minor, status, checkout_token,
        test, placed_at, cancelled_at, source_updated_at)
    SELECT $1, i.ext, c.customer_id, i.number, i.currency, i.total, i.status, i.token, i.test, i.placed, i.cancelled, i.updated
    FROM input i JOIN cust c USING (ord)
    ON CONFLICT (store_id, external_id) DO UPDATE SET customer_id = COALESCE(EXCLUDED.customer_id, orders.customer_id),
        number = EXCLUDED.number, currency = EXCLUDED.currency, total_minor = EXCLUDED.total_minor,
        status = EXCLUDED.status, checkout_token = EXCLUDED.checkout_token, test = EXCLUDED.test,
        placed_at = EXCLUDED.placed_at, cancelled_at = EXCLUDED.cancelled_at,
        source_updated_at = EXCLUDED.source_updated_at, ` + OrderChanged + `
    WHERE orders.source_updated_at IS NULL OR orders.source_updated_at < EXCLUDED.source_updated_at
    RETURNING id, external_id
), lines AS (
    INSERT INTO order_lines AS ol (order_id, store_id, external_id, product_id, sku, title, quantity, unit_price_minor,
        refunded_quantity)
    SELECT up.id, $1, l.ext, p.id, l.sku, l.title, l.qty, l.price, l.refunded
    FROM unnest($21::bigint[], $22::text[], $23::text[], $24::text[], $25::text[], $26::int[], $27::bigint[], $28::int[])
        AS l(ord, ext, product, sku, title, qty, price, refunded)
    JOIN input i ON i.ord = l.ord
    JOIN up ON up.external_id = i.ext
    LEFT JOIN products p ON p.store_id = $1 AND p.external_id = l.product AND l.product <> ''
    ON CONFLICT (order_id, external_id) DO UPDATE SET product_id = EXCLUDED.product_id, sku = EXCLUDED.sku,
        title = EXCLUDED.title, quantity = EXCLUDED.quantity, unit_price_minor = EXCLUDED.unit_price_minor,
        refunded_quantity = GREATEST(EXCLUDED.refunded_quantity, ol.refunded_quantity)
)
UPDATE checkouts SET status = 'recovered', updated_at = now()
WHERE store_id = $1 AND status <> 'recovered'
  AND token IN (SELECT i.token FROM input i JOIN up ON up.external_id = i.ext WHERE i.token <> '')`

// queueOrdersSet adds ordersSetSQL for orders to a batch. An order that
// appears twice (created and updated within one commit) is sent once, its
// newest version.
func queueOrdersSet(pb *pgx.Batch, storeID int64, orders []*shop.Order) {
	newest := map[string]int{}
	var keep []*shop.Order
	for _, o := range orders {
		if i, ok := newest[o.ExternalID]; ok {
			if !o.UpdatedAt.Before(keep[i].UpdatedAt) {
				keep[i] = o
			}
			continue
		}
		newest[o.ExternalID] = len(keep)
		keep = append(keep, o)
	}
	n := len(keep)
	var (
		ext, number, currency, status, token                     = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		cExt, cEmail, cFirst, cLast, cCountry, cConsent, cSource = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		total                                                    = make([]int64, n)
		test                                                     = make([]bool, n)
		placed                                                   = make([]time.Time, n)
		cancelled, updated, cConsentAt, cUpdated                 = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		lOrd                                                     []int64
		lExt, lProduct, lSKU, lTitle                             []string
		lQty, lRefunded                                          []int32
		lPrice                                                   []int64
	)
	for i, o := range keep {
		ext[i], number[i], currency[i], status[i], token[i] = o.ExternalID, o.Number, o.Currency, string(o.Status), o.CheckoutToken
		total[i], test[i], placed[i], cancelled[i], updated[i] = o.TotalMinor, o.Test, o.PlacedAt, o.CancelledAt, nullTime(o.UpdatedAt)
		if c := datedCustomer(o.Customer, o.UpdatedAt); c != nil && (c.ExternalID != "" || c.Email != "") {
			consentAt := nullTime(c.ConsentAt)
			if c.Consent != "" && consentAt == nil {
				consentAt = nullTime(c.UpdatedAt)
			}
			cExt[i], cEmail[i], cFirst[i], cLast[i], cCountry[i] = c.ExternalID, c.Email, c.FirstName, c.LastName, c.Country
			cConsent[i], cSource[i], cConsentAt[i], cUpdated[i] = string(c.Consent), c.ConsentSource, consentAt, nullTime(c.UpdatedAt)
		}
		la := lineArgs(o.Lines)
		le, lp, ls, lt := la[0].([]string), la[1].([]string), la[2].([]string), la[3].([]string)
		lq, lpr, lr := la[5].([]int32), la[6].([]int64), la[7].([]int32)
		for j := range le {
			lOrd = append(lOrd, int64(i+1))
			lExt, lProduct, lSKU, lTitle = append(lExt, le[j]), append(lProduct, lp[j]), append(lSKU, ls[j]), append(lTitle, lt[j])
			lQty, lPrice, lRefunded = append(lQty, lq[j]), append(lPrice, lpr[j]), append(lRefunded, lr[j])
		}
	}
	pb.Queue(ordersSetSQL, storeID, ext, number, currency, total, status, token, test, placed, cancelled, updated,
		cExt, cEmail, cFirst, cLast, cCountry, cConsent, cSource, cConsentAt, cUpdated,
		lOrd, lExt, lProduct, lSKU, lTitle, lQty, lPrice, lRefunded)
}
