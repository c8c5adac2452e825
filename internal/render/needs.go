package render

import (
	texttemplate "text/template"
	"text/template/parse"
)

// Needs says which optional parts of Data the email name reads, with
// subject as its subject line ("" for its own subject.txt, else an
// operator's, which replaces it): the triggering order (.Order) and the
// abandoned checkout (.Checkout). Senders load those from the database only
// for emails that show them, so a cross-sell campaign does not fetch every
// recipient's last order. A name Names does not list needs nothing; a
// subject that does not parse reads nothing. Load works out each email's
// own needs once; an operator's subject is read from its cached parse.
func (r *Renderer) Needs(name, subject string) (order, checkout bool) {
	p := r.protos[name]
	if p == nil {
		return false, false
	}
	s := p.subjectNeeds
	if subject != "" {
		s = needs{}
		if t, err := r.subjects.get(subject, ""); err == nil {
			s = needsOf(textTrees(t)...)
		}
	}
	return p.bodyNeeds.order || s.order, p.bodyNeeds.checkout || s.checkout
}

// needs is what templates read of the optional data.
type needs struct{ order, checkout bool }

// needsOf reads the trees for .Order and .Checkout.
func needsOf(trees ...*parse.Tree) needs {
	var n needs
	for _, t := range trees {
		if t == nil {
			continue
		}
		walk(t.Root, func(field string) {
			n.order = n.order || field == "Order"
			n.checkout = n.checkout || field == "Checkout"
		})
	}
	return n
}

// findNeeds sets what Needs reports from the parse trees of e's templates
// and everything they include: the bodies apart from the subject, which an
// operator's subject line replaces.
func (e *email) findNeeds() {
	body := textTrees(e.text)
	for _, t := range e.html.Templates() {
		body = append(body, t.Tree)
	}
	e.bodyNeeds, e.subjectNeeds = needsOf(body...), needsOf(textTrees(e.subject)...)
}

// textTrees returns the parse trees of every template a set defines: walk
// does not follow {{template}} calls, so a set is read whole.
func textTrees(set *texttemplate.Template) []*parse.Tree {
	var out []*parse.Tree
	for _, t := range set.Templates() {
		out = append(out, t.Tree)
	}
	return out
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
