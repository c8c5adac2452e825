package render

// A program is a template compiled into Go closures for the type of data it
// gets. text/template, which html/template runs after escaping, looks every
// field up by name and calls every function, the escapers too, through
// reflect.Value.Call for every message; a program resolves the fields and
// functions once, when it is compiled, and calls the usual functions
// directly. html/template still parses and escapes: a program is compiled
// from its escaped tree, so it writes what html/template would, byte for
// byte (TestFastMatchesTemplate, FuzzFastMatchesTemplate).
//
// It covers what email templates use: text, actions, if, with, range over
// slices, template calls, fields, $, the functions of the set, the escapers
// of escape.go and the builtins eq, ne, len, not, and, or. A template using
// anything else (variables, maps, methods with arguments, other builtins)
// does not compile, and is executed by text/template as before; so is a
// message whose execution fails or meets a case the program does not cover,
// so that its error is text/template's own.

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"strings"
	"text/template/parse"
)

// program writes a template's output for data of the type it was compiled
// for.
type program struct {
	run  exec
	data reflect.Type
}

// exec writes a node's output; root is $.
type exec func(w *strings.Builder, dot, root reflect.Value) error

// eval computes a pipeline's or an argument's value.
type eval func(dot, root reflect.Value) (reflect.Value, error)

// errUncovered: the program met a case it does not cover, or an error that
// text/template must report in its own words.
var errUncovered = errors.New("render: not covered by the compiled template")

// execute runs p on data; ok is false when text/template must run instead
// (nothing written by p is kept then).
func (p *program) execute(w *strings.Builder, data any) (ok bool) {
	v := reflect.ValueOf(data)
	if p == nil || !v.IsValid() || v.Type() != p.data {
		return false
	}
	defer func() {
		if recover() != nil { // a function panicked: text/template reports it
			ok = false
		}
	}()
	return p.run(w, v, v) == nil
}

// compiler compiles the templates of one set.
type compiler struct {
	lookup func(name string) *parse.Tree
	funcs  map[string]reflect.Value
	html   bool // the set is html/template's: its escapers may be called
	done   map[callKey]*exec
}

type callKey struct {
	name string
	dot  reflect.Type
}

// compileProgram compiles tree for data of type data; nil when the
// template uses something a program does not cover.
func compileProgram(tree *parse.Tree, data reflect.Type, lookup func(string) *parse.Tree, funcs map[string]any, html bool) *program {
	if tree == nil || tree.Root == nil {
		return nil
	}
	c := &compiler{lookup: lookup, funcs: map[string]reflect.Value{}, html: html, done: map[callKey]*exec{}}
	for name, f := range funcs {
		c.funcs[name] = reflect.ValueOf(f)
	}
	run, err := c.list(tree.Root, data, data)
	if err != nil {
		return nil
	}
	return &program{run: run, data: data}
}

var errUnsupported = errors.New("not supported by the template compiler")

func (c *compiler) list(l *parse.ListNode, dot, root reflect.Type) (exec, error) {
	if l == nil {
		return func(*strings.Builder, reflect.Value, reflect.Value) error { return nil }, nil
	}
	steps := make([]exec, 0, len(l.Nodes))
	for _, n := range l.Nodes {
		s, err := c.node(n, dot, root)
		if err != nil {
			return nil, err
		}
		if s != nil {
			steps = append(steps, s)
		}
	}
	if len(steps) == 1 {
		return steps[0], nil
	}
	return func(w *strings.Builder, d, r reflect.Value) error {
		for _, s := range steps {
			if err := s(w, d, r); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func (c *compiler) node(n parse.Node, dot, root reflect.Type) (exec, error) {
	switch n := n.(type) {
	case *parse.TextNode:
		text := string(n.Text)
		return func(w *strings.Builder, _, _ reflect.Value) error { w.WriteString(text); return nil }, nil
	case *parse.CommentNode:
		return nil, nil
	case *parse.ActionNode:
		ev, _, err := c.pipe(n.Pipe, dot, root)
		if err != nil {
			return nil, err
		}
		return func(w *strings.Builder, d, r reflect.Value) error {
			v, err := ev(d, r)
			if err != nil {
				return err
			}
			return printValue(w, v)
		}, nil
	case *parse.IfNode:
		return c.branch(&n.BranchNode, false, dot, root)
	case *parse.WithNode:
		return c.branch(&n.BranchNode, true, dot, root)
	case *parse.RangeNode:
		return c.rangeNode(n, dot, root)
	case *parse.TemplateNode:
		return c.template(n, dot, root)
	}
	return nil, errUnsupported
}

// branch compiles if and with: with runs its list with the value as dot.
func (c *compiler) branch(n *parse.BranchNode, with bool, dot, root reflect.Type) (exec, error) {
	cond, t, err := c.pipe(n.Pipe, dot, root)
	if err != nil {
		return nil, err
	}
	inner := dot
	if with {
		inner = t
	}
	then, otherwise, err := c.lists(n, inner, dot, root)
	if err != nil {
		return nil, err
	}
	return func(w *strings.Builder, d, r reflect.Value) error {
		v, err := cond(d, r)
		if err != nil {
			return err
		}
		truth, ok := isTrue(v)
		if !ok {
			return errUncovered
		}
		switch {
		case truth && with:
			return then(w, v, r)
		case truth:
			return then(w, d, r)
		}
		return otherwise(w, d, r)
	}, nil
}

// lists compiles a branch's list, with inner as dot, and its else list.
func (c *compiler) lists(n *parse.BranchNode, inner, dot, root reflect.Type) (then, otherwise exec, err error) {
	if then, err = c.list(n.List, inner, root); err != nil {
		return nil, nil, err
	}
	if otherwise, err = c.list(n.ElseList, dot, root); err != nil {
		return nil, nil, err
	}
	return then, otherwise, nil
}

func (c *compiler) rangeNode(n *parse.RangeNode, dot, root reflect.Type) (exec, error) {
	list, t, err := c.pipe(n.Pipe, dot, root)
	if err != nil {
		return nil, err
	}
	if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
		return nil, errUnsupported
	}
	body, otherwise, err := c.lists(&n.BranchNode, t.Elem(), dot, root)
	if err != nil {
		return nil, err
	}
	return func(w *strings.Builder, d, r reflect.Value) error {
		v, err := list(d, r)
		if err != nil {
			return err
		}
		if v.Len() == 0 {
			return otherwise(w, d, r)
		}
		for i := range v.Len() {
			if err := body(w, v.Index(i), r); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// template compiles {{template "name" pipeline}}: the called template is
// compiled once per type of dot it gets, and may call itself.
func (c *compiler) template(n *parse.TemplateNode, dot, root reflect.Type) (exec, error) {
	if n.Pipe == nil {
		return nil, errUnsupported
	}
	arg, t, err := c.pipe(n.Pipe, dot, root)
	if err != nil {
		return nil, err
	}
	k := callKey{n.Name, t}
	body, ok := c.done[k]
	if ok && *body == nil {
		// A template that calls itself: text/template stops it at a
		// depth limit with an error; closures would overflow the stack,
		// which no recover catches.
		return nil, errUnsupported
	}
	if !ok {
		tree := c.lookup(n.Name)
		if tree == nil || tree.Root == nil {
			return nil, errUnsupported // e.g. a copy html/template made for another context
		}
		body = new(exec)
		c.done[k] = body
		if *body, err = c.list(tree.Root, t, t); err != nil {
			return nil, err
		}
	}
	return func(w *strings.Builder, d, r reflect.Value) error {
		v, err := arg(d, r)
		if err != nil {
			return err
		}
		return (*body)(w, v, v)
	}, nil
}

// pipe compiles a pipeline: each command gets the value of the one before
// as its last argument. A pipeline that declares variables is refused.
func (c *compiler) pipe(p *parse.PipeNode, dot, root reflect.Type) (eval, reflect.Type, error) {
	if len(p.Decl) > 0 {
		return nil, nil, errUnsupported // variables are not followed
	}
	var ev eval
	var t reflect.Type
	for _, cmd := range p.Cmds {
		next, nt, err := c.command(cmd, dot, root, ev, t)
		if err != nil {
			return nil, nil, err
		}
		ev, t = next, nt
	}
	if ev == nil || t == nil || t.Kind() == reflect.Interface {
		return nil, nil, errUnsupported
	}
	return ev, t, nil
}

// command compiles one command of a pipeline; final is the value of the
// command before it (nil for the first).
func (c *compiler) command(cmd *parse.CommandNode, dot, root reflect.Type, final eval, finalT reflect.Type) (eval, reflect.Type, error) {
	switch n := cmd.Args[0].(type) {
	case *parse.IdentifierNode:
		return c.call(n.Ident, cmd.Args[1:], dot, root, final, finalT)
	case *parse.FieldNode:
		if len(cmd.Args) > 1 || final != nil {
			return nil, nil, errUnsupported
		}
		return fieldChain(func(d, _ reflect.Value) (reflect.Value, error) { return d, nil }, dot, n.Ident)
	case *parse.VariableNode:
		if len(cmd.Args) > 1 || final != nil || n.Ident[0] != "$" {
			return nil, nil, errUnsupported
		}
		return fieldChain(func(_, r reflect.Value) (reflect.Value, error) { return r, nil }, root, n.Ident[1:])
	case *parse.DotNode:
		if len(cmd.Args) > 1 || final != nil {
			return nil, nil, errUnsupported
		}
		return func(d, _ reflect.Value) (reflect.Value, error) { return d, nil }, dot, nil
	case *parse.PipeNode:
		if len(cmd.Args) > 1 || final != nil {
			return nil, nil, errUnsupported
		}
		return c.pipe(n, dot, root)
	case *parse.StringNode:
		if len(cmd.Args) > 1 || final != nil {
			return nil, nil, errUnsupported
		}
		return c.arg(n, nil, dot, root)
	}
	return nil, nil, errUnsupported
}

// fieldChain compiles .A.B.C from the value from gives, of type t.
func fieldChain(from eval, t reflect.Type, names []string) (eval, reflect.Type, error) {
	ev := from
	for _, name := range names {
		if t == nil {
			return nil, nil, errUnsupported
		}
		base := t
		if base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		// text/template prefers a method to a field; one on *T it finds
		// only when the value is addressable, which is not followed here.
		if m, ok := base.MethodByName(name); ok {
			if ev, t, ok = method(ev, t.Kind() == reflect.Pointer, m); !ok {
				return nil, nil, errUnsupported
			}
			continue
		}
		if _, ok := reflect.PointerTo(base).MethodByName(name); ok {
			return nil, nil, errUnsupported
		}
		if base.Kind() != reflect.Struct {
			return nil, nil, errUnsupported
		}
		f, ok := base.FieldByName(name)
		if !ok || !f.IsExported() || len(f.Index) != 1 || f.Type.Kind() == reflect.Interface {
			return nil, nil, errUnsupported
		}
		prev, i, ptr := ev, f.Index[0], t.Kind() == reflect.Pointer
		ev = func(d, r reflect.Value) (reflect.Value, error) {
			v, err := prev(d, r)
			if err != nil {
				return v, err
			}
			if ptr {
				if v.IsNil() {
					return v, errUncovered // text/template: "nil pointer evaluating"
				}
				v = v.Elem()
			}
			return v.Field(i), nil
		}
		t = f.Type
	}
	return ev, t, nil
}

// method compiles a call of m, a method without arguments of the value
// from gives (through its pointer when ptr), as in {{.Total}}.
func method(from eval, ptr bool, m reflect.Method) (eval, reflect.Type, bool) {
	mt := m.Type // its first parameter is the receiver
	if mt.NumIn() != 1 || mt.NumOut() == 0 || mt.NumOut() > 2 || (mt.NumOut() == 2 && mt.Out(1) != errorType) ||
		mt.Out(0).Kind() == reflect.Interface {
		return nil, nil, false
	}
	return func(d, r reflect.Value) (reflect.Value, error) {
		v, err := from(d, r)
		if err != nil {
			return v, err
		}
		if ptr {
			if v.IsNil() {
				return v, errUncovered
			}
			v = v.Elem()
		}
		res := v.Method(m.Index).Call(nil)
		if len(res) == 2 && !res[1].IsNil() {
			return reflect.Value{}, errUncovered
		}
		return res[0], nil
	}, mt.Out(0), true
}

// call compiles a function call: the set's function of that name, else an
// escaper or a builtin.
func (c *compiler) call(name string, args []parse.Node, dot, root reflect.Type, final eval, finalT reflect.Type) (eval, reflect.Type, error) {
	if fn, ok := c.funcs[name]; ok {
		return c.callFunc(fn, args, dot, root, final, finalT)
	}
	if esc, ok := escapers[name]; ok && c.html {
		evs, err := c.anyArgs(args, dot, root, final, finalT)
		if err != nil {
			return nil, nil, err
		}
		return func(d, r reflect.Value) (reflect.Value, error) {
			vals, err := evalAll(evs, d, r)
			if err != nil {
				return reflect.Value{}, err
			}
			s, ok := esc(vals)
			if !ok {
				return reflect.Value{}, errUncovered
			}
			return reflect.ValueOf(s), nil
		}, stringType, nil
	}
	return c.builtin(name, args, dot, root, final, finalT)
}

// anyArgs compiles the arguments of a function taking ...any.
func (c *compiler) anyArgs(args []parse.Node, dot, root reflect.Type, final eval, finalT reflect.Type) ([]eval, error) {
	var evs []eval
	for _, a := range args {
		ev, _, err := c.arg(a, nil, dot, root)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	if final != nil {
		if finalT.Kind() == reflect.Interface {
			return nil, errUnsupported
		}
		evs = append(evs, final)
	}
	return evs, nil
}

func evalAll(evs []eval, d, r reflect.Value) ([]reflect.Value, error) {
	vals := make([]reflect.Value, len(evs))
	for i, ev := range evs {
		v, err := ev(d, r)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return vals, nil
}

// arg compiles an argument for a parameter of type want (nil: any, where
// text/template gives constants their natural type).
func (c *compiler) arg(n parse.Node, want reflect.Type, dot, root reflect.Type) (eval, reflect.Type, error) {
	switch n := n.(type) {
	case *parse.DotNode, *parse.FieldNode, *parse.VariableNode, *parse.PipeNode, *parse.IdentifierNode:
		// An argument evaluates as a command of its own would.
		return c.command(&parse.CommandNode{NodeType: parse.NodeCommand, Args: []parse.Node{n}}, dot, root, nil, nil)
	case *parse.StringNode:
		if want != nil && want.Kind() != reflect.String {
			return nil, nil, errUnsupported
		}
		t := stringType
		if want != nil {
			t = want
		}
		v := reflect.New(t).Elem()
		v.SetString(n.Text)
		return func(reflect.Value, reflect.Value) (reflect.Value, error) { return v, nil }, t, nil
	case *parse.NumberNode:
		// Only plain decimal integers: text/template makes them an int
		// when nothing says otherwise.
		if !n.IsInt || strings.Trim(n.Text, "0123456789") != "" || n.Int64 != int64(int(n.Int64)) {
			return nil, nil, errUnsupported
		}
		t := reflect.TypeFor[int]()
		if want != nil {
			if k := want.Kind(); k < reflect.Int || k > reflect.Int64 {
				return nil, nil, errUnsupported
			}
			t = want
		}
		v := reflect.New(t).Elem()
		if v.OverflowInt(n.Int64) {
			return nil, nil, errUnsupported
		}
		v.SetInt(n.Int64)
		return func(reflect.Value, reflect.Value) (reflect.Value, error) { return v, nil }, t, nil
	case *parse.BoolNode:
		if want != nil && want.Kind() != reflect.Bool {
			return nil, nil, errUnsupported
		}
		v := reflect.ValueOf(n.True)
		return func(reflect.Value, reflect.Value) (reflect.Value, error) { return v, nil }, v.Type(), nil
	}
	return nil, nil, errUnsupported
}

// callFunc compiles a call of one of the set's functions. The arguments'
// types must be the parameters' own (or any), as they are in templates
// that pass fields and constants; anything text/template would convert is
// left to it.
func (c *compiler) callFunc(fn reflect.Value, args []parse.Node, dot, root reflect.Type, final eval, finalT reflect.Type) (eval, reflect.Type, error) {
	ft := fn.Type()
	if ft.IsVariadic() || ft.NumOut() == 0 || ft.NumOut() > 2 || (ft.NumOut() == 2 && ft.Out(1) != errorType) {
		return nil, nil, errUnsupported
	}
	n := len(args)
	if final != nil {
		n++
	}
	if n != ft.NumIn() {
		return nil, nil, errUnsupported
	}
	evs := make([]eval, 0, n)
	for i, a := range args {
		ev, t, err := c.arg(a, ft.In(i), dot, root)
		if err != nil {
			return nil, nil, err
		}
		if !fits(t, ft.In(i)) {
			return nil, nil, errUnsupported
		}
		evs = append(evs, ev)
	}
	if final != nil {
		if !fits(finalT, ft.In(n-1)) {
			return nil, nil, errUnsupported
		}
		evs = append(evs, final)
	}
	out := ft.Out(0)
	if out.Kind() == reflect.Interface {
		return nil, nil, errUnsupported
	}
	do := directCall(fn)
	if do == nil {
		do = func(args []reflect.Value) (reflect.Value, error) {
			res := fn.Call(args)
			if len(res) == 2 && !res[1].IsNil() {
				return reflect.Value{}, errUncovered
			}
			return res[0], nil
		}
	}
	return func(d, r reflect.Value) (reflect.Value, error) {
		vals, err := evalAll(evs, d, r)
		if err != nil {
			return reflect.Value{}, err
		}
		return do(vals)
	}, out, nil
}

// fits reports whether a value of type t passes to a parameter of type p
// unchanged.
func fits(t, p reflect.Type) bool {
	return t == p || (p.Kind() == reflect.Interface && t.Kind() != reflect.Interface && t.Implements(p))
}

// directCall calls the functions every email uses without
// reflect.Value.Call; nil for others.
func directCall(fn reflect.Value) func([]reflect.Value) (reflect.Value, error) {
	switch f := fn.Interface().(type) {
	case func(Money) string:
		return func(a []reflect.Value) (reflect.Value, error) {
			return reflect.ValueOf(f(must[Money](a[0]))), nil
		}
	case func(Product) (htmltemplate.HTML, error):
		return func(a []reflect.Value) (reflect.Value, error) {
			return result(f(must[Product](a[0])))
		}
	case func(Product) (string, error):
		return func(a []reflect.Value) (reflect.Value, error) {
			return result(f(must[Product](a[0])))
		}
	case func(string, Data) (htmltemplate.HTML, error):
		return func(a []reflect.Value) (reflect.Value, error) {
			return result(f(a[0].String(), must[Data](a[1])))
		}
	case func(string, Data) (string, error):
		return func(a []reflect.Value) (reflect.Value, error) {
			return result(f(a[0].String(), must[Data](a[1])))
		}
	case func(string, string) callToAction:
		return func(a []reflect.Value) (reflect.Value, error) {
			return reflect.ValueOf(f(a[0].String(), a[1].String())), nil
		}
	case func() htmltemplate.HTML:
		return func([]reflect.Value) (reflect.Value, error) { return reflect.ValueOf(f()), nil }
	case func(int, []Product) [][]Product:
		return func(a []reflect.Value) (reflect.Value, error) {
			return reflect.ValueOf(f(int(a[0].Int()), must[[]Product](a[1]))), nil
		}
	}
	return nil
}

// must is v's value as a T; the compiler checked the type.
func must[T any](v reflect.Value) T {
	x, ok := reflect.TypeAssert[T](v)
	if !ok {
		panic(fmt.Sprintf("render: %s is not %T", v.Type(), x))
	}
	return x
}

func result[T any](v T, err error) (reflect.Value, error) {
	if err != nil {
		return reflect.Value{}, errUncovered
	}
	return reflect.ValueOf(v), nil
}

// builtin compiles eq, ne, len, not, and and or, for the types they take
// in templates; other builtins are left to text/template.
func (c *compiler) builtin(name string, args []parse.Node, dot, root reflect.Type, final eval, finalT reflect.Type) (eval, reflect.Type, error) {
	evs, types, err := c.builtinArgs(args, dot, root, final, finalT)
	if err != nil {
		return nil, nil, err
	}
	boolType := reflect.TypeFor[bool]()
	switch {
	case (name == "eq" || name == "ne") && len(evs) == 2:
		cmp := comparer(types[0], types[1])
		if cmp == nil {
			return nil, nil, errUnsupported
		}
		want := name == "eq"
		return func(d, r reflect.Value) (reflect.Value, error) {
			vals, err := evalAll(evs, d, r)
			if err != nil {
				return reflect.Value{}, err
			}
			return reflect.ValueOf(cmp(vals[0], vals[1]) == want), nil
		}, boolType, nil
	case name == "len" && len(evs) == 1:
		switch types[0].Kind() {
		case reflect.Slice, reflect.Array, reflect.String, reflect.Map:
		default:
			return nil, nil, errUnsupported
		}
		return func(d, r reflect.Value) (reflect.Value, error) {
			v, err := evs[0](d, r)
			if err != nil {
				return v, err
			}
			return reflect.ValueOf(v.Len()), nil
		}, reflect.TypeFor[int](), nil
	case name == "not" && len(evs) == 1:
		return func(d, r reflect.Value) (reflect.Value, error) {
			v, err := evs[0](d, r)
			if err != nil {
				return v, err
			}
			truth, ok := isTrue(v)
			if !ok {
				return v, errUncovered
			}
			return reflect.ValueOf(!truth), nil
		}, boolType, nil
	case (name == "and" || name == "or") && len(evs) >= 2:
		for _, t := range types[1:] {
			if t != types[0] {
				return nil, nil, errUnsupported
			}
		}
		stopOn := name == "or" // and stops at the first false value, or at the first true
		args, piped := evs, final != nil
		if piped {
			args = evs[:len(evs)-1]
		}
		return func(d, r reflect.Value) (reflect.Value, error) {
			// The piped value is the command before: text/template has
			// evaluated it (and met its errors) before and or or
			// short-circuits; it is their last argument.
			var last reflect.Value
			if piped {
				var err error
				if last, err = final(d, r); err != nil {
					return last, err
				}
			}
			var v reflect.Value
			for _, ev := range args {
				var err error
				if v, err = ev(d, r); err != nil {
					return v, err
				}
				truth, ok := isTrue(v)
				if !ok {
					return v, errUncovered
				}
				if truth == stopOn {
					return v, nil
				}
			}
			if piped {
				return last, nil
			}
			return v, nil
		}, types[0], nil
	}
	return nil, nil, errUnsupported
}

func (c *compiler) builtinArgs(args []parse.Node, dot, root reflect.Type, final eval, finalT reflect.Type) ([]eval, []reflect.Type, error) {
	var evs []eval
	var types []reflect.Type
	for _, a := range args {
		ev, t, err := c.arg(a, nil, dot, root)
		if err != nil {
			return nil, nil, err
		}
		evs, types = append(evs, ev), append(types, t)
	}
	if final != nil {
		evs, types = append(evs, final), append(types, finalT)
	}
	for _, t := range types {
		if t.Kind() == reflect.Interface || t.Kind() == reflect.Pointer {
			return nil, nil, errUnsupported
		}
	}
	return evs, types, nil
}

// comparer compares two values as eq does, for the kinds where that is
// plain equality: signed integers with signed integers, strings with
// strings, booleans with booleans.
func comparer(a, b reflect.Type) func(x, y reflect.Value) bool {
	isInt := func(k reflect.Kind) bool { return k >= reflect.Int && k <= reflect.Int64 }
	switch ka, kb := a.Kind(), b.Kind(); {
	case isInt(ka) && isInt(kb):
		return func(x, y reflect.Value) bool { return x.Int() == y.Int() }
	case ka == reflect.String && kb == reflect.String:
		return func(x, y reflect.Value) bool { return x.String() == y.String() }
	case ka == reflect.Bool && kb == reflect.Bool:
		return func(x, y reflect.Value) bool { return x.Bool() == y.Bool() }
	}
	return nil
}

// isTrue is text/template's truth: a non-zero number, a non-empty string,
// slice or map, a non-nil pointer, any struct.
func isTrue(v reflect.Value) (truth, ok bool) {
	if !v.IsValid() {
		return false, true
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0, true
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Complex64, reflect.Complex128:
		return v.Complex() != 0, true
	case reflect.Chan, reflect.Func, reflect.Pointer, reflect.UnsafePointer, reflect.Interface:
		return !v.IsNil(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() != 0, true
	case reflect.Float32, reflect.Float64:
		return v.Float() != 0, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() != 0, true
	case reflect.Struct:
		return true, true
	}
	return false, false
}

// printValue writes v as text/template prints an action's value: a string
// as it is, anything else with fmt.Fprint, as text/template does.
func printValue(w *strings.Builder, v reflect.Value) error {
	if !v.IsValid() {
		return errUncovered // "<no value>"
	}
	t := v.Type()
	if t.Kind() == reflect.String && t.NumMethod() == 0 && reflect.PointerTo(t).NumMethod() == 0 {
		w.WriteString(v.String())
		return nil
	}
	if t.Kind() == reflect.Pointer || t.Kind() == reflect.Chan || t.Kind() == reflect.Func ||
		reflect.PointerTo(t).Implements(stringerType) || reflect.PointerTo(t).Implements(errorType) {
		return errUncovered // text/template's printableValue has its own rules for these
	}
	fmt.Fprint(w, v.Interface())
	return nil
}
