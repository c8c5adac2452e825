package segment

import (
	"fmt"
	"math"
	"strconv"
)

// keptLines restricts order lines to what the customer paid for and kept.
const keptLines = `o.customer_id = c.id AND o.status IN ('paid', 'partially_refunded') AND l.quantity > l.refunded_quantity`

// Compile turns e into a SQL condition on a customers row aliased c. Its
// placeholders start at $first; minorDigits scales spent>= to minor units
// of the store's currency. It returns the condition and its arguments.
func Compile(e Expr, first, minorDigits int) (string, []any) {
	c := &compiler{next: first, scale: math.Pow10(minorDigits)}
	return c.expr(e), c.args
}

type compiler struct {
	next  int
	args  []any
	scale float64
}

func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	c.next++
	return "$" + strconv.Itoa(c.next-1)
}

func (c *compiler) expr(e Expr) string {
	switch e := e.(type) {
	case And:
		return "(" + c.expr(e.L) + " AND " + c.expr(e.R) + ")"
	case Or:
		return "(" + c.expr(e.L) + " OR " + c.expr(e.R) + ")"
	case Not:
		return "(NOT " + c.expr(e.X) + ")"
	case Term:
		return c.term(e)
	}
	panic(fmt.Sprintf("segment: unknown node %T", e))
}

func (c *compiler) term(t Term) string {
	switch t.Key {
	case "bought":
		return `EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
WHERE ` + keptLines + ` AND (p.sku = ` + c.arg(t.Value) + ` OR p.external_id = ` + c.arg(t.Value) + `))`
	case "bought-category":
		return `EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
WHERE ` + keptLines + ` AND lower(p.category) = lower(` + c.arg(t.Value) + `))`
	case "viewed":
		return `EXISTS (SELECT 1 FROM views v JOIN products p ON p.id = v.product_id
WHERE v.customer_id = c.id AND (p.sku = ` + c.arg(t.Value) + ` OR p.external_id = ` + c.arg(t.Value) + `))`
	case "abandoned-checkout":
		return `EXISTS (SELECT 1 FROM checkouts k WHERE k.customer_id = c.id AND k.status = 'abandoned')`
	case "country":
		return `upper(c.country) = upper(` + c.arg(t.Value) + `)`
	case "last-order-before":
		days, _ := parseDays(t.Value)
		return `COALESCE((SELECT max(o.placed_at) FROM orders o WHERE o.customer_id = c.id AND o.status <> 'cancelled'), '-infinity')
    < now() - make_interval(days => ` + c.arg(days) + `)`
	case "orders":
		n, _ := strconv.ParseFloat(t.Value, 64)
		return `(SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND o.status IN ('paid', 'partially_refunded')) ` +
			sqlOp(t.Op) + ` ` + c.arg(n)
	case "spent":
		n, _ := strconv.ParseFloat(t.Value, 64)
		return `(SELECT COALESCE(sum((l.quantity - l.refunded_quantity) * l.unit_price_minor), 0) FROM orders o
JOIN order_lines l ON l.order_id = o.id WHERE ` + keptLines + `) ` + sqlOp(t.Op) + ` ` + c.arg(math.Round(n*c.scale))
	}
	panic("segment: unknown term " + t.Key)
}

func sqlOp(op string) string {
	if op == "!=" {
		return "<>"
	}
	return op
}
