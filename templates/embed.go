// Package templates holds remarket's email templates as files, embedded in
// the binary. The render package loads them (see render.Load); this package
// only exposes the files.
//
// Layout (every path is relative to this folder):
//
//	style.css              the stylesheet, inlined into style attributes when the templates load
//	layout.html            the HTML document around every email: head, preheader, header, content, footer
//	layout.txt             the plain-text counterpart
//	partials/NAME.html     HTML pieces called as {{template "NAME" .}} (header, footer, products, lines, button, greeting)
//	partials/NAME.txt      plain-text pieces, same names
//	EMAIL/subject.txt      one line, text/template
//	EMAIL/body.html        the HTML content, html/template; may {{define "preheader"}}
//	EMAIL/body.txt         the plain-text content, text/template
//
// README.md beside this file tells designers what the templates can use.
package templates

import "embed"

// FS holds every template file under the paths listed in the package doc.
//
//go:embed style.css layout.html layout.txt partials/*.html partials/*.txt */subject.txt */body.html */body.txt
var FS embed.FS
