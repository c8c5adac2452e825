package templates_test

import (
	"io/fs"
	"testing"

	"github.com/remarket/remarket/internal/render"
	"github.com/remarket/remarket/templates"
)

// TestTemplatesCheck is the gate for edits here: every email loads, renders
// with sample and edge-case data, and passes render's checks.
func TestTemplatesCheck(t *testing.T) {
	t.Parallel()
	r, err := render.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Check() {
		t.Error(p)
	}
}

func TestEmbedsEveryEmail(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"cross-sell", "upsell", "replenish", "abandoned-checkout", "browse-abandonment", "win-back", "thank-you"} {
		for _, f := range []string{"subject.txt", "body.html", "body.txt"} {
			if _, err := fs.Stat(templates.FS, name+"/"+f); err != nil {
				t.Errorf("%s/%s: %v", name, f, err)
			}
		}
	}
}
