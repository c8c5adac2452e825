package importer

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/remarket/remarket/internal/store"
)

// Cancellations (online-retail "C" invoices) carry no link to the purchase
// they cancel, so applyRefunds matches them to earlier purchase lines of the
// same customer and product and records refund_lines; order_lines and order
// statuses follow. Doing it as refunds, rather than storing the "C" invoices
// as cancelled orders, makes every purchase line say how much of it was
// returned, which is what recommendations and purchase counts need.
//
// The matching is first-in, first-out, in one statement. Lay the remaining
// (not yet refunded) units of a customer's purchases of a product on an axis
// in purchase order; purchase line i covers [p_start, p_end). Cancellation k,
// at time t_k for q_k units, may only take units bought at or before t_k,
// i.e. below P_k, the cumulative purchases up to t_k. With Q_k the cumulative
// cancelled units, the units matched after k cancellations obey
//
//	M_k = min(M_{k-1} + q_k, P_k)
//
// which unrolls to M_k = Q_k + min(0, min over j<=k of (P_j - Q_j)): a
// running minimum, i.e. a window function. Cancellation k takes the axis
// interval [M_{k-1}, M_k), and its refund lines are the overlaps of that
// interval with the purchase lines. Units it cannot match (a purchase from
// before the data begins) are left unmatched rather than taken from a later
// purchase.
//
// A cancellation is applied once: its refund external id is its invoice and
// line ordinal (e.g. "C536379:1"), refund_lines' primary key holds it, and
// cancellations that already have refund lines are left out, so a repeated
// import adds nothing.
const applyRefundsSQL = `
WITH c AS (
    SELECT r.seq, r.refund_ext, r.placed_at, r.quantity AS q, cu.id AS customer_id, p.id AS product_id
    FROM import_refunds r
    JOIN customers cu ON cu.store_id = $1 AND cu.external_id = NULLIF(r.cust_ext, '')
    JOIN products p ON p.store_id = $1 AND p.external_id = r.product_ext
    WHERE NOT EXISTS (SELECT 1 FROM refund_lines x WHERE x.store_id = $1 AND x.refund_external_id = r.refund_ext)
), pl AS (
    SELECT l.id AS line_id, o.customer_id, l.product_id, o.placed_at, l.quantity - l.refunded_quantity AS rem
    FROM order_lines l
    JOIN orders o ON o.id = l.order_id
    WHERE o.store_id = $1 AND o.status IN ('paid', 'partially_refunded')
      AND l.quantity > l.refunded_quantity
      AND (o.customer_id, l.product_id) IN (SELECT customer_id, product_id FROM c)
), axis AS (
    SELECT line_id, customer_id, product_id, sum(rem) OVER w - rem AS p_start, sum(rem) OVER w AS p_end
    FROM pl
    WINDOW w AS (PARTITION BY customer_id, product_id ORDER BY placed_at, line_id ROWS UNBOUNDED PRECEDING)
), ev AS (
    SELECT customer_id, product_id, placed_at, 0 AS ord, line_id AS id, rem AS pq, 0 AS cq FROM pl
    UNION ALL
    SELECT customer_id, product_id, placed_at, 1, seq, 0, q FROM c
), run AS (
    SELECT ev.*, sum(pq) OVER w AS p_cum, sum(cq) OVER w AS q_cum
    FROM ev
    WINDOW w AS (PARTITION BY customer_id, product_id ORDER BY placed_at, ord, id ROWS UNBOUNDED PRECEDING)
), matched AS (
    SELECT customer_id, product_id, placed_at, id AS seq,
           q_cum + least(0, min(p_cum - q_cum) OVER w) AS m_end
    FROM run
    WHERE ord = 1
    WINDOW w AS (PARTITION BY customer_id, product_id ORDER BY placed_at, id ROWS UNBOUNDED PRECEDING)
), spans AS (
    SELECT m.*, lag(m_end, 1, 0::bigint) OVER (PARTITION BY customer_id, product_id ORDER BY placed_at, seq) AS m_start
    FROM matched m
), alloc AS (
    SELECT c.refund_ext, a.line_id, c.placed_at,
           least(s.m_end, a.p_end) - greatest(s.m_start, a.p_start) AS qty
    FROM spans s
    JOIN c ON c.seq = s.seq
    JOIN axis a ON a.customer_id = s.customer_id AND a.product_id = s.product_id
               AND a.p_start < s.m_end AND a.p_end > s.m_start
), ins AS (
    INSERT INTO refund_lines (store_id, refund_external_id, order_line_id, quantity, refunded_at)
    SELECT $1, refund_ext, line_id, qty, placed_at FROM alloc
    ON CONFLICT DO NOTHING
    RETURNING order_line_id, quantity
), upd AS (
    UPDATE order_lines l SET refunded_quantity = l.refunded_quantity + i.q
    FROM (SELECT order_line_id, sum(quantity) AS q FROM ins GROUP BY order_line_id) i
    WHERE l.id = i.order_line_id
    RETURNING l.order_id
)
SELECT (SELECT count(*) FROM ins), ARRAY(SELECT DISTINCT order_id FROM upd)`

// refundStatusSQL marks orders with refunded lines, and stamps each as
// changed even when its status stays (a second partial refund), so that
// served recommendation models see it (store.OrdersChangedSince). It runs
// as a separate statement because a statement does not see the updates of
// its own CTEs.
// It returns how many orders changed status, which the summary counts as
// marked refunded.
const refundStatusSQL = `
WITH u AS (
    UPDATE orders o SET status = s.status, ` + store.OrderChanged + `
    FROM (
        SELECT l.order_id,
               CASE WHEN bool_and(l.refunded_quantity >= l.quantity) THEN 'refunded' ELSE 'partially_refunded' END AS status
        FROM order_lines l
        WHERE l.order_id = ANY($1)
        GROUP BY l.order_id
    ) s, orders old -- the row as it was: RETURNING o.status would be the new one
    WHERE o.id = s.order_id AND old.id = o.id AND o.status IN ('paid', 'partially_refunded')
    RETURNING old.status <> s.status AS changed
)
SELECT count(*) FILTER (WHERE changed) FROM u`

const unmatchedSQL = `
SELECT count(*) FROM import_refunds r
WHERE NOT EXISTS (SELECT 1 FROM refund_lines x WHERE x.store_id = $1 AND x.refund_external_id = r.refund_ext)`

func applyRefunds(ctx context.Context, tx pgx.Tx, storeID int64, sum *Summary) error {
	var orderIDs []int64
	if err := tx.QueryRow(ctx, applyRefundsSQL, storeID).Scan(&sum.Refunds, &orderIDs); err != nil {
		return err
	}
	if len(orderIDs) > 0 {
		if err := tx.QueryRow(ctx, refundStatusSQL, orderIDs).Scan(&sum.OrdersRefunded); err != nil {
			return fmt.Errorf("mark refunded orders: %w", err)
		}
	}
	return tx.QueryRow(ctx, unmatchedSQL, storeID).Scan(&sum.CancellationsUnmatched)
}
