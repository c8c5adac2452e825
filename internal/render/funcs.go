package render

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"
)

// callToAction is the argument of the "button" partial, made with
// {{template "button" cta "Shop now" .Links.Shop}}.
type callToAction struct {
	Label string
	URL   string
}

// preheaderPad follows the preview text so that mail clients do not fill the
// rest of the preview with the start of the body: zero-width non-joiners and
// no-break spaces, which show as nothing.
const preheaderPad = htmltemplate.HTML("&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;" +
	"&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;" +
	"&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;")

// funcs returns the functions every template may call:
//
//	money M            a Money written for the store's locale: {{money .Price}}
//	rows N LIST        the products in rows of N, for grids: {{range rows 2 .Products}}
//	lines S            S split at line breaks, blank lines dropped: {{range lines .Store.Address}}
//	truncate N S       S cut to N characters with "…": {{truncate 40 .Title}}
//	cta LABEL URL      the argument of the "button" partial
//	preheaderPad       invisible filler after the preview text (HTML only)
//	card P             product P's "product-card" template (without its
//	                   reason), rendered once per product and kept: {{card .}}
//	storePart NAME D   template NAME with D's StoreView (the store and its
//	                   shop link), rendered once per store and kept
func funcs(money *moneyFormatter) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"money":        money.format,
		"rows":         rows,
		"lines":        splitLines,
		"truncate":     truncate,
		"cta":          func(label, url string) callToAction { return callToAction{Label: label, URL: url} },
		"preheaderPad": func() htmltemplate.HTML { return preheaderPad },
		"card":         noCard,
		"storePart":    noStorePart,
	}
}

// rows splits products into rows of n (n < 1 counts as 1).
func rows(n int, products []Product) [][]Product {
	if n < 1 {
		n = 1
	}
	out := make([][]Product, 0, (len(products)+n-1)/n)
	for len(products) > n {
		out = append(out, products[:n:n])
		products = products[n:]
	}
	if len(products) > 0 {
		out = append(out, products)
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// truncate cuts s to at most n characters, ending with "…" when it cut.
func truncate(n int, s string) string {
	if n < 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
