package render

import (
	"testing"

	"github.com/vanng822/go-premailer/premailer"
)

// BenchmarkRender is the cost of one message: the CSS was inlined when the
// templates loaded.
func BenchmarkRender(b *testing.B) {
	r := loadEmbedded(b)
	d := SampleData("cross-sell")
	if _, err := r.Render("cross-sell", d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render("cross-sell", d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInlineEachTime is the naive way, for comparison: render with the
// stylesheet in a <style> element, then run premailer on every message.
func BenchmarkInlineEachTime(b *testing.B) {
	r, err := load("", loadOptions{noInline: true})
	if err != nil {
		b.Fatal(err)
	}
	d := SampleData("cross-sell")
	b.ReportAllocs()
	for b.Loop() {
		m, err := r.Render("cross-sell", d)
		if err != nil {
			b.Fatal(err)
		}
		pm, err := premailer.NewPremailerFromString(m.HTML, premailer.NewOptions())
		if err != nil {
			b.Fatal(err)
		}
		if m.HTML, err = pm.Transform(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is the one-off cost: read, inline and parse every template.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(""); err != nil {
			b.Fatal(err)
		}
	}
}
