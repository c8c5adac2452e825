package render

// Checks on the parse trees that Load runs before any email is rendered,
// for what would fail only at send time, slowly or fatally.

import (
	htmltemplate "html/template"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
)

// checkSets runs checkRecursion on an email's subject, HTML and text
// templates, and checkKeptParts on the HTML and text: the first problem
// found, or nil.
func checkSets(subject *texttemplate.Template, h *htmltemplate.Template, t *texttemplate.Template) *Problem {
	htmlNames, htmlTrees := sortedTrees(h.Templates(), (*htmltemplate.Template).Name, func(x *htmltemplate.Template) *parse.Tree { return x.Tree })
	textNames, txtTrees := sortedTrees(t.Templates(), (*texttemplate.Template).Name, func(x *texttemplate.Template) *parse.Tree { return x.Tree })
	var subjectProblem *Problem // none to look for if subject.txt did not parse
	if subject != nil {
		subjectProblem = subjectRecursion(subject)
	}
	for _, p := range []*Problem{
		subjectProblem, checkRecursion(htmlNames, htmlLookup(h)), checkRecursion(textNames, textLookup(t)),
		checkKeptParts(htmlTrees, htmlLookup(h)), checkKeptParts(txtTrees, textLookup(t)),
	} {
		if p != nil {
			return p
		}
	}
	return nil
}

// subjectRecursion runs checkRecursion on a subject line's templates:
// subject.txt's when Load reads it, an operator's when it is first parsed.
func subjectRecursion(subject *texttemplate.Template) *Problem {
	names, _ := sortedTrees(subject.Templates(), (*texttemplate.Template).Name, func(x *texttemplate.Template) *parse.Tree { return x.Tree })
	return checkRecursion(names, textLookup(subject))
}

// sortedTrees returns a set's template names, sorted so that the same
// problem is reported whatever the map order, and their trees.
func sortedTrees[T any](set []T, name func(T) string, tree func(T) *parse.Tree) ([]string, []*parse.Tree) {
	slices.SortFunc(set, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	names, trees := make([]string, len(set)), make([]*parse.Tree, len(set))
	for i, x := range set {
		names[i], trees[i] = name(x), tree(x)
	}
	return names, trees
}

// checkKeptParts refuses a kept part (product-card, or a template named in
// {{storePart "NAME" .}}) that calls card or storePart, itself or through a
// template it includes. A product-card calling card renders itself without
// end, and Go's stack overflow ends the process rather than failing one
// message; a store part cannot call storePart usefully (its data is a
// StoreView, not Data). And partCache's lock assumes a kept part never
// renders another while it is being kept. It returns nil, or a problem
// naming the part, its file and line.
func checkKeptParts(trees []*parse.Tree, lookup func(string) *parse.Tree) *Problem {
	parts := []string{"product-card"}
	for _, t := range trees {
		if t == nil {
			continue
		}
		visit(t.Root, func(n parse.Node) {
			cmd, ok := n.(*parse.CommandNode)
			if !ok || len(cmd.Args) < 2 {
				return
			}
			if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok && id.Ident == "storePart" {
				if s, ok := cmd.Args[1].(*parse.StringNode); ok {
					parts = append(parts, s.Text)
				}
			}
		})
	}
	for _, p := range parts {
		if fn, at := callsPart(lookup, p, map[string]bool{}); fn != "" {
			return problemAt(at, p, "calls "+fn+": a part rendered once and kept (product-card, or a storePart template) cannot call card or storePart")
		}
	}
	return nil
}

// callsPart returns "card" or "storePart" if template name calls it,
// itself or through the templates it includes, and where; "" if not.
func callsPart(lookup func(string) *parse.Tree, name string, seen map[string]bool) (string, nodeAt) {
	t := lookup(name)
	if seen[name] || t == nil {
		return "", nodeAt{}
	}
	seen[name] = true
	found, at := "", nodeAt{}
	visit(t.Root, func(n parse.Node) {
		if found != "" {
			return
		}
		switch n := n.(type) {
		case *parse.IdentifierNode:
			if n.Ident == "card" || n.Ident == "storePart" {
				found, at = n.Ident, nodeAt{t, n}
			}
		case *parse.TemplateNode:
			found, at = callsPart(lookup, n.Name, seen)
		}
	})
	return found, at
}

// checkRecursion refuses a template that calls itself, directly or
// through others: email data has no depth to stop it, so html/template
// would stop it only at a depth of 100,000, after seconds and hundreds of
// megabytes, for every message.
func checkRecursion(names []string, lookup func(string) *parse.Tree) *Problem {
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var found *Problem
	var dfs func(name string, path []string)
	dfs = func(name string, path []string) {
		t := lookup(name)
		if t == nil || found != nil {
			return
		}
		state[name] = open
		path = append(path, name)
		visit(t.Root, func(n parse.Node) {
			call, ok := n.(*parse.TemplateNode)
			if !ok || found != nil {
				return
			}
			switch state[call.Name] {
			case open:
				loop := append(path[slices.Index(path, call.Name):], call.Name)
				found = problemAt(nodeAt{t, call}, name, "calls itself ("+strings.Join(loop, " → ")+
					"): a template cannot call itself")
			case unseen:
				dfs(call.Name, path)
			}
		})
		state[name] = done
	}
	for _, name := range names {
		if state[name] == unseen {
			dfs(name, nil)
		}
	}
	return found
}

// nodeAt is a node and the tree it is in, for its file and line.
type nodeAt struct {
	tree *parse.Tree
	node parse.Node
}

// problemAt is a Problem at a node: its file, line and the template.
func problemAt(at nodeAt, field, message string) *Problem {
	p := &Problem{Field: field, Message: message}
	if at.tree == nil {
		return p
	}
	p.File = at.tree.ParseName
	if loc, _ := at.tree.ErrorContext(at.node); loc != "" {
		// loc is "file:line:column".
		parts := strings.Split(loc, ":")
		if len(parts) >= 3 {
			p.Line, _ = strconv.Atoi(parts[len(parts)-2])
		}
	}
	return p
}

// visit calls f with n and every node under it.
func visit(n parse.Node, f func(parse.Node)) {
	f(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				visit(c, f)
			}
		}
	case *parse.ActionNode:
		visit(n.Pipe, f)
	case *parse.IfNode:
		visitBranch(&n.BranchNode, f)
	case *parse.RangeNode:
		visitBranch(&n.BranchNode, f)
	case *parse.WithNode:
		visitBranch(&n.BranchNode, f)
	case *parse.TemplateNode:
		visit(n.Pipe, f)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				visit(c, f)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			visit(a, f)
		}
	case *parse.ChainNode:
		visit(n.Node, f)
	}
}

func visitBranch(b *parse.BranchNode, f func(parse.Node)) {
	visit(b.Pipe, f)
	visit(b.List, f)
	visit(b.ElseList, f)
}
