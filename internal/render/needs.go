package render

import (
	"text/template/parse"
)

// Needs says which optional parts of Data the email name reads: the
// triggering order (.Order) and the abandoned checkout (.Checkout). Senders
// load those from the database only for emails that show them, so a
// cross-sell campaign does not fetch every recipient's last order. A name
// Names does not list needs nothing. Load works it out once per email.
func (r *Renderer) Needs(name string) (order, checkout bool) {
	if p := r.protos[name]; p != nil {
		return p.needsOrder, p.needsCheckout
	}
	return false, false
}

// findNeeds sets what Needs reports from the parse trees of e's three
// templates and everything they include.
func (e *email) findNeeds() {
	var trees []*parse.Tree
	for _, t := range e.subject.Templates() {
		trees = append(trees, t.Tree)
	}
	for _, t := range e.html.Templates() {
		trees = append(trees, t.Tree)
	}
	for _, t := range e.text.Templates() {
		trees = append(trees, t.Tree)
	}
	for _, t := range trees {
		if t == nil {
			continue
		}
		walk(t.Root, func(field string) {
			e.needsOrder = e.needsOrder || field == "Order"
			e.needsCheckout = e.needsCheckout || field == "Checkout"
		})
	}
}

// walk calls seen with the first field of every field reference under n:
// "Order" for .Order.Number and for $.Order alike.
func walk(n parse.Node, seen func(field string)) {
	visit(n, func(n parse.Node) {
		switch n := n.(type) {
		case *parse.FieldNode:
			seen(n.Ident[0])
		case *parse.ChainNode:
			// ($).Order or (.).Order: a field of a parenthesized value,
			// counted whatever the value is (errs towards loading).
			if len(n.Field) > 0 {
				seen(n.Field[0])
			}
		case *parse.VariableNode:
			// $.Order, and $d.Order for a $d bound to the data: a variable
			// may hold anything, so counting its first field errs only
			// towards loading the order when it was not needed.
			if len(n.Ident) > 1 {
				seen(n.Ident[1])
			}
		}
	})
}
